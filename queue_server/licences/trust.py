"""Licences across halls: what this hall tells the city hub, and the city's trust list it
applies, so that a licence shown in hall A verifies in hall B after the next sync
(``docs/licences.md`` "Across halls").

**Up** (:func:`report`, the batch part ``licence_trust`` sent with every uplink batch):

* ``keys`` — this hall's public token keys exactly as ``GET /api/licences/keys`` lists them
  (the current key and retired keys until their ``not_after``). Reading them never makes a
  key: a hall that has not shown a licence yet reports none.
* ``revoked`` — one entry per *presentation* (亮证 session) whose licence is no longer
  valid (revoked, superseded or expired) while that presentation's tokens could still pass
  the time check: ``{"handle", "status", "until"}``. ``handle`` is the opaque claim -70001 the
  tokens carry (base64url of 8 random bytes, one per session, never a licence id, a number
  or a name); ``until`` is when the last token the session could have been given expires,
  with the ±30 s skew and a margin. After ``until`` the entry is left out: every token of
  that handle fails the time check anyway, so the list stays small.

**Down** (:func:`apply_trust_list`, the apply hook of the manifest kind
``licence_trust_list``): in one transaction, replace the other halls' keys — public keys,
for verifying only; the tables have no column for a private key — and their revocations,
remember the list's date, and audit it (``licence.trust_applied``). This hall's own entry
(by its hall code at the hub) is skipped: its own keys and register stay what they are. A
malformed list raises ``bad_trust_list``; the uplink then refuses it and keeps the last good
one.

**Verifying** (:func:`key_for`): the token's key is looked for among this hall's keys, then
the trusted ones; a trusted key says which hall issued the token, and
:func:`revoked_status` reads that hall's revocations.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.audit.chain import append
from queue_server.db import db_path, write_tx
from queue_server.errors import ValidationError
from queue_server.licences import keys, token
from queue_server.licences.records import LicenceTrustApplied
from queue_server.licences.trustlist import TrustedKey, TrustList, pick
from queue_server.settings import get_setting
from yichuang import citylink

#: Added to a revocation's ``until`` (seconds): covers a token lifetime setting lowered while
#: a session was open (its earlier tokens keep their longer ``exp``).
UNTIL_MARGIN = 300


def _key_entries(db: Database, now: float) -> list[dict[str, Any]]:
    """This hall's keys document entries, without making a key (public halves only)."""
    out = []
    for kid, alg, public, not_after in db.conn.execute(
            "SELECT kid, alg, public_key, not_after FROM licence_keys WHERE not_after IS NULL OR not_after >= ? "
            "ORDER BY kid", (now,)):
        public = bytes(public)
        entry: dict[str, Any] = {"kid": token.b64u(bytes(kid)), "alg": alg,
                                 "crv": "Ed25519" if alg == "EdDSA" else "SM2"}
        if alg == "EdDSA":
            entry["x"] = token.b64u(public)
        else:
            entry["x"], entry["y"] = token.b64u(public[:32]), token.b64u(public[32:])
        if not_after is not None:
            entry["not_after"] = int(not_after)
        out.append(entry)
    return out


def _revoked_entries(db: Database, now: float) -> list[dict[str, Any]]:
    token_s = int(get_setting(db, "licences.token_seconds"))
    reverify_s = int(get_setting(db, "licences.reverify_minutes")) * 60
    tail = token_s + token.SKEW_SECONDS + UNTIL_MARGIN
    today = clk.business_day(now, str(get_setting(db, "timezone")))
    rows = db.conn.execute(
        "SELECT p.handle, l.status, CASE WHEN p.ended_at IS NOT NULL THEN COALESCE(p.last_token_at, p.verified_at) "
        "ELSE p.verified_at + ? END FROM licence_presentations p JOIN licences l ON l.id = p.licence_id "
        "WHERE p.verified_at >= ? AND (l.status != 'valid' OR (l.valid_to IS NOT NULL AND l.valid_to < ?)) "
        "ORDER BY p.handle", (reverify_s, now - reverify_s - tail, today)).fetchall()
    out = []
    for handle, status, last_iat in rows:
        until = math.ceil(float(last_iat) + tail)
        if until >= now:
            out.append({"handle": token.b64u(bytes(handle)), "status": status if status != "valid" else "expired",
                        "until": until})
    return out


