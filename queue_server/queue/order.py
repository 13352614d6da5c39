"""The call-next order (DESIGN §4), as one sort key shared by call-next and the queue view.

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

CANDIDATE_COLUMNS = (
    "t.id, t.service_code, t.priority, t.issued_at, t.transfer_window, t.transferred_at, a.slot_start"
)


def candidates(conn: sqlite3.Connection, window: Window, day: str) -> list[sqlite3.Row]:
    """Today's waiting tickets that ``window`` may call (unordered)."""
    sql = (
        f"SELECT {CANDIDATE_COLUMNS} FROM tickets t "
        "LEFT JOIN appointments a ON a.id = t.appointment_id "
        "WHERE t.day = ? AND t.status = 'waiting' AND (t.transfer_window = ? OR (t.transfer_window IS NULL"
    )
    args: list[Any] = [day, window.number]
    filters = []
    if window.universal:
        filters.append("1")
    elif window.services:
        filters.append(f"t.service_code IN ({','.join('?' * len(window.services))})")
        args.extend(window.services)
    if window.kind == "green":
        filters.append(f"t.priority IN ({','.join('?' * len(PRIORITY_GROUPS))})")
        args.extend(PRIORITY_GROUPS)
    if not filters:
        filters.append("0")
    sql += " AND (" + " OR ".join(filters) + ")))"
    return conn.execute(sql, args).fetchall()


def sort_key(row: sqlite3.Row, window: Window, h: Hall) -> tuple[float, ...]:
    """Smaller is called first; see the module docstring for the tiers."""
    issued = float(row["issued_at"])
    tid = float(row["id"])
    if row["transfer_window"] == window.number:
        return (1, float(row["transferred_at"] or issued), issued, tid)
    if row["priority"] == APPOINTMENT and row["slot_start"]:
        slot = clk.at_local(h.day, row["slot_start"], h.tz)
        if slot <= h.now:
            return (2, slot, issued, tid)
    max_wait = int(h.settings.get("max_wait_minutes") or 0) * 60
    if max_wait and h.now - issued > max_wait:
        return (3, issued, issued, tid)
    if row["priority"] in PRIORITY_GROUPS:
        return (4, issued, issued, tid)
    if window.universal or row["service_code"] not in window.services:
        position = 0
    else:
        position = window.services.index(row["service_code"])
    return (5, float(position), issued, tid)


def ordered(conn: sqlite3.Connection, window: Window, h: Hall) -> list[sqlite3.Row]:
    rows = candidates(conn, window, h.day)
    rows.sort(key=lambda r: sort_key(r, window, h))
    return rows
