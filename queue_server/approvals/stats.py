"""秒批 figures for the hall manager's statistics (``/admin/stats``, the exports and the
end-of-day report), registered as the ``approvals`` statistics provider.

For a range ``from``..``to`` (hall days, both inclusive) over the approval cases opened on
those days (``cases.day``, kind ``approval``):

* ``cases`` — approval cases; ``approved`` — the engine approved (秒批, no person);
  ``referred`` — the engine referred them to a person; ``approved_share`` = approved ÷ cases
  (``null`` when there are none).
* ``staff_approved`` / ``staff_rejected`` — referred cases a member of staff has decided;
  ``referred_open`` — referred cases not decided yet.
* ``licences`` — cases that issued an e-licence (items whose result is a licence).
* ``decision_median_ms`` — median engine decision time (the checked request → the decision:
  every data source asked and every rule run), milliseconds; ``staff_median_s`` — median
  time from the engine's referral to a member of staff's decision, seconds.
* ``top_reasons`` — referral reasons of the engine-referred cases: every rule that did not
  pass (FAIL or UNKNOWN) counts once per case, keyed by item and reason code, most frequent
  first (ties by item, then code), at most 5.

Each figure opens to its cases (``GET /api/stats/providers/approvals/behind?figure=…``):
case number, day, item, decision, status, time, decision time and reason codes — no
personal data.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from queue_server.admin.providers import stat_provider
from queue_server.admin.source import StatsSource
from queue_server.admin.stats import median
from queue_server.approvals.items import get_item
from queue_server.errors import ValidationError

TOP_REASONS = 5
#: figure → SQL condition on ``c`` (cases) and ``a`` (approval_cases).
FIGURES = {
    "cases": "1",
    "approved": "a.decision = 'approved'",
    "referred": "a.decision = 'referred'",
    "staff_approved": "a.staff_decision = 'approved'",
    "staff_rejected": "a.staff_decision = 'rejected'",
    "referred_open": "c.status = 'referred'",
    "licences": "a.licence_id IS NOT NULL",
}
COLUMNS = [
    ["item", "事项代码", "Item code", "text"], ["item_name", "事项", "Item", "text"],
    ["cases", "办件", "Cases", "int"], ["approved", "秒批", "Approved at once", "int"],
    ["referred", "转人工", "Referred", "int"], ["approved_share", "秒批率", "Approved share", "share"],
    ["staff_approved", "人工通过", "Staff approved", "int"], ["staff_rejected", "人工不通过", "Staff rejected", "int"],
    ["referred_open", "待人工", "Awaiting staff", "int"], ["licences", "发证", "E-licences issued", "int"],
    ["decision_median_ms", "用时中位毫秒", "Decision median (ms)", "text"],
]
BEHIND_COLUMNS = [
    ["case", "办件编号", "Case", "text"], ["day", "日期", "Day", "text"], ["item_name", "事项", "Item", "text"],
    ["decision", "系统决定", "Engine decision", "text"], ["status", "状态", "Status", "text"],
    ["decided_at", "决定时间", "Decided", "time"], ["decision_ms", "用时（毫秒）", "Took (ms)", "text"],
    ["reasons", "转人工原因", "Referral reasons", "text"], ["staff_at", "人工决定时间", "Staff decided", "time"],
]


def _rows(src: StatsSource, f: str, t: str, where: str = "1", params: tuple[Any, ...] = ()) -> list[Any]:
    if not src.has_table("main", "approval_cases"):
        return []
    return src.execute(
        "SELECT c.number, c.day, c.item, c.item_name, c.status, a.decision, a.rules, a.decided_at, a.decision_ms, "
        "a.staff_decision, a.staff_at, a.licence_id FROM main.cases c JOIN main.approval_cases a "
        f"ON a.case_number = c.number WHERE c.kind = 'approval' AND c.day BETWEEN ? AND ? AND ({where}) "
        "ORDER BY c.day, c.number", (f, t, *params)).fetchall()


def _not_passed(rules_json: str) -> list[dict[str, Any]]:
    return [r for r in json.loads(rules_json) if r.get("result") != "pass"]


def _message(item: str, code: str) -> str:
    it = get_item(item)
    if it is not None:
        for rule in it.rules:
            if rule.code == code:
                return rule.message
    return {"DATA_UNAVAILABLE": "所需数据未能取得", "RULE_ERROR": "规则未能执行"}.get(code, code)


def figures_of(rows: list[Any]) -> dict[str, Any]:
    """The figures of a list of case rows (as :func:`_rows` reads them)."""
    n = len(rows)
    approved = sum(1 for r in rows if r[5] == "approved")
    referred = sum(1 for r in rows if r[5] == "referred")
    reasons: Counter[tuple[str, str]] = Counter()
    names: dict[str, str] = {}
    for r in rows:
        names.setdefault(r[2], r[3])
        if r[5] == "referred":
            for code in dict.fromkeys(x["code"] for x in _not_passed(r[6])):
                reasons[(r[2], code)] += 1
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
    ms = [float(r[8]) for r in rows if r[8] is not None]
    staff = [float(r[10]) - float(r[7]) for r in rows if r[10] is not None]
    med = median(ms)
    smed = median(staff)
    return {
        "cases": n, "approved": approved, "referred": referred,
        "approved_share": approved / n if n else None,
        "staff_approved": sum(1 for r in rows if r[9] == "approved"),
        "staff_rejected": sum(1 for r in rows if r[9] == "rejected"),
        "referred_open": sum(1 for r in rows if r[4] == "referred"),
        "licences": sum(1 for r in rows if r[11] is not None),
        "decision_median_ms": None if med is None else round(med, 1),
        "staff_median_s": None if smed is None else round(smed, 1),
        "top_reasons": [{"item": item, "item_name": names.get(item, item), "code": code,
                         "message": _message(item, code), "count": c} for (item, code), c in top],
    }


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _behind(src: StatsSource, f: str, t: str, figure: str, key: str | None) -> dict[str, Any]:
    """The cases behind a figure; ``key`` narrows to one item (a table row), ``figure``
    ``reason:<item>:<code>`` to the cases referred for that reason."""
    reason = None
    if figure.startswith("reason:"):
        parts = figure.split(":")
        if len(parts) != 3:
            raise ValidationError("bad_stats_figure", figure=figure[:60])
        reason = (parts[1], parts[2])
        where = "a.decision = 'referred' AND c.item = ?"
        params: tuple[Any, ...] = (parts[1],)
    elif figure in FIGURES:
        where, params = FIGURES[figure], ()
    elif figure in ("decision_median_ms", "approved_share"):
        where, params = "1", ()
    elif figure == "staff_median_s":
        where, params = "a.staff_at IS NOT NULL", ()
    else:
        raise ValidationError("bad_stats_figure", figure=figure[:60])
    if key not in (None, "", "total"):
        where += " AND c.item = ?"
        params += (key,)
    out = []
    for r in _rows(src, f, t, where, params):
        codes = list(dict.fromkeys(x["code"] for x in _not_passed(r[6]))) if r[5] == "referred" else []
        if reason is not None and reason[1] not in codes:
            continue
        out.append({"case": r[0], "day": r[1], "item": r[2], "item_name": r[3], "decision": r[5], "status": r[4],
                    "decided_at": r[7], "decision_ms": r[8], "reasons": "、".join(codes), "staff_at": r[10]})
    if figure == "decision_median_ms":  # slowest first
        out.sort(key=lambda x: -(x["decision_ms"] or 0.0))
    return {"columns": BEHIND_COLUMNS, "rows": out}


@stat_provider("approvals", "秒批", "Instant approvals", behind=_behind)
def approval_figures(src: StatsSource, f: str, t: str) -> dict[str, Any]:
    rows = _rows(src, f, t)
    total = figures_of(rows)
    by_item: dict[str, list[Any]] = {}
    for r in rows:
        by_item.setdefault(r[2], []).append(r)
    table = []
    for item, its in sorted(by_item.items()):
        fig = figures_of(its)
        table.append({"item": item, "item_name": its[0][3], **{k: fig[k] for k in (
            "cases", "approved", "referred", "approved_share", "staff_approved", "staff_rejected", "referred_open",
            "licences", "decision_median_ms")}})
    ms = total["decision_median_ms"]
    smed = total["staff_median_s"]
    figures: list[dict[str, Any]] = [
        {"key": "cases", "label": "办件", "label_en": "Cases", "value": total["cases"], "drill": "cases",
         "formula": "approval cases opened on the days of the range"},
        {"key": "approved", "label": "秒批通过", "label_en": "Approved at once", "value": total["approved"],
         "drill": "approved", "formula": "cases the engine approved"},
        {"key": "approved_share", "label": "秒批通过率", "label_en": "Approved share",
         "value": total["approved_share"], "text": _pct(total["approved_share"]), "drill": "approved",
         "formula": "approved ÷ cases"},
        {"key": "referred", "label": "转人工", "label_en": "Referred", "value": total["referred"],
         "drill": "referred", "formula": "cases the engine referred to a member of staff"},
        {"key": "staff_approved", "label": "人工通过", "label_en": "Staff approved", "value": total["staff_approved"],
         "drill": "staff_approved", "formula": "referred cases a member of staff approved"},
        {"key": "staff_rejected", "label": "人工不予通过", "label_en": "Staff rejected",
         "value": total["staff_rejected"], "drill": "staff_rejected",
         "formula": "referred cases a member of staff rejected with a written reason"},
        {"key": "licences", "label": "发放电子证照", "label_en": "E-licences issued", "value": total["licences"],
         "drill": "licences", "formula": "approved cases whose result is a licence, issued into 亮证"},
        {"key": "decision_median_ms", "label": "审批用时中位数", "label_en": "Decision time (median)",
         "value": ms, "text": "—" if ms is None else f"{ms:.0f} 毫秒", "drill": "decision_median_ms",
         "formula": "median of checked request → decision (sources asked, rules run), ms"},
        {"key": "staff_median_s", "label": "人工决定用时中位数", "label_en": "Staff decision time (median)",
         "value": smed, "text": "—" if smed is None else f"{smed / 60:.1f} 分钟", "drill": "staff_median_s",
         "formula": "median of referral → a member of staff's decision"},
    ]
    for i, r in enumerate(total["top_reasons"], 1):
        figures.append({"key": f"reason_{i}", "label": f"转人工原因 {i}：{r['item_name']} {r['code']}",
                        "label_en": f"Referral reason {i}: {r['item']} {r['code']}", "value": r["count"],
                        "note": r["message"], "drill": f"reason:{r['item']}:{r['code']}",
                        "formula": "referred cases with this rule not passed (once per case)"})
    chart = {"type": "bar", "title": "秒批办件（按事项）", "title_en": "Cases by item",
             "labels": [r["item_name"] for r in table],
             "datasets": [{"label": "秒批通过", "label_en": "Approved at once", "data": [r["approved"] for r in table],
                           "color": "#1d7a45"},
                          {"label": "转人工", "label_en": "Referred", "data": [r["referred"] for r in table],
                           "color": "#c77700"}]}
    return {"figures": figures, "rows": table, "columns": COLUMNS, "chart": chart,
            "top_reasons": total["top_reasons"]}
