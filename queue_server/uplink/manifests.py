"""Manifests from the city hub: pull, verify, apply atomically, keep the last good one.

:func:`pull` reads the hub's index (``GET /manifests``), and for each kind whose newest
version is not the one this hall holds, fetches it by content hash, checks it
(:func:`yichuang.citylink.verify_manifest`: the hub's key, the signature, the content hash)
and that it is what the index named and **newer** than the last good one. Then the kind's
apply hook runs (its own transaction, e.g. :func:`~queue_server.queue.hall_config.import_hall`
for ``service_catalogue``) and the manifest becomes the last good one. Anything refused —
a bad signature, an altered content, an older version, a hook that fails — leaves the last
good one in place, is logged once in ``uplink_manifest_log``, audited, and reported to the
hub with the next batch.

Hooks: ``service_catalogue`` (here), ``licence_trust_list`` (the licences capability),
``rule_set`` (秒批: ``queue_server/approvals/manifest.py``), ``evaluation_reasons`` (好差评:
``queue_server/evaluations/manifest.py``). A kind with no hook is verified and kept as
``stored``: :func:`current` hands its content to whoever asks. A refusal's reason says what
the hook found wrong (:func:`refusal_reason`).

A capability registers its kind where it is always imported (its ``schema.py``)::

    from queue_server.uplink.manifests import manifest_kind

    @manifest_kind("rule_set")
    def apply_rule_set(db, content):   # one transaction; raise to refuse
        ...
        return {"rules": n}
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlite_utils import Database

from queue_server.audit.chain import append
from queue_server.audit.records import AuditRecord, record_type
from queue_server.db import write_tx
from queue_server.queue.hall_config import import_hall
from yichuang import citylink

log = logging.getLogger("queue_server.uplink")

Applier = Callable[[Database, Any], Any]
#: kind → how to apply its content (one transaction; raise to refuse).
APPLIERS: dict[str, Applier] = {}


def manifest_kind(kind: str) -> Callable[[Applier], Applier]:
    """Decorator: register how a manifest kind is applied in the hall."""

    def register(fn: Applier) -> Applier:
        APPLIERS[kind] = fn
        return fn

    return register


@manifest_kind("service_catalogue")
def _apply_catalogue(db: Database, content: Any) -> Any:
    return import_hall(db, content, actor="uplink")


@record_type
@dataclass(frozen=True)
class ManifestApplied(AuditRecord):
    """A manifest from the city hub was applied (a hook ran), stored (no hook for its kind
    yet) or refused (``reason``: bad_signature, bad_hash, wrong_key, bad_shape, older_version,
    not_as_indexed, apply_failed …)."""

    kind: ClassVar[str] = "manifest.applied"
    manifest_kind: str
    version: int
    content_hash: str
    result: str
    reason: str = ""


def current(db: Database, kind: str) -> Any | None:
    """The content of the last good manifest of ``kind`` (None when there is none)."""
    row = db.conn.execute("SELECT body FROM uplink_manifests WHERE kind = ?", (kind,)).fetchone()
    return json.loads(row[0])["content"] if row else None


def current_manifest(db: Database, kind: str) -> dict[str, Any] | None:
    """The last good manifest of ``kind`` as the hub signed it (None when there is none):
    what a verifier elsewhere can check again with the hub's public key."""
    row = db.conn.execute("SELECT body FROM uplink_manifests WHERE kind = ?", (kind,)).fetchone()
    return dict(json.loads(row[0])) if row else None


def held(db: Database) -> dict[str, dict[str, Any]]:
    return {r[0]: {"version": r[1], "content_hash": r[2], "result": r[3], "applied_at": r[4]}
            for r in db.conn.execute("SELECT kind, version, content_hash, result, applied_at FROM uplink_manifests")}


def _log(db: Database, kind: str, version: int, chash: str, result: str, reason: str = "",
         body: dict[str, Any] | None = None) -> bool:
    """Log (once) and audit a result; with ``body`` also make it the last good one."""
    with write_tx(db) as c:
        cur = c.execute("INSERT OR IGNORE INTO uplink_manifest_log (at, kind, version, content_hash, result, reason) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (time.time(), kind, version, chash, result, reason))
        if body is not None:
            c.execute("INSERT INTO uplink_manifests (kind, version, content_hash, body, result, applied_at) "
                      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind) DO UPDATE SET version = excluded.version, "
                      "content_hash = excluded.content_hash, body = excluded.body, result = excluded.result, "
                      "applied_at = excluded.applied_at",
                      (kind, version, chash, json.dumps(body, ensure_ascii=False), result, time.time()))
        if cur.rowcount:
            append(c, ManifestApplied(manifest_kind=kind, version=version, content_hash=chash, result=result,
                                      reason=reason), actor="uplink")
    return bool(cur.rowcount)


