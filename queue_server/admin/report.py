"""The end-of-day report: the day's figures as an XLSX workbook and a one-to-three-page PDF
(Noto Sans CJK SC embedded), written into the reports folder by a daily job after closing
time — at ``admin.report_time`` or the day's closing time + :data:`AFTER_CLOSING_MINUTES`,
whichever is later; days a stopped server missed are made up for (:data:`CATCH_UP_DAYS`) —
and listed on the statistics page.

Files: ``<reports dir>/report-YYYY-MM-DD.xlsx`` and ``.pdf`` (``admin.reports_dir``;
default ``reports/`` beside the database). Running again for a day rewrites its files.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.admin import stats
from queue_server.admin.exports import to_xlsx
from queue_server.admin.providers import provider_figures
from queue_server.db import db_path
from queue_server.errors import NotFound
from queue_server.memory import trim
from queue_server.schedule import daily
from queue_server.settings import all_settings

NAME = re.compile(r"^report-(\d{4}-\d{2}-\d{2})\.(xlsx|pdf)$")

#: Columns of the report's tables (a subset of the statistics' columns).
REPORT_COLUMNS = ("label", "issued", "served", "no_show", "transferred", "wait_median_s", "wait_p90_s",
                  "service_median_s", "served_within_target")


def reports_dir(db: Database) -> Path:
    configured = str(all_settings(db).get("admin.reports_dir") or "")
    path = Path(configured) if configured else Path(os.path.abspath(db_path(db))).parent / "reports"
    return path


def _columns(keys: tuple[str, ...] | list[str]) -> list[tuple[str, str, str, str]]:
    by_key = {c[0]: c for c in stats.COLUMNS}
    return [by_key[k] for k in keys]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def build(db: Database, day: str, *, now: float | None = None) -> dict[str, Any]:
    """Everything the report shows for ``day``: headline figures and the tables."""
    settings = all_settings(db)
    t = clk.now(None) if now is None else now
    data = stats.load(db, day, day, now=t)
    parts = {g: stats.queue_stats(db, day, day, g, now=t, data=data) for g in ("service", "window", "clerk", "hour")}
    total = parts["service"]["total"]
    return {
        "day": day,
        "hall_name": str(settings.get("hall_name") or ""),
        "weekday": clk.WEEKDAY_ZH[clk.WEEKDAYS[dt.date.fromisoformat(day).weekday()]],
        "generated_at": t,
        "generated_local": clk.local(t, str(settings["timezone"])).strftime("%Y-%m-%d %H:%M"),
        "tz": str(settings["timezone"]),
        "total": total,
        "windows_total": parts["window"]["total"],
        "tables": {g: [r for r in p["rows"] if r["issued"] or r.get("open_s")] for g, p in parts.items()},
        "providers": provider_figures(db, day, day, now=t),
    }


def write_report(db: Database, day: str, *, now: float | None = None, out_dir: str | os.PathLike[str] | None = None
                 ) -> dict[str, Any]:
    """Write ``report-<day>.xlsx`` and ``.pdf``; returns their paths and the headline figures."""
    rep = build(db, day, now=now)
    folder = Path(out_dir) if out_dir is not None else reports_dir(db)
    title = f"{rep['hall_name']} 日报 {day}（{rep['weekday']}）"
    sheets: list[tuple[str, Any, Any]] = [
        ("合计 Total", stats.COLUMNS, [rep["total"]]),
        ("事项 Services", stats.COLUMNS, rep["tables"]["service"]),
        ("窗口 Windows", stats.COLUMNS, rep["tables"]["window"]),
        ("人员 Clerks", stats.COLUMNS, rep["tables"]["clerk"]),
        ("时段 Hours", stats.COLUMNS, rep["tables"]["hour"]),
    ]
    for p in rep["providers"]:
        if p.get("columns") and p.get("rows"):
            sheets.append((p["title"], [tuple(c) for c in p["columns"]], p["rows"]))
    xlsx = folder / f"report-{day}.xlsx"
    pdf = folder / f"report-{day}.pdf"
    _atomic_write(xlsx, to_xlsx(sheets, rep["tz"], title=title, subtitle=f"生成于 {rep['generated_local']}"))
    try:
        _atomic_write(pdf, render_pdf(rep))
    finally:
        trim(collect=True)  # the CJK font's glyph tables (~130 MB while rendering) go back
    tot = rep["total"]
    return {"day": day, "xlsx": str(xlsx), "pdf": str(pdf),
            "issued": tot["issued"], "served": tot["served"], "no_show": tot["no_show"],
            "wait_median_s": tot["wait_median_s"]}


def list_reports(db: Database) -> list[dict[str, Any]]:
    """Reports in the folder, newest day first: ``{"day", "files": {"xlsx": name, "pdf": name}}``."""
    folder = reports_dir(db)
    days: dict[str, dict[str, Any]] = {}
    if folder.is_dir():
        for p in folder.iterdir():
            m = NAME.match(p.name)
            if m:
                entry = days.setdefault(m.group(1), {"day": m.group(1), "files": {}, "written_at": 0.0})
                entry["files"][m.group(2)] = p.name
                entry["written_at"] = max(entry["written_at"], p.stat().st_mtime)
    return sorted(days.values(), key=lambda e: e["day"], reverse=True)


def report_file(db: Database, name: str) -> Path:
    """The path of a listed report file (names only; nothing outside the folder)."""
    if not isinstance(name, str) or not NAME.match(name):
        raise NotFound("report_not_found")
    path = reports_dir(db) / name
    if not path.is_file():
        raise NotFound("report_not_found")
    return path


# --- when the daily job writes it --------------------------------------------------------------

#: Minutes after a day's closing time before its report is written (the last tickets called
#: at closing time are being finished).
AFTER_CLOSING_MINUTES = 15
#: Earlier days a server that was down still writes the report of (those with tickets and no
#: report run yet), oldest first, on its next check — at start.
CATCH_UP_DAYS = 7


def closing_time(settings: dict[str, Any], day: str) -> float | None:
    """When the hall closes on ``day`` (the end of its last opening span: weekly hours, a
    延时服务 day's own spans), Unix time; None on a day without opening hours."""
    spans = clk.spans_on(settings, day)
    if not spans:
        return None
    tz = str(settings["timezone"])
    end = max(b for _a, b in spans)
    if end >= 24 * 60:
        return clk.day_start((dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat(), tz)
    return clk.at_local(day, f"{end // 60:02d}:{end % 60:02d}", tz)


def report_due(settings: dict[str, Any], day: str, at: str) -> float:
    """When ``day``'s report is due: ``admin.report_time`` (``at``) or the day's closing time
    + :data:`AFTER_CLOSING_MINUTES`, whichever is later."""
    due = clk.at_local(day, at, str(settings["timezone"]))
    try:
        closing = closing_time(settings, day)
    except (TypeError, ValueError, AttributeError):  # hours the validation would refuse: the set time
        closing = None
    return due if closing is None else max(due, closing + AFTER_CLOSING_MINUTES * 60)


def days_with_tickets(db: Database, days: list[str]) -> set[str]:
    """Which of ``days`` had tickets: in the hall file, or (archived) in the kept per-day facts."""
    out = set()
    for day in days:
        if db.conn.execute("SELECT 1 FROM tickets WHERE day = ? LIMIT 1", (day,)).fetchone() or \
                db.conn.execute("SELECT 1 FROM admin_stats_days WHERE day = ? AND tickets > 0", (day,)).fetchone():
            out.add(day)
    return out


@daily("end_of_day_report", "admin.report_time",
       "End-of-day report (XLSX + PDF) of the day into admin.reports_dir, listed on /admin/stats; "
       f"after closing time, days missed in the last {CATCH_UP_DAYS} made up for.",
       due_at=report_due, catch_up=CATCH_UP_DAYS, wants=days_with_tickets)
def _daily_report(db: Database, day: str) -> dict[str, Any]:
    return write_report(db, day)


# --- PDF --------------------------------------------------------------------------------------

_TTC_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/noto-cjk"),
             Path("/usr/share/fonts/google-noto-cjk"))
_ASSETS = Path(__file__).resolve().parents[2] / "assets" / "fonts"


def cjk_font(weight: str = "Regular") -> Path:
    """A Simplified Chinese OpenType font for the PDF: ``YICHUANG_FONT``, the hall's own in
    ``assets/fonts/``, or Noto Sans CJK SC extracted once from Debian's fonts-noto-cjk
    collection (face 2) into the user's cache — the same file the kiosk uses."""
    env = os.environ.get("YICHUANG_FONT" if weight == "Regular" else "YICHUANG_FONT_BOLD")
    if env and Path(env).is_file():
        return Path(env)
    name = f"NotoSansCJKsc-{weight}.otf"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "yichuang" / "fonts"
    for candidate in (_ASSETS / name, cache / name):
        if candidate.is_file():
            return candidate
    for d in _TTC_DIRS:
        ttc = d / f"NotoSansCJK-{weight}.ttc"
        if ttc.is_file():
            from fontTools.ttLib import TTCollection

            face = TTCollection(str(ttc), lazy=True).fonts[2]
            cache.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache, suffix=".otf.part")
            os.close(fd)
            face.save(tmp)
            os.replace(tmp, cache / name)
            return cache / name
    raise FileNotFoundError("no Noto Sans CJK font: install fonts-noto-cjk or set YICHUANG_FONT")


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "seconds":
        return f"{value / 60:.1f}"
    if kind == "share":
        return f"{value * 100:.0f}%"
    return str(value)


