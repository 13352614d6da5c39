"""The call-next order (DESIGN §4): one SQL query shared by call-next and the queue view.

For window W, the waiting tickets of today that W may call are those transferred to W,
plus (when not transferred to some window) those of a service W serves — every service
for a universal window (``["*"]``); a green-channel window (kind ``green``) also takes
the priority groups of every service. They are taken in this order:

1. transferred to W — by transfer time;
2. checked-in appointments whose slot has started — by slot start, then issue time;
3. overdue: waited longer than ``max_wait_minutes`` — oldest first;
4. priority groups (green channel, disabled, elderly, military) — oldest first;
5. everyone else by W's service order (position of the service in W's list), then
   oldest first.

Ties always break by issue time, then ticket id, so the order is total and stable.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from queue_server.queue import clock as clk
from queue_server.queue.common import APPOINTMENT, PRIORITY_GROUPS, Hall, Window

_GROUPS_SQL = ", ".join(f"'{g}'" for g in PRIORITY_GROUPS)

# Tiers 1-5 as in the module docstring; ``pos`` is the service's place in the window's list
# (``instr`` on ",QY01,QY02," keeps the list order), the second sort key of tier 5.
_ORDER_SQL = f"""
SELECT * FROM (
    SELECT t.id, t.number, t.service_code, t.priority, t.issued_at, t.transfer_window,
           t.transferred_at, a.slot_start,
           CASE
               WHEN t.transfer_window = :window THEN 1
               WHEN t.priority = '{APPOINTMENT}' AND a.slot_start <= :hhmm THEN 2
               WHEN :max_wait > 0 AND t.issued_at < :now - :max_wait THEN 3
               WHEN t.priority IN ({_GROUPS_SQL}) THEN 4
               ELSE 5
           END AS tier,
           instr(:service_list, ',' || t.service_code || ',') AS pos
    FROM tickets t
    LEFT JOIN appointments a ON a.id = t.appointment_id
    WHERE t.day = :day AND t.status = 'waiting' AND (t.transfer_window = :window OR (
          t.transfer_window IS NULL AND ({{eligible}})))
)
ORDER BY tier,
         CASE tier WHEN 1 THEN transferred_at WHEN 2 THEN slot_start WHEN 5 THEN pos ELSE 0 END,
         issued_at, id
"""


def ordered(conn: sqlite3.Connection, window: Window, h: Hall, limit: int | None = None) -> list[sqlite3.Row]:
    """Today's waiting tickets that ``window`` may call, in call order (one SQL query)."""
    params: dict[str, Any] = {
        "window": window.number,
        "day": h.day,
        "now": h.now,
        "hhmm": clk.local(h.now, h.tz).strftime("%H:%M"),
        "max_wait": int(h.settings.get("max_wait_minutes") or 0) * 60,
        "service_list": "" if window.universal else "," + ",".join(window.services) + ",",
    }
    eligible = []
    if window.universal:
        eligible.append("1")
    elif window.services:
        names = []
        for i, code in enumerate(window.services):
            params[f"s{i}"] = code
            names.append(f":s{i}")
        eligible.append(f"t.service_code IN ({', '.join(names)})")
    if window.kind == "green":
        eligible.append(f"t.priority IN ({_GROUPS_SQL})")
    sql = _ORDER_SQL.replace("{eligible}", " OR ".join(eligible) or "0")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return conn.execute(sql, params).fetchall()