def refusal_reason(exc: Exception) -> str:
    """``apply_failed: <code> (<what was wrong>)`` of a hook's exception, at most 200
    characters: its ``problems`` (a hook's list), else its English message."""
    code = str(getattr(exc, "code", "") or type(exc).__name__)
    problems = getattr(exc, "problems", None)
    detail = "; ".join(str(p) for p in problems) if problems else str(getattr(exc, "en", "") or "")
    reason = f"apply_failed: {code}" + (f" ({detail})" if detail else "")
    return reason if len(reason) <= 200 else reason[:199] + "…"


def accept(db: Database, hub_key: str, m: Any, *, expect: dict[str, Any] | None = None) -> str:
    """Verify and apply one manifest; returns ``applied``, ``stored``, ``unchanged`` or
    ``refused:<reason>``."""
    kind = str(m.get("kind", "")) if isinstance(m, dict) else ""
    version: int = m["version"] if isinstance(m, dict) and isinstance(m.get("version"), int) else 0
    chash = str(m.get("content_hash", "")) if isinstance(m, dict) else ""
    if expect is not None:
        kind, version, chash = expect["kind"], int(expect["version"]), str(expect["content_hash"])
    try:
        citylink.verify_manifest(hub_key, m)
    except citylink.ManifestError as exc:
        _log(db, kind, version, chash, "refused", exc.reason)
        return f"refused:{exc.reason}"
    if expect is not None and (m["kind"], m["version"], m["content_hash"]) != (kind, version, chash):
        _log(db, kind, version, chash, "refused", "not_as_indexed")
        return "refused:not_as_indexed"
    have = held(db).get(kind)
    if have is not None:
        if have["version"] == version and have["content_hash"] == chash:
            return "unchanged"
        if version <= have["version"]:
            _log(db, kind, version, chash, "refused", "older_version")
            return "refused:older_version"
    hook = APPLIERS.get(kind)
    result = "stored"
    if hook is not None:
        try:
            hook(db, m["content"])
            result = "applied"
        except Exception as exc:  # the hook refused the content: keep the last good one
            reason = refusal_reason(exc)
            log.warning("manifest %s v%s refused: %s", kind, version, reason)
            _log(db, kind, version, chash, "refused", reason)
            return f"refused:{reason}"
    _log(db, kind, version, chash, result, body=m)
    return result


def pull(db: Database, get: Callable[[str], Any], hub_key: str) -> dict[str, str]:
    """One look at the hub's manifests; ``get(path)`` returns parsed JSON or raises.
    Returns kind → outcome."""
    index = get("/manifests")
    out: dict[str, str] = {}
    have = held(db)
    for entry in index.get("manifests", []):
        kind, version, chash = entry.get("kind"), entry.get("version"), entry.get("content_hash")
        if not isinstance(kind, str) or not isinstance(version, int) or not isinstance(chash, str):
            continue
        mine = have.get(kind)
        if mine is not None and mine["version"] == version and mine["content_hash"] == chash:
            out[kind] = "unchanged"
            continue
        if mine is not None and version < mine["version"]:
            _log(db, kind, version, chash, "refused", "older_version")
            out[kind] = "refused:older_version"
            continue
        seen = db.conn.execute("SELECT 1 FROM uplink_manifest_log WHERE kind = ? AND version = ? AND content_hash = ? "
                               "AND result = 'refused'", (kind, version, chash)).fetchone()
        if seen:  # refused before: do not fetch it again and again
            out[kind] = "refused:seen"
            continue
        out[kind] = accept(db, hub_key, get(f"/manifests/{chash}"), expect=entry)
    return out


def unreported(db: Database, limit: int = 50) -> list[dict[str, Any]]:
    return [{"id": r[0], "at": r[1], "kind": r[2], "version": r[3], "content_hash": r[4], "result": r[5],
             "reason": r[6]}
            for r in db.conn.execute("SELECT id, at, kind, version, content_hash, result, reason "
                                     "FROM uplink_manifest_log WHERE reported = 0 ORDER BY id LIMIT ?", (limit,))]


def mark_reported(db: Database, ids: list[int]) -> None:
    if ids:
        with write_tx(db) as c:
            c.executemany("UPDATE uplink_manifest_log SET reported = 1 WHERE id = ?", [(i,) for i in ids])
