"""Tables out: CSV in UTF-8 with a byte-order mark (so Excel shows Chinese) and XLSX
(xlsxwriter). A table is its columns — ``(key, Chinese heading, English heading, kind)``
with kind ``text``, ``int``, ``seconds`` (written as minutes, one decimal), ``share``
(a percentage) or ``time`` (Unix seconds written as the hall's local time) — and rows of
dicts. Headings are bilingual: ``取号 Issued``.

User text never becomes a formula (formula injection when a manager opens the file): the
workbook is made with ``strings_to_formulas`` and ``strings_to_urls`` off, and in CSV a
text cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a ``'`` in front.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from queue_server import clock as clk

Column = Sequence[str]


def heading(col: Column) -> str:
    key, zh, en, kind = col[0], col[1], col[2], col[3]
    unit = {"seconds": "（分钟）", "share": "（%）"}.get(kind, "")
    unit_en = {"seconds": " (min)", "share": " (%)"}.get(kind, "")
    return f"{zh}{unit} {en}{unit_en}" if zh != en else str(key)


def cell(value: Any, kind: str, tz: str) -> Any:
    if value is None:
        return None
    if kind == "seconds":
        return round(float(value) / 60.0, 1)
    if kind == "share":
        return round(float(value) * 100.0, 1)
    if kind == "time":
        return clk.local(float(value), tz).strftime("%Y-%m-%d %H:%M:%S")
    if kind == "int":
        return int(value)
    return value


#: First characters that make a spreadsheet read a cell as a formula (or start one in a
#: neighbouring cell): a text cell starting with one is written with a ``'`` in front in CSV.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: Any) -> Any:
    """A text cell for CSV: ``'`` before text a spreadsheet would run as a formula
    (``=HYPERLINK(…)``, ``+``, ``-``, ``@``, tab, CR at the start); anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(columns: Sequence[Column], rows: Sequence[dict[str, Any]], tz: str = "Asia/Shanghai") -> bytes:
    """CSV of the table; text columns through :func:`csv_text` (numbers stay numbers)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([heading(c) for c in columns])
    for r in rows:
        w.writerow(["" if (v := cell(r.get(c[0]), c[3], tz)) is None else (csv_text(v) if c[3] == "text" else v)
                    for c in columns])
    return "\ufeff".encode() + buf.getvalue().encode("utf-8")


def to_xlsx(sheets: Sequence[tuple[str, Sequence[Column], Sequence[dict[str, Any]]]], tz: str = "Asia/Shanghai",
            *, title: str = "", subtitle: str = "") -> bytes:
    """One worksheet per ``(name, columns, rows)``; a bold heading row, frozen, with widths
    that fit Chinese text. ``title``/``subtitle`` go in the first rows of the first sheet."""
    import xlsxwriter

    out = io.BytesIO()
    # Text stays text: by default xlsxwriter writes a string starting with "=" as a formula
    # (a service named '=HYPERLINK(…)' would run in Excel) and one like a URL as a link.
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"title": title, "comments": subtitle, "created": dt.datetime.now()})
    bold = wb.add_format({"bold": True, "bg_color": "#E1E8F5", "border": 1, "text_wrap": True, "valign": "top"})
    big = wb.add_format({"bold": True, "font_size": 14})
    for n, (name, columns, rows) in enumerate(sheets):
        ws = wb.add_worksheet(name[:31])
        top = 0
        if n == 0 and title:
            ws.write(0, 0, title, big)
            if subtitle:
                ws.write(1, 0, subtitle)
            top = 3
        for j, c in enumerate(columns):
            ws.write(top, j, heading(c), bold)
            width = max(10, min(40, max([len(heading(c)) * 1.2] + [len(str(r.get(c[0]) or "")) * 1.8
                                                                     for r in rows[:200]])))
            ws.set_column(j, j, width)
        for i, r in enumerate(rows, start=top + 1):
            for j, c in enumerate(columns):
                v = cell(r.get(c[0]), c[3], tz)
                if v is not None:
                    ws.write(i, j, v)
        ws.freeze_panes(top + 1, 0)
    wb.close()
    return out.getvalue()
