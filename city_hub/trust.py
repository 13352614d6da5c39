"""The city's licence trust list: every hall's e-licence keys and revocations, signed by the
hub and sent down to every hall, so that a licence shown in hall A verifies in hall B.

Up: each batch of a hall may carry the optional part ``licence_trust`` (its public token
keys as ``GET /api/licences/keys`` lists them, and the presentation handles whose licence
was revoked, superseded or expired, while their tokens could still pass the time check).
:func:`store_report` keeps the hall's newest report (``hall_trust``), checked with
:func:`yichuang.citylink.check_licence_trust`; a malformed report is refused alone — the
batch's events are stored as usual — and logged once in ``ingest_log`` (``bad_licence_trust``).

Down: :func:`publish_if_changed` assembles ``{"format": 1, "generated_at", "halls": [{"hall",
"name", "keys", "revoked"}]}`` from the reports and publishes it as the next version of the
manifest kind ``licence_trust_list`` **only when the halls' part differs** from the newest
published list (``generated_at`` alone never makes a new version). The ingest route calls it
after a batch whose report changed, the hub calls it at start-up, and ``city-hub manifest
publish-trust-list`` calls it by hand.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

import psycopg

from city_hub import manifests
from yichuang import citylink

log = logging.getLogger("city_hub.trust")

KIND = citylink.TRUST_LIST_KIND
#: The same advisory lock as :func:`city_hub.manifests.publish`: versions of a kind go up one
#: at a time, and the list is assembled under it.
_LOCK = 7170019


def _hash_or_none(value: Any) -> str:
    try:
        return citylink.content_hash(value)
    except (TypeError, ValueError):  # NaN or the like: still a report to refuse once
        return "sha256:" + hashlib.sha256(repr(value).encode("utf-8", "replace")).hexdigest()


def store_report(conn: psycopg.Connection, hall: str, part: Any, sent_at: float) -> str:
    """Keep a hall's report (inside the batch's transaction, the hall's row locked). Returns
    ``stored`` (it changed), ``unchanged``, ``older`` (a late batch; the newer report stays)
    or ``refused`` (malformed; the last good report stays)."""
    row = conn.execute("SELECT content_hash, sent_at, refused_hash FROM hall_trust WHERE hall = %s",
                       (hall,)).fetchone()
    try:
        clean = citylink.check_licence_trust(part)
    except ValueError as exc:
        h = _hash_or_none(part)
        if row is None or row[2] != h:
            conn.execute("INSERT INTO hall_trust (hall, refused_hash, refused_reason) VALUES (%s, %s, %s) "
                         "ON CONFLICT (hall) DO UPDATE SET refused_hash = excluded.refused_hash, "
                         "refused_reason = excluded.refused_reason", (hall, h, str(exc)[:300]))
            conn.execute("INSERT INTO ingest_log (hall, outcome, detail, body_sha256) VALUES (%s, %s, %s, %s)",
                         (hall, "bad_licence_trust", str(exc)[:500], h.removeprefix("sha256:")))
            log.warning("licence trust report of %s refused: %s", hall, exc)
        return "refused"
    h = citylink.content_hash(clean)
    if row is not None and row[0] == h:
        return "unchanged"
    if row is not None and row[0] is not None and sent_at < float(row[1]):
        return "older"
    conn.execute(
        "INSERT INTO hall_trust (hall, content, content_hash, sent_at, updated_at) VALUES (%s, %s::jsonb, %s, %s, now()) "
        "ON CONFLICT (hall) DO UPDATE SET content = excluded.content, content_hash = excluded.content_hash, "
        "sent_at = excluded.sent_at, updated_at = now(), refused_hash = NULL, refused_reason = NULL",
        (hall, json.dumps(clean, ensure_ascii=False), h, sent_at))
    return "stored"


def assemble(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every hall that reported a key or a revocation, by hall code."""
    rows = conn.execute("SELECT t.hall, h.name, t.content FROM hall_trust t JOIN halls h ON h.code = t.hall "
                        "WHERE t.content IS NOT NULL ORDER BY t.hall").fetchall()
    return [{"hall": code, "name": name or "", "keys": content.get("keys", []), "revoked": content.get("revoked", [])}
            for code, name, content in rows if content.get("keys") or content.get("revoked")]


def _body(halls: list[dict[str, Any]]) -> str:
    """What decides whether the list changed: everything but ``generated_at``."""
    return citylink.content_hash({"format": citylink.TRUST_LIST_FORMAT, "halls": halls})


def latest(conn: psycopg.Connection) -> dict[str, Any] | None:
    row = conn.execute("SELECT body FROM manifests WHERE kind = %s ORDER BY version DESC LIMIT 1",
                       (KIND,)).fetchone()
    return row[0] if row else None


def publish_if_changed(conn: psycopg.Connection, private_key: str, now: float | None = None) -> dict[str, Any]:
    """Publish the next trust list if the halls' keys or revocations changed since the newest
    published one. Returns ``{"result": "published"|"unchanged"|"empty", "version"?,
    "content_hash"?, "halls", "keys", "revoked"}`` (``empty``: no hall has reported yet)."""
    t = time.time() if now is None else now
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        halls = assemble(conn)
        counts = {"halls": len(halls), "keys": sum(len(h["keys"]) for h in halls),
                  "revoked": sum(len(h["revoked"]) for h in halls)}
        top = latest(conn)
        if top is not None:
            prev = top.get("content") or {}
            if _body(prev.get("halls", [])) == _body(halls) and prev.get("format") == citylink.TRUST_LIST_FORMAT:
                return {"result": "unchanged", "version": top["version"], "content_hash": top["content_hash"], **counts}
        elif not halls:
            return {"result": "empty", **counts}
        content = {"format": citylink.TRUST_LIST_FORMAT, "generated_at": int(t), "halls": halls}
        citylink.check_trust_list(content)  # what the halls will check: never publish what they refuse
        m = manifests.publish(conn, private_key, KIND, content, now=t)
    log.info("licence trust list v%s published (%s halls, %s keys, %s revoked)", m["version"], counts["halls"],
             counts["keys"], counts["revoked"])
    return {"result": "published", "version": m["version"], "content_hash": m["content_hash"], **counts}
