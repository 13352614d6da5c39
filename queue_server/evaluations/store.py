"""Recording evaluations (好差评) and reading them back.

The rules (docs/evaluations.md):

* Five fixed levels (5 非常满意 … 1 非常不满意); 2 and 1 are 差评 and need at least one
  reason code of the current list; levels 3–5 take none. Optional comment (≤ 500).
* What is rated: a finished ticket (status ``done``; by id, or by its public progress code
  for the phone channel) or a kiosk case by its number. 一次一评: one evaluation per service;
  a second one (``count`` 2) only after that service's 差评 was rectified.
* Channels (internal codes): ``window`` (the rating pad), ``kiosk``, ``phone`` (the
  progress page), ``follow_up`` (the evaluator's answer to a 回访, recorded by staff); the
  province's code is taken from ``evaluations.channel_codes`` when the evaluation is made.
* The evaluator is anonymous or masked (张*三, 3701**********123X): a value without a ``*``
  or with a long run of digits is refused. A ticket taken with an ID card carries its masked
  ID, which makes the evaluation 实名 (the hall can reach the person for the 回访).
* A 差评 opens a rectification case in the same transaction (:mod:`.rectifications`).
* Every evaluation is audited (``evaluation.created``) and recorded as an event of the same
  name for the city hub (which pushes 差评 to the province).
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.audit import append
from queue_server.cases import get_case
from queue_server.db import write_tx
from queue_server.errors import Conflict, NotFound, ValidationError
from queue_server.evaluations import event_types  # noqa: F401  (declares what this module records)
from queue_server.evaluations import rectifications as rect
from queue_server.evaluations.reasons import check_reasons, reason_names
from queue_server.evaluations.records import EvaluationCreated
from queue_server.events import record_event
from queue_server.queue.common import hall
from queue_server.settings import get_setting

#: level → (Chinese, English). Every level is offered the same way; none is preselected.
LEVELS: dict[int, tuple[str, str]] = {
    5: ("非常满意", "Very satisfied"),
    4: ("满意", "Satisfied"),
    3: ("基本满意", "Fairly satisfied"),
    2: ("不满意", "Dissatisfied"),
    1: ("非常不满意", "Very dissatisfied"),
}
CHANNELS = ("window", "kiosk", "phone", "follow_up")
#: Channels a caller may use directly (``follow_up`` is recorded by the loop's step).
PUBLIC_CHANNELS = ("window", "kiosk", "phone")
MAX_COMMENT = 500

_MASK_DIGITS = re.compile(r"\d{7,}")


@dataclass(frozen=True)
class Service:
    """The service being rated: a finished ticket or a kiosk case."""

    key: str
    day: str
    service: str
    service_name: str
    ended_at: float
    ticket_id: int | None = None
    ticket_number: str | None = None
    case_number: str | None = None
    window: int | None = None
    clerk_user_id: int | None = None
    evaluator: str = ""


def is_bad(level: int) -> bool:
    """差评: levels 1 and 2."""
    return level <= 2


def check_level(level: Any) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS:
        raise ValidationError("bad_level")
    return level


def check_evaluator(value: Any) -> str:
    """A masked evaluator or ``""`` (anonymous); never a full name or ID number."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > 40 or "*" not in value or _MASK_DIGITS.search(value):
        raise ValidationError("bad_evaluator")
    return value.strip()


def _ticket_service(conn: sqlite3.Connection, *, ticket_id: int | None = None, code: str | None = None) -> Service:
    where, arg = ("t.id = ?", ticket_id) if ticket_id is not None else ("t.progress_code = ?", code)
    row = conn.execute(
        "SELECT t.id, t.day, t.number, t.status, t.service_code, s.name, t.window, t.clerk_user_id, "
        f"t.finished_at, t.id_masked FROM tickets t JOIN services s ON s.code = t.service_code WHERE {where}",
        (arg,),
    ).fetchone()
    if row is None:
        raise NotFound("ticket_not_found", ticket=ticket_id if ticket_id is not None else "code")
    if row[3] != "done":
        raise Conflict("ticket_not_done", number=row[2])
    return Service(key=f"ticket:{row[1]}:{row[2]}", day=row[1], service=row[4], service_name=row[5],
                   ended_at=float(row[8] or 0), ticket_id=row[0], ticket_number=row[2], window=row[6],
                   clerk_user_id=row[7], evaluator=row[9] or "")


