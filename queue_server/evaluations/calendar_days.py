"""The days an admin enters for years the official calendar library does not know yet
(``queue-server evaluations calendar add``): holidays, and weekend days made working days
(调休). Entering or removing one counts every provisional deadline again (audited).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlite_utils import Database

from queue_server.audit import append
from queue_server.db import write_tx
from queue_server.errors import ValidationError
from queue_server.evaluations import rectifications as rect
from queue_server.evaluations.records import CalendarDayChanged, RectificationDeadlineChanged
from queue_server.evaluations.workdays import HallCalendar, known_years

KINDS = ("holiday", "workday")


def _day(text: str) -> dt.date:
    try:
        d = dt.date.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ValidationError("bad_calendar_day", what=f"{text} 不是 YYYY-MM-DD 日期",
                              what_en=f"{text} is not a YYYY-MM-DD date") from exc
    if len(text) != 10:
        raise ValidationError("bad_calendar_day", what=f"{text} 不是 YYYY-MM-DD 日期",
                              what_en=f"{text} is not a YYYY-MM-DD date")
    return d


def add_day(db: Database, day: str, kind: str, *, note: str = "", actor: str = "cli") -> dict[str, Any]:
    """Enter a holiday or 调休 working day of a year the library does not know; returns the
    deadlines it changed."""
    d = _day(day)
    if kind not in KINDS:
        raise ValidationError("bad_calendar_day", what="类型应为 holiday 或 workday", what_en="kind: holiday or workday")
    if HallCalendar.is_known(d):
        raise ValidationError("bad_calendar_day", what=f"{d.year} 年的国家日历已知，无需录入",
                              what_en=f"the official calendar of {d.year} is known; nothing to enter")
    with write_tx(db) as conn:
        conn.execute("INSERT INTO evaluation_calendar_days (day, kind, note, created_at) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, note = excluded.note",
                     (d.isoformat(), kind, note[:200], time.time()))
        append(conn, CalendarDayChanged(day=d.isoformat(), action="add", day_kind=kind), actor=actor)
        changed = _recount_provisional(db, conn, actor)
    return {"day": d.isoformat(), "kind": kind, "deadlines_changed": changed}


def remove_day(db: Database, day: str, *, actor: str = "cli") -> dict[str, Any]:
    d = _day(day)
    with write_tx(db) as conn:
        n = conn.execute("DELETE FROM evaluation_calendar_days WHERE day = ?", (d.isoformat(),)).rowcount
        if n:
            append(conn, CalendarDayChanged(day=d.isoformat(), action="remove"), actor=actor)
        changed = _recount_provisional(db, conn, actor) if n else 0
    return {"day": d.isoformat(), "removed": bool(n), "deadlines_changed": changed}


def list_days(db: Database) -> list[dict[str, Any]]:
    return [{"day": r[0], "kind": r[1], "note": r[2]} for r in
            db.conn.execute("SELECT day, kind, note FROM evaluation_calendar_days ORDER BY day")]


def refresh(db: Database, *, actor: str = "cli") -> int:
    """Count every provisional deadline again (after upgrading ``chinesecalendar``)."""
    with write_tx(db) as conn:
        return _recount_provisional(db, conn, actor)


def _recount_provisional(db: Database, conn: Any, actor: str) -> int:
    cal = rect.hall_calendar(db, conn)
    changed = 0
    for row in conn.execute(f"SELECT {rect.COLUMNS} FROM rectifications WHERE provisional = 1").fetchall():
        d = rect.current_deadline(cal, row)
        if d.day.isoformat() != row["deadline"] or not d.provisional:
            conn.execute("UPDATE rectifications SET deadline = ?, provisional = ? WHERE id = ?",
                         (d.day.isoformat(), int(d.provisional), row["id"]))
            append(conn, RectificationDeadlineChanged(rectification_id=row["id"], before=row["deadline"],
                                                      after=d.day.isoformat(), provisional=d.provisional), actor=actor)
            changed += 1
    return changed


def status(db: Database) -> dict[str, Any]:
    """The library's known years and what the hall entered."""
    years = sorted(known_years())
    return {"library_years": [years[0], years[-1]] if years else [], "entered": list_days(db)}
