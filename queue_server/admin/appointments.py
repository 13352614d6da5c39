"""Appointments on the admin page: list a day, book one for a citizen at the desk or on
the phone, cancel one. Built on the ``appointments`` table the queue engine checks in
against (code or ID number, queue_server/queue/tickets.py).

Kept apart on purpose: the queue engine is getting its own appointment API
(``POST /api/appointments``, ``DELETE /api/appointments/<code>``); when it lands,
:func:`book` and :func:`cancel` become thin calls of it and the page stays as it is.

No name or ID number is stored in clear: the name masked (张*三), the ID number as its
keyed digest (:func:`queue_server.idkey.id_digest`) and masked (3701**********123X).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from typing import Any

from sqlite_utils import Database

from hardware.idnumber import is_valid_id_number, mask_id_number, mask_name
from queue_server import clock as clk
from queue_server.admin.records import AppointmentChanged
from queue_server.audit.chain import append
from queue_server.db import write_tx
from queue_server.errors import Conflict, NotFound, ValidationError
from queue_server.settings import all_settings

_SLOT = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
STATUSES = ("booked", "checked_in", "cancelled", "expired")


def _bad(zh: str, en: str) -> ValidationError:
    return ValidationError("bad_appointment", what=zh, what_en=en)


def _row(r: Any) -> dict[str, Any]:
    return {"id": r[0], "code": r[1], "service": r[2], "service_name": r[3], "day": r[4], "slot_start": r[5],
            "slot_end": r[6], "name_masked": r[7], "id_masked": r[8], "status": r[9], "ticket_number": r[10],
            "checked_in_at": r[11], "created_at": r[12]}


_SELECT = ("SELECT a.id, a.code, a.service_code, s.name, a.day, a.slot_start, a.slot_end, a.name_masked, "
           "a.id_masked, a.status, t.number, a.checked_in_at, a.created_at FROM appointments a "
           "JOIN services s ON s.code = a.service_code LEFT JOIN tickets t ON t.id = a.ticket_id ")


def list_day(db: Database, day: str) -> list[dict[str, Any]]:
    """A day's appointments by slot."""
    try:
        dt.date.fromisoformat(day)
    except (TypeError, ValueError) as exc:
        raise _bad("日期格式应为 2026-11-25", "day must be YYYY-MM-DD") from exc
    return [_row(r) for r in db.conn.execute(_SELECT + "WHERE a.day = ? ORDER BY a.slot_start, a.code", (day,))]


def _audit_view(a: dict[str, Any]) -> dict[str, Any]:
    return {k: a[k] for k in ("service", "day", "slot_start", "slot_end", "status")}


def book(db: Database, *, service: str, day: str, slot_start: str, slot_end: str, name: str | None = None,
         id_number: str | None = None, actor: str = "system", clock: clk.Clock | None = None) -> dict[str, Any]:
    """Book an appointment; returns it with its new 预约码 (``YY`` + 6 digits)."""
    svc = db.conn.execute("SELECT code, active FROM services WHERE code = ?", (service,)).fetchone()
    if svc is None or not svc[1]:
        raise _bad(f"未知或已停用的事项 {service}", f"unknown or inactive service {service}")
    try:
        the_day = dt.date.fromisoformat(day)
    except (TypeError, ValueError) as exc:
        raise _bad("日期格式应为 2026-11-25", "day must be YYYY-MM-DD") from exc
    settings = all_settings(db)
    today = clk.business_day(clk.now(clock), str(settings["timezone"]))
    if the_day.isoformat() < today:
        raise _bad("不能预约已过去的日期", "the day is in the past")
    if not isinstance(slot_start, str) or not isinstance(slot_end, str) or not _SLOT.match(slot_start) \
            or not _SLOT.match(slot_end) or slot_end <= slot_start:
        raise _bad("时段应为 09:00 至 09:30 这样的格式，结束晚于开始", "slot: HH:MM to a later HH:MM")
    name_masked = ""
    if name:
        if not isinstance(name, str) or len(name) > 40:
            raise _bad("姓名过长", "name too long")
        name_masked = mask_name(name.strip())
    id_hash = id_masked = None
    if id_number:
        if not isinstance(id_number, str) or not is_valid_id_number(id_number.strip().upper()):
            raise ValidationError("bad_id_number")
        from queue_server.idkey import id_digest

        id_hash = id_digest(db, id_number.strip().upper())
        id_masked = mask_id_number(id_number.strip().upper())
    with write_tx(db) as conn:
        for _ in range(20):
            code = f"YY{secrets.randbelow(10**6):06d}"
            if conn.execute("SELECT 1 FROM appointments WHERE code = ?", (code,)).fetchone() is None:
                break
        cur = conn.execute(
            "INSERT INTO appointments (code, service_code, day, slot_start, slot_end, name_masked, id_hash, "
            "id_masked, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (code, service, the_day.isoformat(), slot_start, slot_end, name_masked, id_hash, id_masked, time.time()))
        appt = _row(conn.execute(_SELECT + "WHERE a.id = ?", (cur.lastrowid,)).fetchone())
        append(conn, AppointmentChanged(appointment_id=appt["id"], code=code, before=None, after=_audit_view(appt)),
               actor=actor)
    return appt


def cancel(db: Database, code: str, *, actor: str = "system") -> dict[str, Any]:
    """Cancel a booked appointment (one already checked in keeps its ticket)."""
    with write_tx(db) as conn:
        r = conn.execute(_SELECT + "WHERE a.code = ?", (code,)).fetchone()
        if r is None:
            raise NotFound("appointment_not_found")
        before = _row(r)
        if before["status"] != "booked":
            raise Conflict("appointment_not_active")
        conn.execute("UPDATE appointments SET status = 'cancelled' WHERE id = ?", (before["id"],))
        after = {**before, "status": "cancelled"}
        append(conn, AppointmentChanged(appointment_id=before["id"], code=code, before=_audit_view(before),
                                        after=_audit_view(after)), actor=actor)
    return after
