"""The day's figures a hall sends with every batch: live state for the city page and the
per-clerk counts (events carry a window, never a clerk).

::

    {"day": "2026-11-25", "hall_name": "…", "waiting": 7, "windows_open": 5, "windows_paused": 1,
     "issued": 230, "served": 201, "no_show": 6,
     "by_clerk": [{"clerk": "0107", "called": 40, "served": 38, "no_show": 1,
                   "service_s_sum": 14820.0, "service_n": 38}]}

``clerk`` is the staff number (工号, shown on window displays) or ``user:<id>`` when a user
has none — never a name. A capability adds its own part with :func:`figures_part`
(e.g. the 好差评 capability: open and overdue rectifications).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.settings import get_setting

FigurePart = Callable[[sqlite3.Connection, str], dict[str, Any]]
#: name → function(conn, day) returning a dict merged into the figures under ``name``.
PARTS: dict[str, FigurePart] = {}


def figures_part(name: str) -> Callable[[FigurePart], FigurePart]:
    """Decorator: add a capability's part of the day's figures."""

    def register(fn: FigurePart) -> FigurePart:
        PARTS[name] = fn
        return fn

    return register


def day_figures(db: Database, now: float) -> dict[str, Any]:
    tz = str(get_setting(db, "timezone"))
    day = clk.business_day(now, tz)
    conn = db.conn
    waiting = conn.execute("SELECT COALESCE(SUM(n), 0) FROM waiting_counts WHERE day = ?", (day,)).fetchone()[0]
    win = dict(conn.execute("SELECT status, COUNT(*) FROM windows GROUP BY status").fetchall())
    t = conn.execute(
        "SELECT COUNT(*), SUM(status = 'done'), SUM(status = 'no_show') FROM tickets WHERE day = ?", (day,)
    ).fetchone()
    clerks = conn.execute(
        "SELECT COALESCE(NULLIF(u.staff_no, ''), 'user:' || t.clerk_user_id), SUM(t.called_at IS NOT NULL), "
        "SUM(t.status = 'done'), SUM(t.status = 'no_show'), "
        "SUM(CASE WHEN t.status = 'done' AND t.started_at IS NOT NULL THEN t.finished_at - t.started_at END), "
        "SUM(t.status = 'done' AND t.started_at IS NOT NULL) "
        "FROM tickets t LEFT JOIN users u ON u.id = t.clerk_user_id "
        "WHERE t.day = ? AND t.clerk_user_id IS NOT NULL GROUP BY 1 ORDER BY 1", (day,)).fetchall()
    out: dict[str, Any] = {
        "day": day, "hall_name": str(get_setting(db, "hall_name")), "waiting": int(waiting or 0),
        "windows_open": int(win.get("open", 0)), "windows_paused": int(win.get("paused", 0)),
        "issued": int(t[0] or 0), "served": int(t[1] or 0), "no_show": int(t[2] or 0),
        "by_clerk": [{"clerk": str(r[0]), "called": int(r[1] or 0), "served": int(r[2] or 0),
                      "no_show": int(r[3] or 0), "service_s_sum": float(r[4] or 0.0), "service_n": int(r[5] or 0)}
                     for r in clerks],
    }
    for name, fn in PARTS.items():
        try:
            out[name] = fn(conn, day)
        except Exception as exc:  # a capability's figures must never stop the uplink
            out[name] = {"error": str(exc)[:200]}
    return out
