"""好差评 figures for the hall manager's statistics (``/admin/stats``, the exports and the
end-of-day report), registered as the ``evaluations`` statistics provider.

The figures are those of ``GET /api/stats/evaluations`` (:mod:`queue_server.evaluations.figures`,
formulas in ``docs/evaluations.md``) for the range, grouped by service: ``served``, ``rated``,
``active_rate`` (参评率 = rated ÷ served), ``good_rate`` (好评率 = good ÷ rated, good = levels
3–5), ``bad`` (差评, levels 1–2), the top 差评 reasons, and the rectification loop —
``rectifications_opened``, ``rectifications_on_time`` (rectified on or before the deadline),
``rectifications_overdue`` (整改超期) and the follow-up rate. Only first evaluations (count 1)
are ratings; a numbered second evaluation after a rectification is counted apart.

Each figure opens to its evaluations (``GET /api/stats/providers/evaluations/behind?figure=…``):
id, service day, service, window, channel, level, reason codes and time — never the
evaluator or the comment.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlite_utils import Database

from queue_server.admin.providers import stat_provider
from queue_server.admin.source import StatsSource
from queue_server.errors import ValidationError
from queue_server.evaluations import rectifications as rect
from queue_server.evaluations.figures import evaluation_figures
from queue_server.queue.common import hall

COLUMNS = [
    ["service", "事项代码", "Service code", "text"], ["service_name", "事项", "Service", "text"],
    ["served", "服务数", "Served", "int"], ["rated", "评价数", "Rated", "int"],
    ["active_rate", "参评率", "Rated share", "share"], ["good", "好评", "Good", "int"], ["bad", "差评", "Bad", "int"],
    ["good_rate", "好评率", "Good rate", "share"], ["rectifications_opened", "整改", "Rectifications", "int"],
    ["rectifications_on_time", "按期整改", "Rectified on time", "int"],
    ["rectifications_overdue", "整改超期", "Overdue", "int"],
]
BEHIND_COLUMNS = [
    ["id", "评价编号", "Evaluation", "int"], ["service_day", "服务日期", "Service day", "text"],
    ["service_name", "事项", "Service", "text"], ["window", "窗口", "Window", "text"],
    ["channel", "渠道", "Channel", "text"], ["count", "评价次数", "Count", "int"], ["level", "等级", "Level", "int"],
    ["reasons", "差评原因", "Reasons", "text"], ["created_at", "评价时间", "Rated at", "time"],
    ["rectification", "整改状态", "Rectification", "text"], ["deadline", "整改期限", "Deadline", "text"],
]
_WHERE = {
    "served": None,
    "rated": "e.count = 1",
    "good": "e.count = 1 AND e.level >= 3",
    "good_rate": "e.count = 1",
    "bad": "e.count = 1 AND e.level <= 2",
    "active_rate": "e.count = 1",
    "second_rated": "e.count = 2",
}
RECT_FIGURES = ("rectifications_opened", "rectifications_on_time", "rectifications_overdue",
                "rectifications_invalid", "followed_up")


@contextmanager
def _rows_as_dicts(src: StatsSource) -> Iterator[Database]:
    """The figures module reads columns by name: sqlite3.Row on the read-only connection."""
    before = src.conn.row_factory
    src.conn.row_factory = sqlite3.Row
    try:
        yield Database(src.conn, recursive_triggers=False, execute_plugins=False)
    finally:
        src.conn.row_factory = before


def _clock(src: StatsSource) -> Any:
    now = src.now
    return None if now is None else (lambda: now)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def classify(row: sqlite3.Row, cal: Any, today: str) -> str:
    """A rectification case as the figures count it: ``on_time``, ``overdue``, ``invalid`` or
    ``open`` (before its deadline)."""
    deadline = rect.current_deadline(cal, row).day.isoformat()
    if row["rectified_day"] is not None:
        return "on_time" if row["rectified_day"] <= deadline else "overdue"
    if row["status"] in rect.BEFORE_RECTIFY:
        return "overdue" if today > deadline else "open"
    return "invalid"


def _behind(src: StatsSource, f: str, t: str, figure: str, key: str | None) -> dict[str, Any]:
    """The evaluations behind a figure; ``key`` narrows to one service (a table row);
    ``reason:<code>`` and ``level:<n>`` to first evaluations with that reason or level."""
    params: list[Any] = [f, t]
    where = ""
    if figure.startswith("reason:"):
        where = "e.count = 1 AND e.level <= 2 AND EXISTS (SELECT 1 FROM json_each(e.reasons) j WHERE j.value = ?)"
        params.append(figure[7:])
    elif figure.startswith("level:") and figure[6:] in ("1", "2", "3", "4", "5"):
        where = "e.count = 1 AND e.level = ?"
        params.append(int(figure[6:]))
    elif figure in _WHERE and _WHERE[figure]:
        where = str(_WHERE[figure])
    elif figure in RECT_FIGURES:
        where = "r.id IS NOT NULL" + (" AND r.follow_up_method IS NOT NULL" if figure == "followed_up" else "")
    else:
        raise ValidationError("bad_stats_figure", figure=figure[:60])
    if key not in (None, "", "total"):
        where += " AND e.service = ?"
        params.append(key)
    out = []
    with _rows_as_dicts(src) as db:
        if not src.has_table("main", "evaluations"):
            return {"columns": BEHIND_COLUMNS, "rows": []}
        cal = rect.hall_calendar(db)
        today = hall(db, _clock(src)).day
        cols = ", ".join(f"r.{c.strip()} AS r_{c.strip()}" for c in rect.COLUMNS.split(","))
        rows = src.execute(
            f"SELECT e.id, e.service_day, e.service, e.service_name, e.window, e.channel, e.count, e.level, "
            f"e.reasons, e.created_at, {cols} FROM main.evaluations e LEFT JOIN main.rectifications r "
            f"ON r.evaluation_id = e.id WHERE e.service_day BETWEEN ? AND ? AND {where} ORDER BY e.id",
            params).fetchall()
        want = {"rectifications_on_time": "on_time", "rectifications_overdue": "overdue",
                "rectifications_invalid": "invalid"}.get(figure)
        for r in rows:
            state, deadline = "", ""
            if r["r_id"] is not None:
                rr = {k[2:]: r[k] for k in r.keys() if k.startswith("r_")}
                state = classify(rr, cal, today)  # type: ignore[arg-type]
                deadline = rect.current_deadline(cal, rr).day.isoformat()  # type: ignore[arg-type]
            if want is not None and state != want:
                continue
            out.append({"id": r["id"], "service_day": r["service_day"], "service": r["service"],
                        "service_name": r["service_name"], "window": r["window"], "channel": r["channel"],
                        "count": r["count"], "level": r["level"], "reasons": "、".join(json.loads(r["reasons"])),
                        "created_at": r["created_at"], "rectification": state, "deadline": deadline})
    return {"columns": BEHIND_COLUMNS, "rows": out}


@stat_provider("evaluations", "好差评", "Evaluations", behind=_behind)
def evaluation_part(src: StatsSource, f: str, t: str) -> dict[str, Any]:
    if not src.has_table("main", "evaluations"):
        return {"figures": []}
    with _rows_as_dicts(src) as db:
        by_service = evaluation_figures(db, f, t, "service", clock=_clock(src))
    tot = by_service["total"]
    rows = [{k: r.get(k) for k, *_ in COLUMNS} for r in by_service["rows"]]
    figures: list[dict[str, Any]] = [
        {"key": "served", "label": "服务数", "label_en": "Services delivered", "value": tot["served"],
         "formula": "tickets finished + kiosk cases, on the days of the range"},
        {"key": "rated", "label": "评价数", "label_en": "Rated", "value": tot["rated"], "drill": "rated",
         "formula": "first evaluations (count 1) of those services"},
        {"key": "active_rate", "label": "参评率", "label_en": "Rated share", "value": tot["active_rate"],
         "text": _pct(tot["active_rate"]), "drill": "rated", "formula": "rated ÷ served"},
        {"key": "good_rate", "label": "好评率", "label_en": "Good rate", "value": tot["good_rate"],
         "text": _pct(tot["good_rate"]), "drill": "good", "formula": "good (levels 3–5) ÷ rated"},
        {"key": "bad", "label": "差评", "label_en": "Bad (差评)", "value": tot["bad"], "drill": "bad",
         "formula": "first evaluations of level 1 or 2"},
        {"key": "rectifications_opened", "label": "整改件", "label_en": "Rectifications",
         "value": tot["rectifications_opened"], "drill": "rectifications_opened",
         "formula": "rectification cases of those services' evaluations"},
        {"key": "rectifications_on_time", "label": "按期整改", "label_en": "Rectified on time",
         "value": tot["rectifications_on_time"], "drill": "rectifications_on_time",
         "formula": "rectified on or before the working-day deadline"},
        {"key": "rectifications_overdue", "label": "整改超期", "label_en": "Rectification overdue",
         "value": tot["rectifications_overdue"], "drill": "rectifications_overdue",
         "formula": "rectified after the deadline, or not yet and the deadline has passed"},
        {"key": "follow_up_rate", "label": "回访率", "label_en": "Follow-up rate", "value": tot["follow_up_rate"],
         "text": _pct(tot["follow_up_rate"]), "drill": "followed_up",
         "formula": "rectifications with a 回访 ÷ rectifications"},
    ]
    for i, r in enumerate(tot["top_reasons"], 1):
        figures.append({"key": f"reason_{i}", "label": f"差评原因 {i}：{r['name']}",
                        "label_en": f"Bad reason {i}: {r['name_en']}", "value": r["count"],
                        "drill": f"reason:{r['code']}", "formula": "差评 naming this reason"})
    chart = {"type": "bar", "title": "评价等级分布", "title_en": "Ratings by level",
             "labels": ["1 非常不满意", "2 不满意", "3 基本满意", "4 满意", "5 非常满意"],
             "labels_en": ["1", "2", "3", "4", "5"],
             "datasets": [{"label": "评价数", "label_en": "Rated", "data": [tot["levels"][str(i)] for i in range(1, 6)],
                           "color": "#1455c0", "drill": [f"level:{i}" for i in range(1, 6)]}]}
    return {"figures": figures, "rows": rows, "columns": COLUMNS, "chart": chart}
