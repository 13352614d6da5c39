"""The figures a hall answers for (GB/T 39735): ``GET /api/stats/evaluations``.

Every figure is attributed to the **day the service was delivered** (a ticket's business
day, a kiosk case's day) and to that service's 事项, window and clerk, so that a phone
rating given days later counts for the service it rates and ``rated`` never exceeds
``served``. For a period ``from``..``to`` (both inclusive, hall time) and each group:

* ``served`` — tickets finished (status ``done``) on those days, plus kiosk cases opened on
  those days (a 秒批 case referred to a window counts once as a case; the window ticket it
  was given counts again when it is finished: two services). Tickets moved out by
  archiving count through ``evaluation_served``.
* ``rated`` — of those services, the ones with a first evaluation (count 1) so far;
  ``unrated`` = served − rated (未评价: there is no default rating).
* ``levels`` — first evaluations per level ``"1"``..``"5"``; ``good`` = levels 3–5,
  ``bad`` = levels 1–2 (差评); ``good + bad = rated``.
* ``good_rate`` = good ÷ rated; ``active_rate`` = rated ÷ served;
  ``unrated_rate`` = 1 − active_rate — each ``null`` when its divisor is 0.
* ``top_reasons`` — the reason codes of the 差评 among them, most frequent first (ties by
  code), at most 5, with their names in the list version each evaluation used.
* ``rectifications_opened`` — rectification cases of those services' evaluations (first or
  second); ``rectifications_on_time`` — rectified on or before the deadline;
  ``rectifications_overdue`` — rectified after the deadline, or not rectified yet and the
  hall's today is after the deadline (整改超期); ``rectifications_invalid`` — declared
  invalid (neither on time nor overdue); ``followed_up`` — cases with a 回访 recorded;
  ``follow_up_rate`` = followed_up ÷ rectifications_opened.
* ``second_rated`` / ``second_good`` / ``second_bad`` — numbered second evaluations (count 2).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.errors import ValidationError
from queue_server.evaluations import rectifications as rect
from queue_server.evaluations.reasons import reason_names
from queue_server.evaluations.store import staff_names
from queue_server.queue.common import hall

GROUPS = ("day", "service", "window", "clerk")
MAX_DAYS = 366
TOP_REASONS = 5


@dataclass
class _Acc:
    served: int = 0
    rated: int = 0
    levels: Counter[int] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    opened: int = 0
    on_time: int = 0
    overdue: int = 0
    invalid: int = 0
    followed_up: int = 0
    second: Counter[str] = field(default_factory=Counter)


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def parse_period(date_from: Any, date_to: Any) -> tuple[str, str]:
    def bad(zh: str, en: str) -> ValidationError:
        return ValidationError("bad_period", what=zh, what_en=en)

    try:
        a = dt.date.fromisoformat(str(date_from))
        b = dt.date.fromisoformat(str(date_to))
    except ValueError as exc:
        raise bad("from 和 to 应为 YYYY-MM-DD 日期", "from and to must be YYYY-MM-DD dates") from exc
    if len(str(date_from)) != 10 or len(str(date_to)) != 10:
        raise bad("from 和 to 应为 YYYY-MM-DD 日期", "from and to must be YYYY-MM-DD dates")
    if b < a:
        raise bad("to 早于 from", "to is before from")
    if (b - a).days >= MAX_DAYS:
        raise bad(f"期间最长 {MAX_DAYS} 天", f"at most {MAX_DAYS} days")
    return a.isoformat(), b.isoformat()


def evaluation_figures(db: Database, date_from: Any, date_to: Any, group: Any = "day", *,
                       clock: clk.Clock | None = None) -> dict[str, Any]:
    """``{"from", "to", "group", "rows": [...], "total": {...}}`` (see the module docstring)."""
    start, end = parse_period(date_from, date_to)
    if group not in GROUPS:
        raise ValidationError("bad_group")
    conn = db.conn
    names: dict[str, str] = {}
    staff = staff_names(conn)

    def key(day: str, service: str, window: int | None, clerk: int | None) -> Any:
        return {"day": day, "service": service, "window": window, "clerk": clerk}[group]

    accs: dict[Any, _Acc] = {}
    total = _Acc()

    def acc(k: Any) -> list[_Acc]:
        return [accs.setdefault(k, _Acc()), total]

    served_rows = conn.execute(
        "SELECT t.day, t.service_code, s.name, t.window, t.clerk_user_id, COUNT(*) FROM tickets t "
        "JOIN services s ON s.code = t.service_code WHERE t.status = 'done' AND t.day BETWEEN ? AND ? "
        "GROUP BY 1, 2, 4, 5", (start, end)).fetchall()
    served_rows += conn.execute(
        "SELECT v.day, v.service, COALESCE(s.name, v.service), NULLIF(v.window, 0), NULLIF(v.clerk_user_id, 0), v.n "
        "FROM evaluation_served v LEFT JOIN services s ON s.code = v.service WHERE v.day BETWEEN ? AND ?",
        (start, end)).fetchall()
    served_rows += conn.execute(
        "SELECT day, item, item_name, NULL, NULL, COUNT(*) FROM cases WHERE day BETWEEN ? AND ? GROUP BY 1, 2",
        (start, end)).fetchall()
    for day, service, name, window, clerk, n in served_rows:
        names.setdefault(service, name)
        for a in acc(key(day, service, window, clerk)):
            a.served += int(n)

    evs = conn.execute(
        "SELECT id, service_day, service, service_name, window, clerk_user_id, count, level, reasons, reasons_version "
        "FROM evaluations WHERE service_day BETWEEN ? AND ?", (start, end)).fetchall()
    by_id = {}
    for r in evs:
        k = key(r[1], r[2], r[4], r[5])
        names.setdefault(r[2], r[3])
        by_id[r[0]] = k
        for a in acc(k):
            if r[6] == 1:
                a.rated += 1
                a.levels[r[7]] += 1
                if r[7] <= 2:
                    for code in json.loads(r[8]):
                        a.reasons[(r[9] or "", code)] += 1
            else:
                a.second["rated"] += 1
                a.second["good" if r[7] >= 3 else "bad"] += 1

    today = hall(db, clock).day
    cal = rect.hall_calendar(db)
    if by_id:
        rows = conn.execute(
            f"SELECT {rect.COLUMNS} FROM rectifications r WHERE evaluation_id IN "
            "(SELECT id FROM evaluations WHERE service_day BETWEEN ? AND ?)", (start, end)).fetchall()
        for r in rows:
            deadline = rect.current_deadline(cal, r).day.isoformat()
            for a in acc(by_id[r["evaluation_id"]]):
                a.opened += 1
                if r["rectified_day"] is not None:
                    if r["rectified_day"] <= deadline:
                        a.on_time += 1
                    else:
                        a.overdue += 1
                elif r["status"] in rect.BEFORE_RECTIFY:
                    if today > deadline:
                        a.overdue += 1
                else:
                    a.invalid += 1
                if r["follow_up_method"] is not None:
                    a.followed_up += 1

    words = reason_names(conn)
    out_rows = []
    if group == "day":
        d, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        keys: list[Any] = []
        while d <= last:
            keys.append(d.isoformat())
            d += dt.timedelta(days=1)
    else:
        keys = sorted(accs, key=lambda k: (k is None, k if k is not None else 0))
    for k in keys:
        row: dict[str, Any] = {"group": "kiosk" if k is None and group == "window" else k}
        if group == "day":
            row["day"] = k
        elif group == "service":
            row.update(service=k, service_name=names.get(k, k))
        elif group == "window":
            row["window"] = k
        else:
            n = staff.get(k, ("", "")) if k is not None else ("", "")
            row.update(clerk=k, clerk_name=n[0] or None, staff_no=n[1] or None)
        row.update(_figures(accs.get(k, _Acc()), words))
        out_rows.append(row)
    return {"from": start, "to": end, "group": group, "rows": out_rows, "total": _figures(total, words)}


def _figures(a: _Acc, words: dict[tuple[str, str], tuple[str, str]]) -> dict[str, Any]:
    good = sum(n for lvl, n in a.levels.items() if lvl >= 3)
    bad = sum(n for lvl, n in a.levels.items() if lvl <= 2)
    active = _ratio(a.rated, a.served)
    by_code: Counter[str] = Counter()
    word: dict[str, tuple[str, str]] = {}
    for (version, code), n in a.reasons.items():
        by_code[code] += n
        word.setdefault(code, words.get((version, code), (code, code)))
    top = sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
    return {
        "served": a.served, "rated": a.rated, "unrated": a.served - a.rated, "good": good, "bad": bad,
        "good_rate": _ratio(good, a.rated), "active_rate": active,
        "unrated_rate": (1 - active) if active is not None else None,
        "levels": {str(lvl): a.levels.get(lvl, 0) for lvl in range(1, 6)},
        "top_reasons": [{"code": c, "name": word[c][0], "name_en": word[c][1], "count": n} for c, n in top],
        "rectifications_opened": a.opened, "rectifications_on_time": a.on_time,
        "rectifications_overdue": a.overdue, "rectifications_invalid": a.invalid,
        "followed_up": a.followed_up, "follow_up_rate": _ratio(a.followed_up, a.opened),
        "second_rated": a.second.get("rated", 0), "second_good": a.second.get("good", 0),
        "second_bad": a.second.get("bad", 0),
    }
