"""Issuing tickets (取号) and appointment check-in (预约签到).

Numbering (DESIGN §4): prefix + at least 3 digits, per prefix per business day. The
number comes from ``counters`` by one ``INSERT … ON CONFLICT DO UPDATE … RETURNING``
inside the same :func:`~queue_server.db.write_tx` that inserts the ticket, and
``tickets(day, number)`` is a unique index, so two processes can never hand out the
same number and a crash can never leave a number issued without its ticket. After 999
the number simply grows a digit (A999 → A1000); it never wraps, so a number is unique
for the whole day.

The first ticket of a new business day expires the tickets still open from earlier days
and their unused appointments, and records a ``day.reset`` event.
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from hardware.idnumber import age_on, is_valid_id_number, mask_id_number
from queue_server import clock as clk
from queue_server.db import db_path, write_tx
from queue_server.errors import Conflict, NotFound, ValidationError, unknown_service
from queue_server.events import record_event
from queue_server.idkey import id_digest, id_digests, json_digest, json_digest_matches
from queue_server.queue import event_types  # noqa: F401  (declares what this module records)
from queue_server.queue.ahead import after_commit, issuing
from queue_server.queue.common import (
    APPOINTMENT,
    PRIORITY_GROUPS,
    Hall,
    hall,
    ticket_dict,
)
from queue_server.queue.estimate import estimate_minutes

SOURCES = ("kiosk", "counter", "appointment", "admin", "api")
_PROGRESS_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

_seen_day: dict[str, str] = {}
_seen_lock = threading.Lock()

InTx = Callable[[sqlite3.Connection, int], Any]


def _progress_code() -> str:
    """10 characters of an unambiguous 31-letter alphabet (~49 bits) from one urandom read."""
    n = int.from_bytes(secrets.token_bytes(8), "big")
    out = []
    for _ in range(10):
        n, r = divmod(n, len(_PROGRESS_ALPHABET))
        out.append(_PROGRESS_ALPHABET[r])
    return "".join(out)


def check_open(h: Hall) -> None:
    """Refuse a ticket outside the opening hours (when the hall enforces them)."""
    if not h.settings.get("enforce_opening_hours", True):
        return
    hours = h.settings["opening_hours"]
    if not clk.is_open_now(h.settings, h.now, h.tz):
        nxt = clk.next_opening_ts(h.settings, h.now, h.tz)
        next_text = clk.describe_moment(nxt, h.tz, h.now) if nxt is not None else "另行通知"
        reason = clk.closed_reason(h.settings, h.day)
        if reason is not None:  # a closed day: the hall's own reason and when it opens again
            raise Conflict("hall_closed_day", date=h.day, reason=reason or "闭厅", next_opening=next_text,
                           next_opening_at=nxt)
        raise Conflict("hall_closed", hours=clk.describe_hours(hours), opening_hours=hours,
                       next_opening=next_text, next_opening_at=nxt)


def roll_day(conn: sqlite3.Connection, key: str, h: Hall) -> None:
    """On the hall's first ticket of a business day: expire what earlier days left open."""
    with _seen_lock:
        if _seen_day.get(key) == h.day:
            return
    started = conn.execute("SELECT 1 FROM counters WHERE day = ? LIMIT 1", (h.day,)).fetchone()
    if started is None:
        expired = conn.execute(
            # The partial index of open rows: with a year of history and fresh statistics
            # the planner otherwise walks a whole-table index over every earlier day.
            "UPDATE tickets INDEXED BY tickets_open SET status = 'expired', closed_at = ? "
            "WHERE day < ? AND status IN ('waiting', 'called', 'serving')",
            (h.now, h.day),
        ).rowcount
        conn.execute(
            "UPDATE appointments INDEXED BY appointments_booked SET status = 'expired' "
            "WHERE day < ? AND status = 'booked'",
            (h.day,),
        )
        record_event(conn, "day.reset", {"day": h.day, "expired_tickets": expired}, ts=h.now)
    with _seen_lock:
        _seen_day[key] = h.day


