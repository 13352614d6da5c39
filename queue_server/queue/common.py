"""Shared pieces of the engine: hall context, window and ticket rows, ticket dicts."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.errors import NotFound, window_not_found
from queue_server.settings import all_settings

PRIORITY_GROUPS = ("green", "disabled", "elderly", "military")
"""Priority groups a ticket may carry (绿色通道, 残疾人, 老年人, 军人)."""

APPOINTMENT = "appointment"
"""The priority of an on-time appointment ticket (set by check-in, never by a client)."""

OPEN_STATUSES = ("waiting", "called", "serving")


@dataclass(frozen=True)
class Hall:
    """The settings and time an operation runs with."""

    settings: dict[str, Any]
    now: float
    tz: str
    day: str


def hall(db: Database, clock: clk.Clock | None = None) -> Hall:
    settings = all_settings(db)
    now = clk.now(clock)
    tz = str(settings["timezone"])
    return Hall(settings=settings, now=now, tz=tz, day=clk.business_day(now, tz))


@dataclass(frozen=True)
class Window:
    number: int
    name: str
    services: list[str]
    status: str
    pause_reason: str | None
    clerk_user_id: int | None
    kind: str

    @property
    def universal(self) -> bool:
        return "*" in self.services

    def serves(self, service: str) -> bool:
        return self.universal or service in self.services


def window_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Window:
    return Window(
        number=int(row[0]),
        name=str(row[1]),
        services=list(json.loads(row[2])),
        status=str(row[3]),
        pause_reason=row[4],
        clerk_user_id=row[5],
        kind=str(row[6]),
    )


WINDOW_COLUMNS = "number, name, services, status, pause_reason, clerk_user_id, kind"


def load_window(conn: sqlite3.Connection, number: int) -> Window:
    row = conn.execute(f"SELECT {WINDOW_COLUMNS} FROM windows WHERE number = ?", (number,)).fetchone()
    if row is None:
        raise window_not_found(number)
    return window_from_row(row)


def load_windows(conn: sqlite3.Connection) -> list[Window]:
    rows = conn.execute(f"SELECT {WINDOW_COLUMNS} FROM windows ORDER BY number").fetchall()
    return [window_from_row(r) for r in rows]


TICKET_SELECT = """
SELECT t.id, t.day, t.number, t.service_code, s.name AS service_name, s.name_en AS service_name_en,
       t.category, t.status, t.priority, t.issued_at, t.called_at, t.started_at, t.finished_at,
       t.closed_at, t.progress_code, t.window, t.referral_reason, t.id_masked, t.source,
       t.issued_by, t.call_count, t.transfer_window, t.transfer_note, t.appointment_id,
       a.code AS appt_code, a.slot_start, a.slot_end, a.name_masked AS appt_name,
       a.status AS appt_status, w.name AS window_name
FROM tickets t
JOIN services s ON s.code = t.service_code
LEFT JOIN appointments a ON a.id = t.appointment_id
LEFT JOIN windows w ON w.number = t.window
"""


def fetch_ticket_row(conn: sqlite3.Connection, ticket_id: int) -> sqlite3.Row:
    row = conn.execute(TICKET_SELECT + " WHERE t.id = ?", (ticket_id,)).fetchone()
    if row is None:
        raise NotFound("ticket_not_found", ticket=ticket_id)
    return row


def ticket_dict(row: sqlite3.Row | dict[str, Any], *, waiting_ahead: int = 0,
                estimated_wait_minutes: int = 0) -> dict[str, Any]:
    """The ticket as the API and the other parts of the server see it."""
    appointment = None
    if row["appointment_id"] is not None:
        appointment = {
            "id": row["appointment_id"],
            "code": row["appt_code"],
            "slot_start": row["slot_start"],
            "slot_end": row["slot_end"],
            "name_masked": row["appt_name"],
            "on_time": row["priority"] == APPOINTMENT,
        }
    return {
        "id": row["id"],
        "day": row["day"],
        "number": row["number"],
        "service": row["service_code"],
        "service_name": row["service_name"],
        "service_name_en": row["service_name_en"],
        "category": row["category"],
        "status": row["status"],
        "priority": row["priority"],
        "waiting_ahead": waiting_ahead,
        "estimated_wait_minutes": estimated_wait_minutes,
        "issued_at": row["issued_at"],
        "called_at": row["called_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "progress_code": row["progress_code"],
        "window": row["window"],
        "window_name": row["window_name"],
        "call_count": row["call_count"],
        "transfer_window": row["transfer_window"],
        "transfer_note": row["transfer_note"],
        "referral_reason": row["referral_reason"],
        "id_masked": row["id_masked"],
        "source": row["source"],
        "issued_by": row["issued_by"],
        "appointment": appointment,
    }