def _case_service(conn: sqlite3.Connection, number: str) -> Service:
    c = get_case(conn, number)
    return Service(key=f"case:{c['number']}", day=c["day"], service=c["item"], service_name=c["item_name"],
                   ended_at=float(c["updated_at"] or c["created_at"]), case_number=c["number"])


def resolve_service(conn: sqlite3.Connection, *, ticket: Any = None, code: Any = None, case: Any = None) -> Service:
    """The service a request names: exactly one of ``ticket`` (id), ``code``, ``case``."""
    given = [x for x in (ticket, code, case) if x is not None]
    if len(given) != 1:
        raise ValidationError("evaluation_target")
    if ticket is not None:
        if isinstance(ticket, bool) or not isinstance(ticket, int):
            raise ValidationError("bad_field", field="ticket")
        return _ticket_service(conn, ticket_id=ticket)
    if code is not None:
        if not isinstance(code, str) or not 4 <= len(code) <= 32:
            raise ValidationError("bad_progress_code")
        return _ticket_service(conn, code=code)
    if not isinstance(case, str):
        raise ValidationError("bad_field", field="case")
    return _case_service(conn, case)


def _check_period(db: Database, svc: Service, channel: str, now: float) -> None:
    if channel == "phone":
        limit = float(get_setting(db, "evaluations.phone_days")) * 86400
    elif channel in ("window", "kiosk"):
        limit = float(get_setting(db, "evaluations.onsite_hours")) * 3600
    else:
        return
    if now - svc.ended_at > limit:
        raise Conflict("rating_closed")


def _next_count(conn: sqlite3.Connection, key: str) -> int:
    """1 for the first evaluation; 2 when the first was a 差评 that has been rectified."""
    rows = conn.execute("SELECT id, count FROM evaluations WHERE service_key = ? ORDER BY count", (key,)).fetchall()
    if not rows:
        return 1
    if len(rows) > 1:
        raise Conflict("already_evaluated")
    if rect.allows_second_evaluation(conn, int(rows[0][0])):
        return 2
    raise Conflict("already_evaluated")


def channel_code(db: Database, channel: str) -> str:
    codes = get_setting(db, "evaluations.channel_codes") or {}
    return str(codes.get(channel) or channel)


def insert_evaluation(
    db: Database, conn: sqlite3.Connection, svc: Service, *, level: int, reasons: list[str], comment: str,
    channel: str, evaluator: str, recorded_by: str, now: float, day: str,
) -> dict[str, Any]:
    """Record one evaluation inside the caller's write transaction (rules already checked
    except the count, the reasons and 一次一评); opens the rectification of a 差评."""
    count = _next_count(conn, svc.key)
    version = check_reasons(conn, level, reasons)
    code = channel_code(db, channel)
    cur = conn.execute(
        "INSERT INTO evaluations (service_key, count, ticket_id, ticket_number, case_number, service_day, service, "
        "service_name, window, clerk_user_id, channel, channel_code, level, reasons, reasons_version, comment, "
        "evaluator, realname, recorded_by, day, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?)",
        (svc.key, count, svc.ticket_id, svc.ticket_number, svc.case_number, svc.day, svc.service, svc.service_name,
         svc.window, svc.clerk_user_id, channel, code, level, json.dumps(reasons), version, comment, evaluator,
         1 if evaluator else 0, recorded_by, day, now),
    )
    eid = int(cur.lastrowid or 0)
    opened: dict[str, Any] | None = None
    if is_bad(level):
        opened = rect.open_case(db, conn, eid, day=day, now=now, actor=recorded_by)
    append(conn, EvaluationCreated(
        evaluation_id=eid, count=count, level=level, channel=channel, channel_code=code, service=svc.service,
        reasons=list(reasons), reasons_version=version, realname=bool(evaluator), has_comment=bool(comment),
        ticket_id=svc.ticket_id, case=svc.case_number, window=svc.window, clerk_user_id=svc.clerk_user_id,
        rectification_id=opened["id"] if opened else None, deadline=opened["deadline"] if opened else None,
        provisional=opened["provisional"] if opened else None,
    ), actor=recorded_by)
    data: dict[str, Any] = {"id": eid, "level": level, "channel": channel, "channel_code": code,
                            "service": svc.service, "window": svc.window}
    if svc.case_number is not None:
        data["case"] = svc.case_number
    else:
        data["ticket"] = svc.ticket_id
        data["ticket_number"] = svc.ticket_number
    data.update({"service_day": svc.day, "count": count, "reasons": list(reasons), "reasons_version": version,
                 "bad": is_bad(level), "realname": bool(evaluator),
                 "rectification": opened["id"] if opened else None, "created_at": now})
    record_event(conn, "evaluation.created", data, ts=now)
    if opened is not None:
        rect.record_changed(conn, opened, "open", now)
    out: dict[str, Any] = {"id": eid, "level": level, "count": count}
    if opened is not None:
        out["rectification"] = {"id": opened["id"], "deadline": opened["deadline"],
                                "provisional": opened["provisional"]}
    return out


