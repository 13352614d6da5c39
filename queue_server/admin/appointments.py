"""Appointments on the admin page: list a day, book one for a citizen at the desk or on
the phone, cancel one — thin calls of the queue engine's appointments
(:mod:`queue_server.queue.appointments`, the same validation as ``POST /api/appointments``
and ``queue-server appointments import``), in the shape the page has always used (``day``).

No name or ID number is stored in clear: the name masked (张*三), the ID number as its
keyed digest (:func:`queue_server.idkey.id_digest`) and masked (3701**********123X).
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.errors import ValidationError
from queue_server.queue import appointments as engine

STATUSES = engine.STATUSES


def _bad(zh: str, en: str) -> ValidationError:
    return ValidationError("bad_appointment", what=zh, what_en=en)


def _page(a: dict[str, Any]) -> dict[str, Any]:
    return {**a, "day": a["date"]}


def list_day(db: Database, day: str) -> list[dict[str, Any]]:
    """A day's appointments by slot."""
    try:
        return [_page(a) for a in engine.list_day(db, day)]
    except ValidationError as exc:
        raise _bad("日期格式应为 2026-11-25", "day must be YYYY-MM-DD") from exc


def book(db: Database, *, service: str, day: str, slot_start: str, slot_end: str, name: str | None = None,
         id_number: str | None = None, actor: str = "system", clock: clk.Clock | None = None) -> dict[str, Any]:
    """Book an appointment; returns it with its new 预约码 (``YY`` + 6 digits). A slot the
    engine refuses (``bad_slot``) reads as ``bad_appointment`` with the reason, as before."""
    body = {"code": engine.new_code(db), "service": service, "date": day, "slot_start": slot_start,
            "slot_end": slot_end, "id_number": id_number or None, "name": name or None}
    try:
        appt, _created = engine.book(db, body, actor=actor, clock=clock)
    except ValidationError as exc:
        if exc.code == "bad_slot":
            raise _bad(str(exc.details.get("why") or ""), str(exc.details.get("why_en") or "")) from exc
        raise
    return _page(appt)


def cancel(db: Database, code: str, *, actor: str = "system") -> dict[str, Any]:
    """Cancel a booked appointment (one already checked in keeps its ticket; cancelling
    twice is ``appointment_not_active`` here)."""
    return _page(engine.cancel(db, code, actor=actor, again_ok=False))
