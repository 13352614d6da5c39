"""The 差评 loop: 核实 → 整改 → 回访 → 办结, each step by a named member of staff, audited.

=================  =====================================  ===========================  ==============
step               from                                   to                           who
=================  =====================================  ===========================  ==============
``verify``         pending_verify                         rectifying                   supervisor
``apply_invalid``  pending_verify, rectifying             invalid_applied              the clerk concerned, supervisor
``approve_invalid`` invalid_applied                       invalid                      supervisor, not the applicant
``reject_invalid`` invalid_applied                        rectifying                   supervisor, not the applicant
``rectify``        rectifying                             rectified                    supervisor
``extend``         pending_verify, invalid_applied,       (unchanged)                  supervisor
                   rectifying — once, before the deadline
``follow_up``      rectified, invalid                     followed_up                  supervisor
``close``          followed_up; rectified or invalid      closed                       supervisor
                   when the 差评 is anonymous
=================  =====================================  ===========================  ==============

"supervisor" means a ``supervisor`` or ``admin`` token or login. Inputs: ``note`` on any
step (≤ 1000); ``reason`` for ``apply_invalid`` and ``extend``; ``measure`` for
``rectify``; ``days`` (1–15, default ``evaluations.extension_working_days``) for
``extend``; ``method`` (phone, sms, visit, other), ``outcome`` (satisfied, unsatisfied,
unreachable) and optionally ``evaluation`` ``{"level", "reasons"?, "comment"?}`` — the
evaluator's second evaluation — for ``follow_up``. A refusal (403 role, 409 order, 422
input) writes nothing.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.audit import append
from queue_server.db import write_tx
from queue_server.errors import Conflict, Forbidden, NotFound, ValidationError
from queue_server.evaluations import rectifications as rect
from queue_server.evaluations import store
from queue_server.evaluations.records import RectificationDeadlineChanged, RectificationStep
from queue_server.queue.common import hall
from queue_server.settings import get_setting

STEPS: dict[str, tuple[str, str]] = {
    "verify": ("核实（有效）", "verify"),
    "apply_invalid": ("申请认定无效", "apply for invalid"),
    "approve_invalid": ("批准无效申请", "approve the invalid application"),
    "reject_invalid": ("驳回无效申请", "reject the invalid application"),
    "rectify": ("登记整改", "rectify"),
    "extend": ("延期", "extend"),
    "follow_up": ("登记回访", "follow up"),
    "close": ("办结", "close"),
}
FROM: dict[str, tuple[str, ...]] = {
    "verify": ("pending_verify",),
    "apply_invalid": ("pending_verify", "rectifying"),
    "approve_invalid": ("invalid_applied",),
    "reject_invalid": ("invalid_applied",),
    "rectify": ("rectifying",),
    "extend": rect.BEFORE_RECTIFY,
    "follow_up": ("rectified", "invalid"),
    "close": ("followed_up", "rectified", "invalid"),
}
TO: dict[str, str | None] = {
    "verify": "rectifying", "apply_invalid": "invalid_applied", "approve_invalid": "invalid",
    "reject_invalid": "rectifying", "rectify": "rectified", "extend": None, "follow_up": "followed_up",
    "close": "closed",
}
SUPERVISOR_ROLES = ("supervisor", "admin")
FOLLOW_UP_METHODS = ("phone", "sms", "visit", "other")
FOLLOW_UP_OUTCOMES = ("satisfied", "unsatisfied", "unreachable")
MAX_TEXT = 1000


@dataclass(frozen=True)
class Staff:
    """Who takes a step: the token's role, the logged-in user (None for a device token)
    and the audit actor (``user:<id>`` / ``token:<name>``)."""

    role: str
    user_id: int | None
    actor: str


def _text(data: dict[str, Any], name: str, *, required: bool) -> str:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError("missing_field", field=name)
        return ""
    if not isinstance(value, str):
        raise ValidationError("bad_field", field=name)
    if len(value) > MAX_TEXT:
        raise ValidationError("field_too_long", field=name, max_len=MAX_TEXT)
    return value.strip()


def _load(conn: sqlite3.Connection, case_id: int) -> sqlite3.Row:
    row = conn.execute(f"SELECT {rect.COLUMNS} FROM rectifications WHERE id = ?", (case_id,)).fetchone()
    if row is None:
        raise NotFound("rectification_not_found")
    return row


def _check_role(conn: sqlite3.Connection, step: str, row: sqlite3.Row, who: Staff) -> None:
    if who.role in SUPERVISOR_ROLES:
        if step in ("approve_invalid", "reject_invalid") and who.user_id is not None \
                and row["invalid_applied_by"] == who.user_id:
            raise Forbidden("own_application")
        return
    if step == "apply_invalid" and who.role == "clerk":
        clerk = conn.execute("SELECT clerk_user_id FROM evaluations WHERE id = ?", (row["evaluation_id"],)).fetchone()
        if who.user_id is None or clerk is None or clerk[0] != who.user_id:
            raise Forbidden("not_concerned_clerk")
        return
    raise Forbidden("forbidden", role=who.role)


def _recount(db: Database, conn: sqlite3.Connection, row: sqlite3.Row, who: Staff) -> tuple[str, bool]:
    """The deadline as the calendar counts it now; a provisional one that changed is
    stored again and audited."""
    d = rect.current_deadline(rect.hall_calendar(db, conn), row)
    deadline = d.day.isoformat()
    if row["provisional"] and (deadline != row["deadline"] or not d.provisional):
        conn.execute("UPDATE rectifications SET deadline = ?, provisional = ? WHERE id = ?",
                     (deadline, int(d.provisional), row["id"]))
        append(conn, RectificationDeadlineChanged(rectification_id=row["id"], before=row["deadline"], after=deadline,
                                                  provisional=d.provisional), actor=who.actor)
    return deadline, d.provisional


def _second_evaluation(db: Database, conn: sqlite3.Connection, row: sqlite3.Row, value: Any, who: Staff,
                       now: float, day: str) -> int:
    if not isinstance(value, dict):
        raise ValidationError("bad_field", field="evaluation")
    if row["status"] != "rectified":
        raise Conflict("already_evaluated")  # no rectification happened: no second evaluation
    level = store.check_level(value.get("level"))
    reasons = value.get("reasons") or []
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ValidationError("bad_field", field="reasons")
    comment = value.get("comment") or ""
    if not isinstance(comment, str) or len(comment) > store.MAX_COMMENT:
        raise ValidationError("bad_field", field="comment")
    first = conn.execute("SELECT service_key, ticket_id, ticket_number, case_number, service_day, service, "
                         "service_name, window, clerk_user_id, evaluator FROM evaluations WHERE id = ?",
                         (row["evaluation_id"],)).fetchone()
    svc = store.Service(key=first[0], day=first[4], service=first[5], service_name=first[6], ended_at=now,
                        ticket_id=first[1], ticket_number=first[2], case_number=first[3], window=first[7],
                        clerk_user_id=first[8], evaluator=first[9])
    out = store.insert_evaluation(db, conn, svc, level=level, reasons=list(dict.fromkeys(reasons)),
                                  comment=comment.strip(), channel="follow_up", evaluator=first[9],
                                  recorded_by=who.actor, now=now, day=day)
    return int(out["id"])


def take_step(db: Database, case_id: int, step: str, data: dict[str, Any], who: Staff, *,
              clock: clk.Clock | None = None) -> dict[str, Any]:
    """Do one step of the loop on case ``case_id``; returns the case as :func:`get_case` reads it."""
    if step not in STEPS:
        raise NotFound("unknown_step", step=str(step)[:30])
    h = hall(db, clock)
    with write_tx(db) as conn:
        row = _load(conn, case_id)
        _check_role(conn, step, row, who)
        status = row["status"]
        if status not in FROM[step]:
            raise Conflict("step_out_of_order", status=status, status_zh=rect.STATUS_TEXT[status][0],
                           step=step, step_zh=STEPS[step][0])
        note = _text(data, "note", required=False)
        deadline, provisional = _recount(db, conn, row, who)
        sets: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        text = note
        if step == "verify" or step == "reject_invalid":
            sets["verified"] = 1
        elif step == "apply_invalid":
            text = _text(data, "reason", required=True)
            sets.update(invalid_reason=text, invalid_applied_by=who.user_id)
        elif step == "rectify":
            text = _text(data, "measure", required=True)
            sets.update(measure=text, rectified_day=h.day)
        elif step == "extend":
            if row["extension_days"] is not None:
                raise Conflict("extension_used")
            if rect.is_overdue(status, deadline, h.day):
                raise Conflict("extension_too_late")
            text = _text(data, "reason", required=True)
            days = data.get("days", int(get_setting(db, "evaluations.extension_working_days")))
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 15:
                raise ValidationError("bad_step_input", what="延期天数应为 1 到 15 个工作日",
                                      what_en="days must be 1 to 15 working days")
            d = rect.compute_deadline(rect.hall_calendar(db, conn), row["opened_day"], row["working_days"], days)
            deadline, provisional = d.day.isoformat(), d.provisional
            sets.update(extension_days=days, extension_reason=text, deadline=deadline, provisional=int(provisional))
            extra["extension_days"] = days
        elif step == "follow_up":
            method, outcome = data.get("method"), data.get("outcome")
            if method not in FOLLOW_UP_METHODS or outcome not in FOLLOW_UP_OUTCOMES:
                raise ValidationError("bad_step_input", what="回访方式或结果无效",
                                      what_en="method must be phone|sms|visit|other and outcome "
                                              "satisfied|unsatisfied|unreachable")
            sets.update(follow_up_method=method, follow_up_outcome=outcome, follow_up_note=note)
            extra.update(follow_up_method=method, follow_up_outcome=outcome)
            if data.get("evaluation") is not None:
                second = _second_evaluation(db, conn, row, data["evaluation"], who, h.now, h.day)
                sets["second_evaluation_id"] = second
                extra["second_evaluation_id"] = second
        elif step == "close":
            if status != "followed_up":
                realname = conn.execute("SELECT realname FROM evaluations WHERE id = ?",
                                        (row["evaluation_id"],)).fetchone()[0]
                if realname:
                    raise Conflict("follow_up_required")
            sets["closed_at"] = h.now
        new_status = TO[step] or status
        sets.update(status=new_status, updated_at=h.now)
        assignments = ", ".join(f"{k} = ?" for k in sets)
        conn.execute(f"UPDATE rectifications SET {assignments} WHERE id = ?", (*sets.values(), case_id))
        conn.execute("INSERT INTO rectification_steps (rectification_id, step, from_status, to_status, user_id, actor, "
                     "note, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (case_id, step, status, new_status, who.user_id, who.actor, text, h.now))
        append(conn, RectificationStep(
            rectification_id=case_id, evaluation_id=row["evaluation_id"], step=step, from_status=status,
            to_status=new_status, user_id=who.user_id, deadline=deadline, provisional=provisional,
            note_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None, **extra,
        ), actor=who.actor)
        rect.record_changed(conn, {"id": case_id, "evaluation_id": row["evaluation_id"], "status": new_status,
                                   "deadline": deadline, "provisional": provisional}, step, h.now)
    return get_case(db, case_id, clock=clock)


# --- reading -----------------------------------------------------------------------------


def allowed_steps(row: sqlite3.Row, realname: bool, deadline: str, today: str) -> list[str]:
    """The steps a supervisor could take now (the page offers these)."""
    out = []
    for step, froms in FROM.items():
        if row["status"] not in froms:
            continue
        if step == "extend" and (row["extension_days"] is not None or rect.is_overdue(row["status"], deadline, today)):
            continue
        if step == "close" and row["status"] != "followed_up" and realname:
            continue
        out.append(step)
    return out


def _case_dict(db: Database, row: sqlite3.Row, cal: Any, today: str, staff: dict[int, tuple[str, str]],
               with_steps: bool) -> dict[str, Any]:
    conn = db.conn
    s = rect.summary(row, cal, today)
    ev = store.get_evaluation(db, int(row["evaluation_id"]))
    ev.pop("rectification", None)
    late = row["rectified_day"] is not None and row["rectified_day"] > s["deadline"]
    out = {
        **s, "evaluation": ev, "realname": ev["realname"], "verified": bool(row["verified"]),
        "opened_day": row["opened_day"], "working_days": row["working_days"], "late": late,
        "extension": ({"days": row["extension_days"], "reason": row["extension_reason"]}
                      if row["extension_days"] is not None else None),
        "measure": row["measure"], "rectified_day": row["rectified_day"],
        "invalid_reason": row["invalid_reason"],
        "follow_up": ({"method": row["follow_up_method"], "outcome": row["follow_up_outcome"],
                       "note": row["follow_up_note"]} if row["follow_up_method"] else None),
        "second_evaluation": row["second_evaluation_id"],
        "opened_at": row["opened_at"], "updated_at": row["updated_at"], "closed_at": row["closed_at"],
        "allowed_steps": allowed_steps(row, ev["realname"], s["deadline"], today),
    }
    if with_steps:
        steps = conn.execute("SELECT step, from_status, to_status, user_id, actor, note, ts FROM rectification_steps "
                             "WHERE rectification_id = ? ORDER BY id", (row["id"],)).fetchall()
        out["steps"] = [{"step": r[0], "from": r[1], "to": r[2],
                         "user": ({"id": r[3], "name": staff.get(r[3], ("", ""))[0],
                                   "staff_no": staff.get(r[3], ("", ""))[1]} if r[3] is not None else None),
                         "actor": r[4], "note": r[5], "ts": r[6]} for r in steps]
    return out


def get_case(db: Database, case_id: int, *, clock: clk.Clock | None = None) -> dict[str, Any]:
    row = _load(db.conn, case_id)
    return _case_dict(db, row, rect.hall_calendar(db), hall(db, clock).day, store.staff_names(db.conn), True)


#: ``status=`` filters besides a status name.
STATUS_FILTERS = ("open", "overdue", "done")


def list_cases(db: Database, *, status: str | None = None, limit: int = 200,
               clock: clk.Clock | None = None) -> list[dict[str, Any]]:
    """Cases with overdue ones (整改超期) first (oldest deadline first), then the others still
    running by deadline, then the finished ones newest first. ``status``: a status name,
    ``open`` (not closed), ``overdue`` or ``done`` (closed or invalid)."""
    if status not in (None, "", *rect.STATUS_TEXT, *STATUS_FILTERS):
        raise ValidationError("bad_step_input", what=f"未知的状态 {str(status)[:20]}", what_en="unknown status filter")
    conn = db.conn
    where, args = "1 = 1", []
    if status in rect.STATUS_TEXT:
        where, args = "status = ?", [status]
    elif status == "open":
        where = "status != 'closed'"
    elif status == "overdue":
        where = "status IN ('pending_verify', 'invalid_applied', 'rectifying')"
    elif status == "done":
        where = "status IN ('closed', 'invalid')"
    rows = conn.execute(f"SELECT {rect.COLUMNS} FROM rectifications WHERE {where}", args).fetchall()
    cal, today, staff = rect.hall_calendar(db), hall(db, clock).day, store.staff_names(conn)
    cases = [_case_dict(db, r, cal, today, staff, False) for r in rows]
    if status == "overdue":
        cases = [c for c in cases if c["overdue"]]

    def order(c: dict[str, Any]) -> tuple[int, str, int]:
        if c["overdue"]:
            return (0, c["deadline"], c["id"])
        if c["status"] not in ("closed", "invalid"):
            return (1, c["deadline"], c["id"])
        return (2, "", -c["id"])

    cases.sort(key=order)
    return cases[: max(1, min(limit, 1000))]