def render_pdf(rep: dict[str, Any]) -> bytes:
    """The report as PDF bytes (A4, CJK font embedded and subset)."""
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=14)
    pdf.set_margins(12, 12, 12)
    pdf.add_font("cjk", "", str(cjk_font("Regular")))
    try:
        pdf.add_font("cjk", "B", str(cjk_font("Bold")))
        bold = "B"
    except Exception:  # no bold face: headings in regular
        bold = ""
    pdf.set_title(f"{rep['hall_name']} {rep['day']}")
    pdf.set_creator("一窗通 Yichuang")
    pdf.add_page()
    pdf.set_font("cjk", bold, 17)
    pdf.cell(0, 9, f"{rep['hall_name']} 日报", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", "", 10.5)
    pdf.set_text_color(90, 100, 125)
    pdf.cell(0, 6, f"{rep['day']}（{rep['weekday']}） · 生成于 {rep['generated_local']} · 一窗通 Yichuang",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(20, 30, 50)
    pdf.ln(3)
    tot = rep["total"]
    tiles = [("取号", tot["issued"], ""), ("办结", tot["served"], ""), ("过号", tot["no_show"], ""),
             ("转窗", tot["transferred"], ""), ("等候中位数", _fmt(tot["wait_median_s"], "seconds"), "分钟"),
             ("等候 P90", _fmt(tot["wait_p90_s"], "seconds"), "分钟"),
             ("办理中位数", _fmt(tot["service_median_s"], "seconds"), "分钟"),
             ("按时率", _fmt(tot["served_within_target"], "share"), "")]
    w = (pdf.w - 24) / 4
    y = pdf.get_y()
    for i, (label, value, unit) in enumerate(tiles):
        x = 12 + (i % 4) * w
        pdf.set_xy(x, y)
        pdf.set_fill_color(238, 242, 248)
        pdf.rect(x + 1, y, w - 2, 17, style="F")
        pdf.set_xy(x + 3, y + 1.5)
        pdf.set_font("cjk", "", 9)
        pdf.cell(w - 6, 5, label)
        pdf.set_xy(x + 3, y + 7)
        pdf.set_font("cjk", bold, 15)
        pdf.cell(w - 6, 8, f"{value} {unit}".strip())
        if i % 4 == 3:
            y += 20
            pdf.set_y(y)
    _hour_chart(pdf, rep["tables"]["hour"], bold)
    cols = _columns(REPORT_COLUMNS)
    widths = [50, 16, 16, 16, 16, 19, 19, 19, 15]
    for title, key in (("按事项 By service", "service"), ("按窗口 By window", "window"),
                       ("按工作人员 By clerk", "clerk")):
        extra = key in ("window", "clerk")
        c = cols + ([c for c in stats.COLUMNS if c[0] in ("open_s", "idle_s")] if extra else [])
        wd = [46, 13, 13, 13, 13, 16, 16, 16, 13] + ([14, 13] if extra else [])
        _table(pdf, title, c, wd if extra else widths, rep["tables"][key], bold)
    for p in rep["providers"]:
        _provider(pdf, p, bold)
    pdf.set_font("cjk", "", 8)
    pdf.set_text_color(90, 100, 125)
    pdf.ln(3)
    pdf.multi_cell(0, 4.2, "口径：等候 = 首次叫号 − 取号；办理 = 办结 − 开始办理；中位数为中间值，P90 为从小到大第"
                           " 0.9n（向上取整）个值；按时率 = 等候不超过该事项目标时长的办结号数 ÷ 办结号数；时间单位为分钟。"
                           "每个数字都可在统计页打开其背后的号码（docs/admin.md）。", align="L")
    return bytes(pdf.output())


def _provider(pdf: Any, p: dict[str, Any], bold: str) -> None:
    """A capability's part (秒批, 好差评 …): its figures as label · value · formula, its chart
    and its table."""
    pdf.set_font("cjk", bold, 12)
    pdf.ln(3)
    pdf.cell(0, 8, f"{p['title']} {p.get('title_en', '')}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", "", 9.5)
    if p.get("error"):
        pdf.multi_cell(0, 5, f"未能取得：{p['error']}")
        return
    figures = p.get("figures", [])
    if not figures:
        pdf.cell(0, 5.5, "（无）", new_x="LMARGIN", new_y="NEXT")
    for f in figures:
        value = f.get("text") if f.get("text") is not None else ("—" if f.get("value") is None else f.get("value"))
        pdf.set_font("cjk", "", 9.5)
        pdf.cell(78, 5.5, str(f.get("label", f.get("key"))))
        pdf.set_font("cjk", bold, 9.5)
        pdf.cell(24, 5.5, str(value), align="R")
        pdf.set_font("cjk", "", 7.5)
        pdf.set_text_color(90, 100, 125)
        note = str(f.get("note") or f.get("formula") or "")
        while note and pdf.get_string_width(note) > pdf.w - 12 - pdf.get_x() - 2:
            note = note[:-2] + "…"
        pdf.cell(0, 5.5, f"  {note}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(20, 30, 50)
    if p.get("chart"):
        _bars(pdf, p["chart"], bold)
    cols = [c for c in p.get("columns", []) if c[0] not in ("item", "service")]
    if cols and p.get("rows"):
        first = 44.0
        rest = (pdf.w - 24 - first) / max(1, len(cols) - 1)
        _table(pdf, f"{p['title']}（按事项）", [tuple(c) for c in cols], [first] + [rest] * (len(cols) - 1),
               p["rows"], bold, unit=False)


def _hex(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    try:
        return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
    except (ValueError, IndexError):
        return 20, 85, 192


def _bars(pdf: Any, chart: dict[str, Any], bold: str) -> None:
    """A provider's bar chart: grouped bars per label, one colour per dataset, values above."""
    labels = [str(x) for x in chart.get("labels", [])]
    sets = chart.get("datasets", [])
    if not labels or not sets:
        return
    if pdf.get_y() > pdf.h - 70:
        pdf.add_page()
    pdf.ln(1)
    pdf.set_font("cjk", bold, 10.5)
    pdf.cell(0, 7, str(chart.get("title", "")), new_x="LMARGIN", new_y="NEXT")
    x0, y0, height = 20.0, pdf.get_y() + 4, 32.0
    width = pdf.w - 12 - x0
    peak = max([1] + [int(v or 0) for d in sets for v in d.get("data", [])])
    group_w = width / len(labels)
    bar_w = group_w * 0.7 / len(sets)
    pdf.set_draw_color(150, 160, 180)
    pdf.line(x0, y0 + height, x0 + width, y0 + height)
    pdf.set_font("cjk", "", 7.5)
    for i, label in enumerate(labels):
        gx = x0 + i * group_w + group_w * 0.15
        for j, d in enumerate(sets):
            v = int((d.get("data") or [0] * len(labels))[i] or 0)
            h = height * v / peak
            pdf.set_fill_color(*_hex(str(d.get("color") or "#1455c0")))
            if h > 0:
                pdf.rect(gx + j * bar_w, y0 + height - h, bar_w * 0.92, h, style="F")
            pdf.set_xy(gx + j * bar_w, y0 + height - h - 4)
            pdf.cell(bar_w, 4, str(v) if v else "", align="C")
        pdf.set_xy(x0 + i * group_w, y0 + height + 0.5)
        text = label
        while text and pdf.get_string_width(text) > group_w - 1:
            text = text[:-1]
        pdf.cell(group_w, 4, text, align="C")
    pdf.set_xy(x0, y0 + height + 5)
    for d in sets:
        pdf.set_fill_color(*_hex(str(d.get("color") or "#1455c0")))
        pdf.rect(pdf.get_x(), pdf.get_y() + 1.2, 3, 3, style="F")
        pdf.set_x(pdf.get_x() + 4)
        pdf.cell(pdf.get_string_width(str(d.get("label", ""))) + 6, 5.5, str(d.get("label", "")))
    pdf.ln(7)


#: Short headings for the PDF's narrow columns (times in minutes).
_SHORT = {"label": "名称", "wait_median_s": "等候中位", "wait_p90_s": "等候P90", "service_median_s": "办理中位",
          "served_within_target": "按时率", "open_s": "开窗", "idle_s": "空闲"}


def _table(pdf: Any, title: str, cols: list[tuple[str, str, str, str]], widths: Sequence[float],
           rows: list[dict[str, Any]], bold: str, unit: bool = True) -> None:
    pdf.ln(3)
    pdf.set_font("cjk", bold, 12)
    pdf.cell(0, 8, f"{title}（时间单位：分钟）" if unit else title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", "", 8.5)
    pdf.set_fill_color(225, 232, 245)
    for c, wd in zip(cols, widths, strict=False):
        head = _SHORT.get(c[0], c[1])
        while len(head) > 1 and pdf.get_string_width(head) > wd - 1:
            head = head[:-1]
        pdf.cell(wd, 6.5, head, border=1, fill=True, align="C")
    pdf.ln()
    if not rows:
        pdf.cell(sum(widths), 6, "（无）", border=1, align="C")
        pdf.ln()
        return
    for r in rows:
        for c, wd in zip(cols, widths, strict=False):
            text = _fmt(r.get(c[0]), c[3])
            if c[3] == "text" and pdf.get_string_width(text) > wd - 2:
                while text and pdf.get_string_width(text + "…") > wd - 2:
                    text = text[:-1]
                text += "…"
            pdf.cell(wd, 6, text, border=1, align="L" if c[3] == "text" and c[0] != "decision_median_ms" else "R")
        pdf.ln()


def _hour_chart(pdf: Any, rows: list[dict[str, Any]], bold: str) -> None:
    """Tickets issued per hour (bars) with the wait median per hour (numbers above)."""
    pdf.ln(2)
    pdf.set_font("cjk", bold, 12)
    pdf.cell(0, 8, "分时段取号量 Tickets issued per hour", new_x="LMARGIN", new_y="NEXT")
    if not rows:
        pdf.set_font("cjk", "", 9)
        pdf.cell(0, 6, "（当天无取号）", new_x="LMARGIN", new_y="NEXT")
        return
    x0, y0, height = 20.0, pdf.get_y() + 2, 38.0
    width = pdf.w - 12 - x0
    peak = max(1, max(r["issued"] for r in rows))
    bw = width / len(rows)
    pdf.set_draw_color(150, 160, 180)
    pdf.line(x0, y0 + height, x0 + width, y0 + height)
    pdf.set_font("cjk", "", 7.5)
    for i, r in enumerate(rows):
        h = height * r["issued"] / peak
        x = x0 + i * bw
        pdf.set_fill_color(20, 85, 192)
        if h > 0:
            pdf.rect(x + bw * 0.15, y0 + height - h, bw * 0.7, h, style="F")
        pdf.set_xy(x, y0 + height - h - 4.5)
        pdf.cell(bw, 4, str(r["issued"]) if r["issued"] else "", align="C")
        pdf.set_xy(x, y0 + height + 0.5)
        pdf.cell(bw, 4, str(r["group"])[:2], align="C")
    pdf.set_xy(12, y0 + height / 2 - 2)
    pdf.cell(8, 4, "号数")
    pdf.set_y(y0 + height + 6)