def forget_days() -> None:
    """Tests: forget which business days this process has already rolled over."""
    with _seen_lock:
        _seen_day.clear()


def issue_ticket(
    db: Database,
    service: str,
    *,
    id_number: str | None = None,
    priority: str | None = None,
    appointment: str | None = None,
    referral_reason: str | None = None,
    issued_by: str = "",
    source: str = "kiosk",
    clock: clk.Clock | None = None,
    in_tx: InTx | None = None,
    idempotency_key: str | None = None,
    accept_ordinary: bool = False,
) -> dict[str, Any]:
    """Issue a ticket for ``service`` and return it (see :func:`ticket_dict`).

    ``idempotency_key``: a second request with the same key returns the ticket of the
    first (``ticket["replayed"]`` is true) instead of issuing another; keys live for the
    business day.

    ``appointment`` is an appointment code: the ticket is that appointment's check-in
    (``accept_ordinary`` as for :func:`check_in`).
    ``in_tx(conn, ticket_id)`` runs inside the issuing transaction (used to queue the
    print job atomically); an exception from it rolls back to before the hook only and
    is reported as ``ticket["in_tx_error"]``, because a ticket is issued even if
    printing fails (DESIGN §5).
    """
    h = hall(db, clock)
    digest = None
    if idempotency_key is not None:
        request = {"op": "issue", "service": service, "id_number": id_number, "priority": priority,
                   "appointment": appointment, "referral_reason": referral_reason, "source": source,
                   "issued_by": issued_by, "accept_ordinary": accept_ordinary}
        replay = _replay(db, idempotency_key, request)
        if replay is not None:
            return replay
        digest = json_digest(db, request)
    if appointment is not None:
        return _check_in(db, h, code=appointment, id_number=id_number, service=service,
                         issued_by=issued_by, in_tx=in_tx, idempotency_key=idempotency_key,
                         accept_ordinary=accept_ordinary, request_digest=digest)
    return _issue(db, h, service, id_number=id_number, priority=priority,
                  referral_reason=referral_reason, issued_by=issued_by, source=source, in_tx=in_tx,
                  idempotency_key=idempotency_key, request_digest=digest)


class _Replay(Exception):
    """Raised inside the issuing transaction when the idempotency key is already used."""

    def __init__(self, ticket_id: int, digest: str | None = None) -> None:
        self.ticket_id = ticket_id
        self.digest = digest


