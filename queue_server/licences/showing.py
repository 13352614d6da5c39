"""亮证 and 核验: presenting a licence at a kiosk, the rotating tokens, and verification.

* :func:`present` — a face- or staff-verified holder starts showing one of their licences
  for a purpose: a presentation (with a random handle, the token's claim -70001), a kiosk
  case (kind ``licence_show``) and the first token, audited together.
* :func:`refresh` — the kiosk's fresh token every ``licences.refresh_seconds``; refused
  once the face check is older than ``licences.reverify_minutes`` (the holder checks again).
* :func:`end` — the citizen left or the kiosk went idle.
* :func:`verify` — prefix → base45 → CBOR → key → signature → time (:func:`token.check`),
  then status (``revoked``, ``licence_expired``, ``licence_not_yet_valid``) → replay →
  purpose here; each check is a ``licence_checks`` row and a
  ``licence.verified`` audit record in one transaction; an ``ok`` token is accepted once.
  The key may be another hall's, from the city's trust list (:mod:`.trust`): the status is
  then the list's, as of its date.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from hardware.idnumber import mask_name
from queue_server import clock as clk
from queue_server.audit.chain import append
from queue_server.cases import open_case, set_case_status
from queue_server.db import write_tx
from queue_server.errors import Conflict, Forbidden, NotFound, ValidationError
from queue_server.licences import keys, token, trust
from queue_server.licences.records import LicencePresented, LicenceVerified
from queue_server.licences.register import (
    face_summary,
    get_row,
    holder_masked,
    is_holder,
    require_in_force,
)
from queue_server.settings import get_setting

METHODS = ("face", "card", "staff")
#: Methods that let a holder show a licence (a card read alone does not).
PRESENT_METHODS = ("face", "staff")


def today(db: Database, now: float) -> str:
    return clk.business_day(now, str(get_setting(db, "timezone")))


def _seconds(db: Database) -> tuple[int, int, int]:
    return (int(get_setting(db, "licences.token_seconds")), int(get_setting(db, "licences.refresh_seconds")),
            int(get_setting(db, "licences.reverify_minutes")) * 60)


def check_purpose(purpose: Any, name: str = "purpose") -> int:
    if isinstance(purpose, bool) or not isinstance(purpose, int):
        raise ValidationError("bad_field", field=name)
    if purpose not in token.PURPOSES:
        raise ValidationError("bad_purpose", purpose=purpose, codes=", ".join(str(c) for c in token.PURPOSES))
    return purpose


def purposes() -> list[dict[str, Any]]:
    """The documented purpose list (``GET /api/licences/purposes``)."""
    return [{"code": code, "name": zh, "name_en": en} for code, (zh, en) in token.PURPOSES.items()]


def _issue(db: Database, handle: bytes, purpose: int, holder: str | None, now: float,
           cti: bytes | None = None) -> tuple[str, int]:
    lifetime = int(get_setting(db, "licences.token_seconds"))
    iat = int(now)
    claims = token.Claims(exp=iat + lifetime, iat=iat, cti=cti or secrets.token_bytes(token.CTI_BYTES),
                          handle=handle, purpose=purpose, holder_masked=token.short_holder(holder))
    return token.encode(claims, keys.current_signer(db)), claims.exp


def _answer(db: Database, pres: sqlite3.Row | dict[str, Any], qr: str, exp: int) -> dict[str, Any]:
    _, refresh_s, reverify_s = _seconds(db)
    lifetime = int(get_setting(db, "licences.token_seconds"))
    return {"qr": qr, "expires_at": exp, "issued_at": exp - lifetime, "presentation": pres["id"],
            "case": pres["case_number"],
            "refresh_seconds": refresh_s, "reverify_at": pres["verified_at"] + reverify_s}


def present(db: Database, licence_id: int, *, holder_id_number: str, method: str, score: float | None,
            purpose: int, kiosk: str, now: float | None = None) -> dict[str, Any]:
    """Start showing licence ``licence_id``; 403 unless the caller is its face- or
    staff-verified holder; 409 when the licence is not in force (``licence_not_yet_valid``
    before its ``valid_from``, else ``licence_not_valid``). Returns the first token."""
    t = time.time() if now is None else now
    check_purpose(purpose)
    if method not in METHODS:
        raise ValidationError("bad_field", field="verification.method")
    row = get_row(db, licence_id)
    if not is_holder(db, row, holder_id_number):
        raise Forbidden("licence_not_holder")
    if method not in PRESENT_METHODS:
        raise Forbidden("licence_face_required")
    day = today(db, t)
    require_in_force(row, day)
    with write_tx(db) as conn:
        handle = secrets.token_bytes(token.HANDLE_BYTES)
        while conn.execute("SELECT 1 FROM licence_presentations WHERE handle = ?", (handle,)).fetchone():
            handle = secrets.token_bytes(token.HANDLE_BYTES)  # pragma: no cover - 64-bit collision
        case = open_case(conn, "licence_show", row["type_code"], row["type_name"], kiosk=kiosk, day=day, now=t)
        cur = conn.execute(
            "INSERT INTO licence_presentations (handle, licence_id, purpose, method, score, kiosk, case_number, "
            "verified_at, created_at, tokens, last_token_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
            (handle, licence_id, purpose, method, score, kiosk, case["number"], t, t, t))
        pres_id = int(cur.lastrowid or 0)
        append(conn, LicencePresented(licence_id=licence_id, presentation_id=pres_id, purpose=purpose, method=method,
                                      kiosk=kiosk, case=case["number"], score=score), actor=kiosk, ts=t)
    qr, exp = _issue(db, handle, purpose, holder_masked(row), t)
    return _answer(db, {"id": pres_id, "case_number": case["number"], "verified_at": t}, qr, exp)


def _presentation(db: Database, presentation_id: int, kiosk: str) -> sqlite3.Row:
    row = db.conn.execute("SELECT * FROM licence_presentations WHERE id = ?", (presentation_id,)).fetchone()
    if row is None or row["kiosk"] != kiosk:
        raise NotFound("licence_presentation_not_found")
    return row


def refresh(db: Database, presentation_id: int, *, kiosk: str, now: float | None = None) -> dict[str, Any]:
    """A fresh token for an open presentation of this kiosk (403 ``licence_reverify`` once
    the face check is too old; 409 once ended or the licence is no longer valid)."""
    t = time.time() if now is None else now
    pres = _presentation(db, presentation_id, kiosk)
    if pres["ended_at"] is not None:
        raise Conflict("licence_presentation_ended")
    _, _, reverify_s = _seconds(db)
    if t - pres["verified_at"] > reverify_s:
        raise Forbidden("licence_reverify", minutes=reverify_s // 60)
    row = get_row(db, pres["licence_id"])
    require_in_force(row, today(db, t))
    with write_tx(db) as conn:
        conn.execute("UPDATE licence_presentations SET tokens = tokens + 1, last_token_at = ? WHERE id = ?",
                     (t, presentation_id))
    qr, exp = _issue(db, bytes(pres["handle"]), int(pres["purpose"]), holder_masked(row), t)
    return _answer(db, pres, qr, exp)


def end(db: Database, presentation_id: int, *, kiosk: str, now: float | None = None) -> dict[str, Any]:
    """The citizen left (or the kiosk wiped the session): no more tokens for it."""
    t = time.time() if now is None else now
    pres = _presentation(db, presentation_id, kiosk)
    if pres["ended_at"] is None:
        with write_tx(db) as conn:
            conn.execute("UPDATE licence_presentations SET ended_at = ? WHERE id = ?", (t, presentation_id))
            if pres["case_number"]:
                set_case_status(conn, pres["case_number"], "done", now=t)
    return {"presentation": presentation_id, "ended": True, "case": pres["case_number"]}


# --- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verifier:
    """Who checks: the audit actor (``user:3`` / ``token:gate-1``), the role, the window the
    clerk is signed in at, and the label a later ``replayed`` answer shows."""

    actor: str
    role: str
    label: str
    window: int | None = None


def verifier_for(db: Database, *, actor: str, role: str, token_name: str, user_id: int | None,
                 user_name: str | None) -> Verifier:
    if user_id is None:
        return Verifier(actor, role, token_name)
    row = db.conn.execute("SELECT number FROM windows WHERE clerk_user_id = ? AND status != 'closed' "
                          "ORDER BY number LIMIT 1", (user_id,)).fetchone()
    who = mask_name(user_name or "") or f"user {user_id}"
    if row is None:
        return Verifier(actor, role, who)
    return Verifier(actor, role, f"{row[0]}号窗口 {who}", int(row[0]))


def verify(db: Database, qr: str, *, verifier: Verifier, purpose: int | None = None,
           now: float | None = None) -> dict[str, Any]:
    """Check a scanned token: ``{"valid", "reason", "licence"?, "first_verified"?}``.

    A token of another hall (its key is in the city's trust list, :mod:`.trust`) goes through
    the same checks; its status comes from the trust list's revocations, as of the list's
    date (``status_as_of``), and ``licence`` says what this hall can know of it."""
    t = time.time() if now is None else now
    if purpose is not None:
        check_purpose(purpose)
    key, foreign = trust.key_for(db, qr, t)
    checked = token.check(qr, lambda _kid: key, t)
    reason = checked.reason
    claims = checked.claims
    authentic = reason in ("ok", "expired", "not_yet_valid")
    first: dict[str, Any] | None = None
    licence: dict[str, Any] | None = None
    pres_id: int | None = None
    licence_id: int | None = None
    with write_tx(db) as conn:
        if authentic and claims is not None and foreign is not None:
            status = trust.revoked_status(conn, foreign.hall, claims.handle) or "valid"
            licence = trust.foreign_summary(foreign, claims.holder_masked, status)
        elif authentic and claims is not None:
            pres = conn.execute("SELECT id, licence_id FROM licence_presentations WHERE handle = ?",
                                (claims.handle,)).fetchone()
            if pres is not None:
                pres_id, licence_id = int(pres[0]), int(pres[1])
                licence = face_summary(get_row(conn, licence_id), today(db, t))
        if reason == "ok" and claims is not None:
            if licence is None or licence["status"] != "valid":
                reason = token.status_reason(licence["status"] if licence else None)
            else:
                seen = conn.execute("SELECT accepted_at, by_label FROM licence_accepted WHERE cti = ?",
                                    (claims.cti,)).fetchone()
                if seen is not None:
                    reason = "replayed"
                    first = {"at": seen[0], "by": seen[1]}
                elif purpose is not None and purpose != claims.purpose:
                    reason = "wrong_purpose"
                else:
                    conn.execute("INSERT INTO licence_accepted (cti, presentation_id, licence_id, accepted_at, "
                                 "by_actor, by_label, exp) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (claims.cti, pres_id, licence_id, t, verifier.actor, verifier.label, claims.exp))
        issuer_hall = foreign.hall if foreign is not None else None
        conn.execute(
            "INSERT INTO licence_checks (ts, reason, licence_id, presentation_id, kid, purpose, purpose_asked, "
            "verifier, verifier_role, window, issuer_hall) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (t, reason, licence_id, pres_id, checked.envelope.kid if checked.envelope else None,
             claims.purpose if claims else None, purpose, verifier.actor, verifier.role, verifier.window,
             issuer_hall))
        append(conn, LicenceVerified(result=reason, verifier=verifier.actor, role=verifier.role,
                                     licence_id=licence_id, presentation_id=pres_id,
                                     purpose=claims.purpose if claims else None, purpose_asked=purpose,
                                     window=verifier.window, issuer_hall=issuer_hall), actor=verifier.actor, ts=t)
    out: dict[str, Any] = {"valid": reason == "ok", "reason": reason}
    if licence is not None:
        out["licence"] = licence
    if claims is not None and authentic:
        out["purpose"] = claims.purpose
        out["expires_at"] = claims.exp
    if first is not None:
        out["first_verified"] = first
    if licence is not None and foreign is not None:
        out["status_as_of"] = int(foreign.as_of)
    return out


def checks(db: Database, licence_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
    """The 用证 log of one licence, newest first: when, who, purpose, result."""
    return [dict(r) for r in db.conn.execute(
        "SELECT ts, reason, purpose, purpose_asked, verifier, verifier_role, window FROM licence_checks "
        "WHERE licence_id = ? ORDER BY id DESC LIMIT ?", (licence_id, limit))]