def evaluate(
    db: Database, *, level: Any, channel: Any, ticket: Any = None, code: Any = None, case: Any = None,
    reasons: Any = None, comment: Any = None, evaluator: Any = None, recorded_by: str,
    clock: clk.Clock | None = None,
) -> dict[str, Any]:
    """Record an evaluation (``POST /api/evaluations``); returns ``{"id", "level", "count",
    "rectification"?}``. Every refusal raises before anything is written."""
    if channel not in PUBLIC_CHANNELS:
        raise ValidationError("bad_channel", channel=str(channel)[:20])
    lvl = check_level(level)
    if reasons is None:
        reasons = []
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons) or len(reasons) > 20:
        raise ValidationError("bad_field", field="reasons")
    reasons = list(dict.fromkeys(reasons))
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise ValidationError("bad_field", field="comment")
    if len(comment) > MAX_COMMENT:
        raise ValidationError("field_too_long", field="comment", max_len=MAX_COMMENT)
    masked = check_evaluator(evaluator)
    h = hall(db, clock)
    with write_tx(db) as conn:
        svc = resolve_service(conn, ticket=ticket, code=code, case=case)
        _check_period(db, svc, channel, h.now)
        return insert_evaluation(db, conn, svc, level=lvl, reasons=reasons, comment=comment.strip(),
                                 channel=channel, evaluator=masked or svc.evaluator, recorded_by=recorded_by,
                                 now=h.now, day=h.day)


# --- reading -----------------------------------------------------------------------------

_COLS = ("id, service_key, count, ticket_id, ticket_number, case_number, service_day, service, service_name, "
         "window, clerk_user_id, channel, channel_code, level, reasons, reasons_version, comment, evaluator, "
         "realname, recorded_by, day, created_at")


def _row_dict(r: sqlite3.Row, names: dict[tuple[str, str], tuple[str, str]],
              staff: dict[int, tuple[str, str]]) -> dict[str, Any]:
    codes = json.loads(r["reasons"])
    clerk = None
    if r["clerk_user_id"] is not None:
        n = staff.get(int(r["clerk_user_id"]), ("", ""))
        clerk = {"id": r["clerk_user_id"], "name": n[0], "staff_no": n[1]}
    return {
        "id": r["id"], "count": r["count"], "level": r["level"], "level_name": LEVELS[r["level"]][0],
        "level_name_en": LEVELS[r["level"]][1], "bad": is_bad(r["level"]),
        "channel": r["channel"], "channel_code": r["channel_code"],
        "ticket": r["ticket_id"], "ticket_number": r["ticket_number"], "case": r["case_number"],
        "service": r["service"], "service_name": r["service_name"], "service_day": r["service_day"],
        "window": r["window"], "clerk": clerk,
        "reasons": [{"code": c, "name": names.get((r["reasons_version"], c), (c, c))[0],
                     "name_en": names.get((r["reasons_version"], c), (c, c))[1]} for c in codes],
        "reasons_version": r["reasons_version"], "comment": r["comment"],
        "evaluator": r["evaluator"], "realname": bool(r["realname"]),
        "day": r["day"], "created_at": r["created_at"],
    }