def report(db: Database, now: float) -> dict[str, Any]:
    """The batch part ``licence_trust``: ``{"keys": [...], "revoked": [...]}`` (module doc)."""
    return citylink.check_licence_trust({"keys": _key_entries(db, now), "revoked": _revoked_entries(db, now)})


# --- the list from the hub ------------------------------------------------------------------


def _own_hall(db: Database) -> str | None:
    from queue_server.uplink.worker import config

    cfg = config(db)
    return cfg["hall"] if cfg else None


def apply_trust_list(db: Database, content: Any) -> dict[str, Any]:
    """Apply the city's trust list atomically (module doc); raises ``bad_trust_list``."""
    try:
        clean = citylink.check_trust_list(content)
    except ValueError as exc:
        raise ValidationError("bad_trust_list", problem=str(exc)) from exc
    me = _own_hall(db)
    own = {bytes(k): bytes(p) for k, p in db.conn.execute("SELECT kid, public_key FROM licence_keys")}
    key_rows: list[tuple[str, bytes, str, bytes, float | None]] = []
    revoked_rows: list[tuple[str, bytes, str, float]] = []
    halls: dict[str, str] = {}
    for h in clean["halls"]:
        if h["hall"] == me:
            continue
        halls[h["hall"]] = h["name"]
        for e in h["keys"]:
            kid = token.unb64u(e["kid"])
            public = token.unb64u(e["x"]) + (token.unb64u(e["y"]) if "y" in e else b"")
            if own.get(kid) == public:
                continue  # one of this hall's own keys (listed under another code): it is ours already
            key_rows.append((h["hall"], kid, e["alg"], public, e.get("not_after")))
        revoked_rows += [(h["hall"], token.unb64u(r["handle"]), r["status"], float(r["until"])) for r in h["revoked"]]
    chash = citylink.content_hash(content)
    t = time.time()
    with write_tx(db) as c:
        c.execute("DELETE FROM licence_trusted_keys")
        c.execute("DELETE FROM licence_trusted_revocations")
        c.executemany("INSERT OR IGNORE INTO licence_trusted_keys (hall, kid, alg, public_key, not_after) "
                      "VALUES (?, ?, ?, ?, ?)", key_rows)
        c.executemany("INSERT INTO licence_trusted_revocations (hall, handle, status, until) VALUES (?, ?, ?, ?)",
                      revoked_rows)
        c.execute("INSERT INTO licence_trust_list (id, content_hash, generated_at, halls, applied_at) "
                  "VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET content_hash = excluded.content_hash, "
                  "generated_at = excluded.generated_at, halls = excluded.halls, applied_at = excluded.applied_at",
                  (chash, float(clean["generated_at"]), json.dumps(halls, ensure_ascii=False), t))
        append(c, LicenceTrustApplied(content_hash=chash, generated_at=float(clean["generated_at"]), halls=len(halls),
                                      keys=len(key_rows), revoked=len(revoked_rows)), actor="uplink", ts=t)
    forget()
    return {"halls": len(halls), "keys": len(key_rows), "revoked": len(revoked_rows)}


_cache: dict[str, TrustList] = {}
_lock = threading.Lock()


def forget() -> None:
    """Drop the cached trust lists (after an apply, or in tests)."""
    with _lock:
        _cache.clear()


