"""The days an admin enters for years the official calendar library does not know yet
(``queue-server evaluations calendar add``, ``POST /api/evaluations/calendar``): holidays,
and weekend days made working days (调休). Entering or removing one counts every provisional
deadline again (audited). :func:`year_days` lists a year as deadlines count it: the official
schedule (``chinesecalendar``) of a known year; for another year the statutory holidays
(``holidays``) with the hall's entries over them.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import chinese_calendar
from sqlite_utils import Database

from queue_server.audit import append
from queue_server.db import write_tx
from queue_server.errors import ValidationError
from queue_server.evaluations import rectifications as rect
from queue_server.evaluations.records import CalendarDayChanged, RectificationDeadlineChanged
from queue_server.evaluations.workdays import (
    OFFICIAL_NAMES_ZH,
    HallCalendar,
    known_years,
    library_version,
    statutory_holidays,
    statutory_library_version,
)

KINDS = ("holiday", "workday")


def _day(text: str) -> dt.date:
    shown = str(text)[:30]
    try:
        d = dt.date.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ValidationError("bad_calendar_day", what=f"{shown} 不是 YYYY-MM-DD 日期",
                              what_en=f"{shown} is not a YYYY-MM-DD date") from exc
    if len(text) != 10:
        raise ValidationError("bad_calendar_day", what=f"{shown} 不是 YYYY-MM-DD 日期",
                              what_en=f"{shown} is not a YYYY-MM-DD date")
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
    """Remove an entered day (``removed`` is false when it was not entered: nothing written)."""
    d = _day(day)
    with write_tx(db) as conn:
        n = conn.execute("DELETE FROM evaluation_calendar_days WHERE day = ?", (d.isoformat(),)).rowcount
        if n:
            append(conn, CalendarDayChanged(day=d.isoformat(), action="remove"), actor=actor)
        changed = _recount_provisional(db, conn, actor) if n else 0
    return {"day": d.isoformat(), "removed": bool(n), "deadlines_changed": changed}


def year_days(db: Database, year: int) -> dict[str, Any]:
    """The non-ordinary days of ``year`` as deadlines count them (the hall's closed days, kept
    on the hours page, are not listed): ``{"year", "provisional", "official_years", "libraries",
    "days": [{"day", "kind": "holiday"|"workday", "source": "official"|"statutory"|"hall", "name",
    "name_en", "note"}]}``. A known year lists the State Council's schedule; days entered for it
    before the library knew it are listed with ``"ignored": true``. Another year lists the
    statutory holidays, and the hall's entries in their place where it entered the same day
    (``"statutory"`` then names the holiday it overrides)."""
    if not 1 <= year <= 9999:
        raise ValidationError("bad_calendar_day", what=f"年份 {year} 无效", what_en=f"year {year} is out of range")
    known = year in known_years()
    days: dict[str, dict[str, Any]] = {}
    if known:
        for table, kind in ((chinese_calendar.holidays, "holiday"), (chinese_calendar.workdays, "workday")):
            for d, name in table.items():
                if d.year != year:
                    continue
                en = str(name)
                zh = OFFICIAL_NAMES_ZH.get(en, en)
                if kind == "workday":
                    zh, en = f"{zh}调休上班", f"{en} (make-up working day)"
                days[d.isoformat()] = {"day": d.isoformat(), "kind": kind, "source": "official", "name": zh,
                                       "name_en": en, "note": ""}
    else:
        for d, (zh, en) in statutory_holidays(year).items():
            days[d.isoformat()] = {"day": d.isoformat(), "kind": "holiday", "source": "statutory", "name": zh,
                                   "name_en": en, "note": ""}
    first, last = f"{year:04d}-01-01", f"{year:04d}-12-31"
    for day, kind, note in db.conn.execute("SELECT day, kind, note FROM evaluation_calendar_days "
                                           "WHERE day BETWEEN ? AND ? ORDER BY day", (first, last)):
        row: dict[str, Any] = {"day": day, "kind": kind, "source": "hall", "name": "", "name_en": "", "note": note}
        under = days.get(day)
        if known:
            row["ignored"] = True
            day = f"{day}#hall"  # listed beside the official day, which counts
        elif under is not None:
            row["statutory"] = under["name"]
        days[day] = row
    years = sorted(known_years())
    return {"year": year, "provisional": not known, "official_years": [years[0], years[-1]] if years else [],
            "libraries": {"official": f"chinesecalendar {library_version()}",
                          "statutory": f"holidays {statutory_library_version()}"},
            "days": sorted(days.values(), key=lambda r: (r["day"], r["source"] == "hall"))}


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