def _replay(db: Database, key: str, request: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ticket the retry key ``key`` issued, when ``request`` is what it was issued for;
    None when the key is new; 422 ``idempotency_key_reused`` when it was used for another
    request (a retry must not hand out someone else's ticket). Keys stored before requests
    were (no digest) replay as they did. ``request`` None: the caller has checked already."""
    row = db.conn.execute("SELECT ticket_id, request_digest FROM idempotency_keys WHERE key = ?",
                          (key,)).fetchone()
    if row is None:
        return None
    if request is not None and row[1] and json_digest_matches(db, request, str(row[1])) is not True:
        raise ValidationError("idempotency_key_reused")
    from queue_server.queue.lifecycle import get_ticket

    try:
        ticket = get_ticket(db, int(row[0]))
    except NotFound:  # archived since: treat as new
        return None
    ticket["replayed"] = True
    return ticket


def _same_request(stored: str, ours: str) -> bool:
    """Whether two request digests are of the same request. Made under different keys (the
    ID key was rotated between two racing requests) they cannot be compared: the retry is
    taken as the same request, as before digests were kept."""
    if stored.partition(":")[0] != ours.partition(":")[0]:
        return True
    return hmac.compare_digest(stored, ours)


def _issue(
    db: Database,
    h: Hall,
    service: str,
    *,
    id_number: str | None,
    priority: str | None,
    referral_reason: str | None,
    issued_by: str,
    source: str,
    in_tx: InTx | None,
    appointment_row: sqlite3.Row | None = None,
    idempotency_key: str | None = None,
    request_digest: str | None = None,
) -> dict[str, Any]:
    try:
        return _issue_tx(db, h, service, id_number=id_number, priority=priority,
                         referral_reason=referral_reason, issued_by=issued_by, source=source,
                         in_tx=in_tx, appointment_row=appointment_row, idempotency_key=idempotency_key,
                         request_digest=request_digest)
    except _Replay as exc:  # a concurrent request with the same key won the race
        if exc.digest and request_digest and not _same_request(exc.digest, request_digest):
            raise ValidationError("idempotency_key_reused") from exc
        replay = _replay(db, str(idempotency_key), None)
        if replay is None:
            raise Conflict("idempotency_conflict", ticket_id=exc.ticket_id) from exc
        return replay


def _issue_tx(
    db: Database,
    h: Hall,
    service: str,
    *,
    id_number: str | None,
    priority: str | None,
    referral_reason: str | None,
    issued_by: str,
    source: str,
    in_tx: InTx | None,
    appointment_row: sqlite3.Row | None,
    idempotency_key: str | None,
    request_digest: str | None = None,
) -> dict[str, Any]:
    if not isinstance(service, str) or not service:
        raise unknown_service(service)
    if priority is not None and priority not in PRIORITY_GROUPS and not (
        priority == APPOINTMENT and appointment_row is not None
    ):
        raise ValidationError("bad_priority")
    if source not in SOURCES:
        raise ValidationError("bad_source")
    if referral_reason is not None and (not isinstance(referral_reason, str) or len(referral_reason) > 200):
        raise ValidationError("bad_referral_reason")
    id_hash = id_masked = None
    if id_number is not None:
        if not isinstance(id_number, str) or not is_valid_id_number(id_number):
            raise ValidationError("bad_id_number")
        id_hash = id_digest(db, id_number)
        id_keys = id_digests(db, id_number)
        id_masked = mask_id_number(id_number)
        elderly_age = int(h.settings.get("elderly_age") or 0)
        if priority is None and elderly_age:
            import datetime as dt

            age = age_on(id_number, dt.date.fromisoformat(h.day))
            if age is not None and age >= elderly_age:
                priority = "elderly"
    if appointment_row is not None:
        id_hash, id_masked = appointment_row["id_hash"], appointment_row["id_masked"]
    check_open(h)

    key = db_path(db)
    with issuing(key), write_tx(db) as conn:
        if idempotency_key is not None:
            seen = conn.execute(
                "SELECT ticket_id, request_digest FROM idempotency_keys WHERE key = ?", (idempotency_key,)
            ).fetchone()
            if seen is not None:
                raise _Replay(int(seen[0]), seen[1])
        svc = conn.execute(
            "SELECT code, category, prefix, daily_limit_per_id, active, name, name_en FROM services WHERE code = ?",
            (service,),
        ).fetchone()
        if svc is None or not svc[4]:
            raise unknown_service(service)
        limit = svc[3]
        if limit is not None and appointment_row is None:
            if id_hash is None:
                raise ValidationError("id_required")
            keys = id_keys if id_number is not None else [id_hash]
            taken = conn.execute(
                f"SELECT COUNT(*) FROM tickets WHERE day = ? AND service_code = ? AND status != 'cancelled' "
                f"AND id_hash IN ({','.join('?' * len(keys))})",
                (h.day, service, *keys),
            ).fetchone()[0]
            if taken >= limit:
                raise Conflict("daily_limit", limit=limit)
        roll_day(conn, key, h)
        prefix = str(svc[2])
        if priority == "green" and h.settings.get("green_prefix"):
            prefix = str(h.settings["green_prefix"])
        elif priority == APPOINTMENT and h.settings.get("appointment_prefix"):
            prefix = str(h.settings["appointment_prefix"])
        seq = conn.execute(
            "INSERT INTO counters (day, prefix, last) VALUES (?, ?, 1) "
            "ON CONFLICT (day, prefix) DO UPDATE SET last = last + 1 RETURNING last",
            (h.day, prefix),
        ).fetchone()[0]
        number = f"{prefix}{seq:03d}"
        progress_code = _progress_code()
        ticket_id = int(
            conn.execute(
                "INSERT INTO tickets (day, number, prefix, seq, service_code, category, status, "
                "priority, appointment_id, id_hash, id_masked, source, issued_by, progress_code, "
                "referral_reason, issued_at) VALUES (?, ?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    h.day, number, prefix, seq, service, svc[1], priority,
                    appointment_row["id"] if appointment_row is not None else None,
                    id_hash, id_masked, source, issued_by, progress_code, referral_reason, h.now,
                ),
            ).lastrowid
            or 0
        )
        if appointment_row is not None:
            claimed = conn.execute(
                "UPDATE appointments SET status = 'checked_in', ticket_id = ?, checked_in_at = ? "
                "WHERE id = ? AND status = 'booked'",
                (ticket_id, h.now, appointment_row["id"]),
            ).rowcount
            if claimed != 1:  # a concurrent check-in won: roll the whole ticket back
                raise Conflict("already_checked_in")
        if idempotency_key is not None:
            conn.execute(
                "INSERT INTO idempotency_keys (key, ticket_id, created_at, request_digest) VALUES (?, ?, ?, ?)",
                (idempotency_key, ticket_id, h.now, request_digest),
            )
        record_event(
            conn,
            "ticket.issued",
            {"ticket_id": ticket_id, "number": number, "service": service,
             "category": svc[1], "priority": priority},
            ts=h.now,
        )
        hook_result: Any = None
        hook_error: str | None = None
        if in_tx is not None:
            conn.execute("SAVEPOINT in_tx")
            try:
                hook_result = in_tx(conn, ticket_id)
            except Exception as exc:  # the ticket stands; only the hook's writes go
                conn.execute("ROLLBACK TO in_tx")
                hook_error = f"{type(exc).__name__}: {exc}"
            conn.execute("RELEASE in_tx")
    # 前面还有 N 人 after the commit, outside the write lock: concurrent issuers share a run.
    ahead, windows = after_commit(db.conn, key, h, ticket_id)
    minutes = estimate_minutes(db.conn, key, h.day, service, ahead, windows)
    appt = appointment_row
    row = {  # what fetch_ticket_row would read back, without reading it back
        "id": ticket_id, "day": h.day, "number": number, "service_code": service,
        "service_name": svc[5], "service_name_en": svc[6], "category": svc[1], "status": "waiting",
        "priority": priority, "issued_at": h.now, "called_at": None, "started_at": None,
        "finished_at": None, "closed_at": None, "progress_code": progress_code, "window": None,
        "referral_reason": referral_reason, "id_masked": id_masked, "source": source,
        "issued_by": issued_by, "call_count": 0, "transfer_window": None, "transfer_note": None,
        "appointment_id": appt["id"] if appt is not None else None,
        "appt_code": appt["code"] if appt is not None else None,
        "slot_start": appt["slot_start"] if appt is not None else None,
        "slot_end": appt["slot_end"] if appt is not None else None,
        "appt_name": appt["name_masked"] if appt is not None else None,
        "appt_status": "checked_in" if appt is not None else None, "window_name": None,
    }
    ticket = ticket_dict(row, waiting_ahead=ahead, estimated_wait_minutes=minutes)
    if in_tx is not None:
        ticket["in_tx_result"] = hook_result
        ticket["in_tx_error"] = hook_error
    return ticket


def check_in(
    db: Database,
    *,
    code: str | None = None,
    id_number: str | None = None,
    issued_by: str = "",
    clock: clk.Clock | None = None,
    in_tx: InTx | None = None,
    idempotency_key: str | None = None,
    accept_ordinary: bool = False,
) -> dict[str, Any]:
    """Check in today's appointment by its code or the booker's ID number; returns the ticket.

    A cancelled appointment is refused first, whatever its date (``appointment_cancelled``);
    then one of another day (``appointment_not_today``), one already checked in, an expired
    one (``appointment_not_active``). On time (from ``appointment_early_minutes`` before the
    slot until ``appointment_late_minutes`` after its start) the ticket has priority
    ``appointment`` and the appointment prefix. Too early is refused with the time check-in
    opens (``opens_at``). Later, the slot is missed: ``appointment_late`` with
    ``minutes_late``, unless the citizen chose the ordinary ticket of the same service
    (``accept_ordinary``; ``appointment.on_time`` is then false).
    """
    digest = None
    if idempotency_key is not None:
        request = {"op": "check_in", "code": code, "id_number": id_number, "issued_by": issued_by,
                   "accept_ordinary": accept_ordinary}
        replay = _replay(db, idempotency_key, request)
        if replay is not None:
            return replay
        digest = json_digest(db, request)
    return _check_in(db, hall(db, clock), code=code, id_number=id_number, service=None,
                     issued_by=issued_by, in_tx=in_tx, idempotency_key=idempotency_key,
                     accept_ordinary=accept_ordinary, request_digest=digest)


def _check_in(
    db: Database,
    h: Hall,
    *,
    code: str | None,
    id_number: str | None,
    service: str | None,
    issued_by: str,
    in_tx: InTx | None,
    idempotency_key: str | None = None,
    accept_ordinary: bool = False,
    request_digest: str | None = None,
) -> dict[str, Any]:
    conn = db.conn
    if code is not None:
        if not isinstance(code, str) or not code.strip() or len(code) > 64:
            raise ValidationError("bad_appointment_code")
        row = conn.execute("SELECT * FROM appointments WHERE code = ?", (code.strip().upper(),)).fetchone()
        if row is None:
            row = conn.execute("SELECT * FROM appointments WHERE code = ?", (code.strip(),)).fetchone()
    elif id_number is not None:
        if not isinstance(id_number, str) or not is_valid_id_number(id_number):
            raise ValidationError("bad_id_number")
        keys = id_digests(db, id_number)
        row = conn.execute(
            f"SELECT * FROM appointments WHERE day = ? AND id_hash IN ({','.join('?' * len(keys))}) "
            "ORDER BY status = 'booked' DESC, slot_start LIMIT 1",
            (h.day, *keys),
        ).fetchone()
    else:
        raise ValidationError("code_or_id_required")
    if row is None:
        raise NotFound("appointment_not_found")
    if row["status"] == "cancelled":  # before the date: a cancelled booking is never checked in
        raise Conflict("appointment_cancelled", appointment=row["code"])
    if row["day"] != h.day:
        raise Conflict("appointment_not_today", day=row["day"])
    if service is not None and row["service_code"] != service:
        raise ValidationError("appointment_service_mismatch")
    if row["status"] == "checked_in":
        number = conn.execute("SELECT number FROM tickets WHERE id = ?", (row["ticket_id"],)).fetchone()
        raise Conflict(
            "already_checked_in", number_note=f"，号码 {number[0]}" if number else "",
            ticket_id=row["ticket_id"],
        )
    if row["status"] != "booked":
        raise Conflict("appointment_not_active")
    slot_start = clk.at_local(h.day, row["slot_start"], h.tz)
    early = int(h.settings.get("appointment_early_minutes") or 0) * 60
    late = int(h.settings.get("appointment_late_minutes") or 0) * 60
    slot = f"{row['slot_start']}-{row['slot_end']}"
    if h.now < slot_start - early:
        opens = clk.local(slot_start - early, h.tz).strftime("%H:%M")
        raise Conflict("appointment_too_early", slot=slot, early=early // 60, opens_at=opens,
                       opens_at_ts=slot_start - early)
    on_time = h.now <= slot_start + late
    if not on_time and not accept_ordinary:
        names = conn.execute("SELECT name, name_en FROM services WHERE code = ?", (row["service_code"],)).fetchone()
        raise Conflict("appointment_late", slot=slot, minutes_late=int((h.now - slot_start) // 60),
                       service=row["service_code"], service_name=names[0] if names else row["service_code"],
                       service_name_en=(names[1] or names[0]) if names else row["service_code"],
                       appointment=row["code"])
    return _issue(
        db,
        h,
        row["service_code"],
        id_number=None,
        priority=APPOINTMENT if on_time else None,
        referral_reason=None,
        issued_by=issued_by,
        source="appointment",
        in_tx=in_tx,
        appointment_row=row,
        idempotency_key=idempotency_key,
        request_digest=request_digest,
    )
