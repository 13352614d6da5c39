"""Rectification cases (差评整改): opening one for a 差评, its deadline on the hall's
working-day calendar, and how a case reads. The steps of the loop are in :mod:`.loop`.

Statuses: ``pending_verify`` 待核实 → ``rectifying`` 待整改 (after 核实, or after an
invalid application was rejected) → ``rectified`` 已整改 → ``followed_up`` 已回访 →
``closed`` 已办结; ``invalid_applied`` 无效申请中 → ``invalid`` 已认定无效 (approved) or back to
``rectifying`` (rejected). A case is overdue (整改超期) while it is still before 整改
(``pending_verify``, ``invalid_applied``, ``rectifying``) and the hall's today is after its
deadline; one rectified after its deadline was rectified late.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from sqlite_utils import Database

from queue_server.evaluations import event_types  # noqa: F401  (declares what this module records)
from queue_server.evaluations.workdays import Deadline, HallCalendar
from queue_server.events import record_event
from queue_server.settings import get_setting

#: status → (Chinese, English)
STATUS_TEXT: dict[str, tuple[str, str]] = {
    "pending_verify": ("待核实", "To verify"),
    "invalid_applied": ("无效申请待审批", "Invalid application pending"),
    "rectifying": ("待整改", "To rectify"),
    "rectified": ("已整改", "Rectified"),
    "invalid": ("已认定无效", "Declared invalid"),
    "followed_up": ("已回访", "Followed up"),
    "closed": ("已办结", "Closed"),
}
#: Statuses in which the deadline still runs (整改 not done yet).
BEFORE_RECTIFY = ("pending_verify", "invalid_applied", "rectifying")
OVERDUE_TEXT = ("整改超期", "Overdue")

_COLS = ("id, evaluation_id, status, verified, opened_day, working_days, deadline, provisional, extension_days, "
         "extension_reason, measure, rectified_day, invalid_reason, invalid_applied_by, follow_up_method, "
         "follow_up_outcome, follow_up_note, second_evaluation_id, opened_at, updated_at, closed_at")
COLUMNS = _COLS


def hall_calendar(db: Database, conn: sqlite3.Connection | None = None) -> HallCalendar:
    """The calendar deadlines are counted on: official + the hall's closed days + admin entries."""
    c = conn if conn is not None else db.conn
    closed = sorted(get_setting(db, "closed_days") or {})  # the hall's closed days (queue_server/queue/hours.py)
    entered = [(r[0], r[1]) for r in c.execute("SELECT day, kind FROM evaluation_calendar_days")]
    return HallCalendar.of(closed, entered)


def compute_deadline(cal: HallCalendar, opened_day: str, working_days: int,
                     extension_days: int | None = None) -> Deadline:
    """N working days after the day of the 差评, then the extension's days after that."""
    first = cal.add_working_days(dt.date.fromisoformat(opened_day), working_days)
    if not extension_days:
        return first
    second = cal.add_working_days(first.day, extension_days)
    return Deadline(second.day, first.provisional or second.provisional)


def open_case(db: Database, conn: sqlite3.Connection, evaluation_id: int, *, day: str, now: float,
              actor: str) -> dict[str, Any]:
    """Open the rectification case of a 差评 in the caller's transaction (its first step row,
    ``open``, names who recorded the 差评)."""
    n = int(get_setting(db, "evaluations.deadline_working_days"))
    d = compute_deadline(hall_calendar(db, conn), day, n)
    cur = conn.execute(
        "INSERT INTO rectifications (evaluation_id, status, opened_day, working_days, deadline, provisional, "
        "opened_at, updated_at) VALUES (?, 'pending_verify', ?, ?, ?, ?, ?, ?)",
        (evaluation_id, day, n, d.day.isoformat(), int(d.provisional), now, now),
    )
    case_id = int(cur.lastrowid or 0)
    conn.execute("INSERT INTO rectification_steps (rectification_id, step, from_status, to_status, user_id, actor, "
                 "note, ts) VALUES (?, 'open', '', 'pending_verify', NULL, ?, '', ?)", (case_id, actor, now))
    return {"id": case_id, "evaluation_id": evaluation_id, "status": "pending_verify",
            "deadline": d.day.isoformat(), "provisional": d.provisional}


def record_changed(conn: sqlite3.Connection, case: dict[str, Any], step: str, now: float) -> None:
    """The ``rectification.changed`` event (ids, status and dates only)."""
    record_event(conn, "rectification.changed", {
        "id": case["id"], "evaluation": case["evaluation_id"], "step": step, "status": case["status"],
        "deadline": case["deadline"], "provisional": bool(case["provisional"]),
    }, ts=now)


def allows_second_evaluation(conn: sqlite3.Connection, evaluation_id: int) -> bool:
    """The numbered second evaluation follows a rectification: the first evaluation's case
    has been rectified (and maybe followed up or closed since)."""
    row = conn.execute("SELECT status, measure FROM rectifications WHERE evaluation_id = ?", (evaluation_id,)).fetchone()
    return row is not None and row[0] in ("rectified", "followed_up", "closed") and row[1] is not None


def is_overdue(status: str, deadline: str, today: str) -> bool:
    """整改超期: still before 整改 and today is after the deadline."""
    return status in BEFORE_RECTIFY and today > deadline


def current_deadline(cal: HallCalendar, row: sqlite3.Row) -> Deadline:
    """The case's deadline as the calendar counts it now (differs from the stored one only
    for a provisional deadline whose year's calendar became known or was entered)."""
    if not row["provisional"]:
        return Deadline(dt.date.fromisoformat(row["deadline"]), False)
    return compute_deadline(cal, row["opened_day"], row["working_days"], row["extension_days"])


def summary(row: sqlite3.Row, cal: HallCalendar, today: str) -> dict[str, Any]:
    d = current_deadline(cal, row)
    deadline = d.day.isoformat()
    overdue = is_overdue(row["status"], deadline, today)
    zh, en = OVERDUE_TEXT if overdue else STATUS_TEXT[row["status"]]
    return {"id": row["id"], "status": row["status"], "status_name": zh, "status_name_en": en,
            "deadline": deadline, "provisional": d.provisional, "overdue": overdue}


def case_summaries(db: Database, ids: list[int], today: str) -> dict[int, dict[str, Any]]:
    """evaluation id → its case summary (only evaluations that opened a case)."""
    if not ids:
        return {}
    conn = db.conn
    cal = hall_calendar(db)
    marks = ",".join("?" * len(ids))
    rows = conn.execute(f"SELECT {_COLS} FROM rectifications WHERE evaluation_id IN ({marks})", ids).fetchall()
    return {int(r["evaluation_id"]): summary(r, cal, today) for r in rows}