def trusted(db: Database) -> TrustList | None:
    """The trust list this hall applied last (None before the first); cached until another
    list is applied (one small read per call tells)."""
    row = db.conn.execute("SELECT content_hash, generated_at, halls FROM licence_trust_list WHERE id = 1").fetchone()
    if row is None:
        return None
    path = db_path(db)
    with _lock:
        hit = _cache.get(path)
    if hit is not None and hit.content_hash == row[0]:
        return hit
    halls = json.loads(row[2])
    tl = TrustList(as_of=float(row[1]), halls=halls, content_hash=row[0])
    for hall, kid, alg, public, not_after in db.conn.execute(
            "SELECT hall, kid, alg, public_key, not_after FROM licence_trusted_keys ORDER BY hall, kid"):
        kid, public = bytes(kid), bytes(public)
        key: token.PublicKey | None = None
        if alg == "EdDSA":
            key = token.Ed25519Key(public, kid, not_after)
        elif token.sm2_available():
            key = token.SM2Key(public[:32], public[32:], kid, not_after)
        if key is not None:
            tl.add_key(TrustedKey(key, hall, halls.get(hall, "")))
    with _lock:
        _cache[path] = tl
    return tl


@dataclass(frozen=True)
class Foreign:
    """A token signed with another hall's key: which hall, and the trust list's date."""

    hall: str
    hall_name: str
    as_of: float


def key_for(db: Database, text: str, now: float) -> tuple[token.PublicKey | None, Foreign | None]:
    """The key that checks the token ``text`` — this hall's own first, then the trust list's —
    and, for a trusted key, whose it is (``(None, None)`` when no key has the token's kid or
    the text is not a token: the checks then say which)."""
    try:
        env = token.decode(token.clean_scan(text))
    except token.TokenFormatError:
        return None, None
    own = keys.public_keys(db).get(env.kid)
    tl = trusted(db)
    key, tk = pick(own, tl.keys.get(env.kid, []) if tl is not None else [], env, now)
    if tk is None or tl is None:
        return key, None
    return key, Foreign(tk.hall, tk.hall_name, tl.as_of)


def revoked_status(conn: Any, hall: str, handle: bytes) -> str | None:
    """What the trust list says of a presentation handle of ``hall`` (None: nothing — the
    licence was valid when the hall last reported)."""
    row = conn.execute("SELECT status FROM licence_trusted_revocations WHERE hall = ? AND handle = ?",
                       (hall, handle)).fetchone()
    return str(row[0]) if row else None


def foreign_summary(foreign: Foreign, holder_masked: str | None, status: str) -> dict[str, Any]:
    """``licence`` of an answer about another hall's token: what this hall can know. The
    contract's fields stay; those only the issuing hall's register holds are null."""
    return {"type": None, "type_name": None, "number": None, "holder_masked": holder_masked, "issuer": None,
            "valid_to": None, "status": status, "issuer_hall": foreign.hall, "issuer_hall_name": foreign.hall_name}


def summary(db: Database) -> dict[str, Any]:
    """The trust list as this hall holds it (``queue-server licences trust list``)."""
    tl = trusted(db)
    if tl is None:
        return {"applied": False, "halls": []}
    counts = {r[0]: (int(r[1]), int(r[2])) for r in db.conn.execute(
        "SELECT hall, SUM(n_keys), SUM(n_revoked) FROM (SELECT hall, COUNT(*) AS n_keys, 0 AS n_revoked "
        "FROM licence_trusted_keys GROUP BY hall UNION ALL SELECT hall, 0, COUNT(*) FROM "
        "licence_trusted_revocations GROUP BY hall) GROUP BY hall")}
    row = db.conn.execute("SELECT applied_at FROM licence_trust_list WHERE id = 1").fetchone()
    return {"applied": True, "generated_at": int(tl.as_of), "applied_at": row[0] if row else None,
            "content_hash": tl.content_hash,
            "halls": [{"hall": code, "name": name, "keys": counts.get(code, (0, 0))[0],
                       "revoked": counts.get(code, (0, 0))[1]} for code, name in sorted(tl.halls.items())]}