def staff_names(conn: sqlite3.Connection) -> dict[int, tuple[str, str]]:
    return {int(r[0]): (r[1], r[2]) for r in conn.execute("SELECT id, display_name, staff_no FROM users")}


def get_evaluation(db: Database, evaluation_id: int, *, clock: clk.Clock | None = None) -> dict[str, Any]:
    conn = db.conn
    r = conn.execute(f"SELECT {_COLS} FROM evaluations WHERE id = ?", (evaluation_id,)).fetchone()
    if r is None:
        raise NotFound("evaluation_not_found")
    out = _row_dict(r, reason_names(conn), staff_names(conn))
    out["rectification"] = rect.case_summaries(db, [evaluation_id], hall(db, clock).day).get(evaluation_id)
    return out


def list_evaluations(db: Database, *, date_from: str | None = None, date_to: str | None = None,
                     level: int | None = None, bad: bool | None = None, channel: str | None = None,
                     service: str | None = None, window: int | None = None, clerk: int | None = None,
                     limit: int = 100, before: int | None = None,
                     clock: clk.Clock | None = None) -> list[dict[str, Any]]:
    """Evaluations newest first, filtered (``date_from``/``date_to``: the evaluation's day)."""
    where, args = ["1 = 1"], []
    for cond, value in (("day >= ?", date_from), ("day <= ?", date_to), ("level = ?", level),
                        ("channel = ?", channel), ("service = ?", service), ("window = ?", window),
                        ("clerk_user_id = ?", clerk), ("id < ?", before)):
        if value is not None:
            where.append(cond)
            args.append(value)
    if bad is not None:
        where.append("level <= 2" if bad else "level >= 3")
    conn = db.conn
    rows = conn.execute(f"SELECT {_COLS} FROM evaluations WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                        (*args, max(1, min(limit, 1000)))).fetchall()
    names, staff = reason_names(conn), staff_names(conn)
    cases = rect.case_summaries(db, [int(r["id"]) for r in rows], hall(db, clock).day)
    out = []
    for r in rows:
        d = _row_dict(r, names, staff)
        d["rectification"] = cases.get(int(r["id"]))
        out.append(d)
    return out


def ticket_rating_state(db: Database, ticket_id: int, *, clock: clk.Clock | None = None) -> dict[str, Any]:
    """What the window pad needs after ``ticket.finished``: the ticket's number and 事项, whether
    it is done and already rated, and how long ago it finished (server clock)."""
    conn = db.conn
    row = conn.execute(
        "SELECT t.id, t.day, t.number, t.status, t.service_code, s.name, s.name_en, t.window, t.finished_at "
        "FROM tickets t JOIN services s ON s.code = t.service_code WHERE t.id = ?", (ticket_id,)).fetchone()
    if row is None:
        raise NotFound("ticket_not_found", ticket=ticket_id)
    now = clk.now(clock)
    rated = conn.execute("SELECT 1 FROM evaluations WHERE service_key = ?",
                         (f"ticket:{row[1]}:{row[2]}",)).fetchone() is not None
    return {"ticket": row[0], "number": row[2], "status": row[3], "service": row[4], "service_name": row[5],
            "service_name_en": row[6], "window": row[7], "rated": rated,
            "finished_seconds_ago": (now - row[8]) if row[8] else None}


def phone_rating_state(db: Database, code: str, *, clock: clk.Clock | None = None) -> dict[str, Any]:
    """What the progress page offers: ``{"open", "rated", "closes_at"}`` for a ticket's code."""
    conn = db.conn
    row = conn.execute("SELECT day, number, status, finished_at FROM tickets WHERE progress_code = ?",
                       (code,)).fetchone()
    if row is None or row[2] != "done" or not row[3]:
        return {"open": False, "rated": False, "closes_at": None}
    rated = conn.execute("SELECT 1 FROM evaluations WHERE service_key = ?",
                         (f"ticket:{row[0]}:{row[1]}",)).fetchone() is not None
    closes = float(row[3]) + float(get_setting(db, "evaluations.phone_days")) * 86400
    return {"open": not rated and clk.now(clock) <= closes, "rated": rated, "closes_at": closes}
