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

from queue_server import clock as clk
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


def next_for(conn: sqlite3.Connection, window: Window, h: Hall) -> int | None:
    """The id of the ticket call-next takes, without sorting the whole queue.

    The same order as :func:`ordered`, computed from two small sets: the "special"
    waiting tickets (priority, appointment, transferred: partial index
    ``tickets_special``) ordered by the full query, and the oldest plain ticket of each
    service the window serves that has anyone waiting (``waiting_counts``), one index
    probe each. The oldest plain ticket of a service is the best of that service's plain
    tickets in every tier, so the minimum over these candidates is the overall minimum.
    """
    special = ordered(conn, window, h, limit=1, special_only=True)
    max_wait = _max_wait_seconds(h)
    service_list = "" if window.universal else "," + ",".join(window.services) + ","
    best: tuple[Any, ...] | None = None
    best_id: int | None = None
    if special:
        r = special[0]
        k2 = {1: r["transferred_at"], 2: r["slot_start"], 5: r["pos"]}.get(r["tier"], 0)
        best, best_id = (r["tier"], k2, r["issued_at"], r["id"]), int(r["id"])
    waiting = conn.execute(
        "SELECT service_code FROM waiting_counts WHERE day = ? AND n > 0", (h.day,)
    ).fetchall()
    for (code,) in waiting:
        if not window.universal and code not in window.services:
            continue
        head = conn.execute(
            "SELECT id, issued_at FROM tickets WHERE day = ? AND status = 'waiting' AND service_code = ? "
            "AND priority IS NULL AND transfer_window IS NULL ORDER BY issued_at, id LIMIT 1",
            (h.day, code),
        ).fetchone()
        if head is None:
            continue
        issued = float(head[1])
        if max_wait and issued < h.now - max_wait:
            key: tuple[Any, ...] = (3, 0, issued, int(head[0]))
        else:
            key = (5, service_list.find(f",{code},") + 1, issued, int(head[0]))
        if best is None or key < best:
            best, best_id = key, int(head[0])
    return best_id


def ordered(conn: sqlite3.Connection, window: Window, h: Hall, limit: int | None = None,
            special_only: bool = False) -> list[sqlite3.Row]:
    """Today's waiting tickets that ``window`` may call, in call order (one SQL query).

    ``special_only`` keeps the tickets of ``tickets_special`` (priority, appointment,
    transferred).
    """
    params: dict[str, Any] = {
        "window": window.number,
        "day": h.day,
        "now": h.now,
        "hhmm": clk.local(h.now, h.tz).strftime("%H:%M"),
        "max_wait": _max_wait_seconds(h),
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
    if special_only:  # the exact terms of the partial index, and the index itself
        sql = sql.replace(
            "WHERE t.day = :day AND t.status = 'waiting' AND",
            "WHERE t.day = :day AND t.status = 'waiting' "
            "AND (t.priority IS NOT NULL OR t.transfer_window IS NOT NULL) AND",
        ).replace("FROM tickets t\n", "FROM tickets t INDEXED BY tickets_special\n")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return conn.execute(sql, params).fetchall()


def _max_wait_seconds(h: Hall) -> int:
    """``max_wait_minutes`` in seconds, within its bounds even if a bad value was stored before
    settings were validated (it once overflowed SQLite's integers and stopped every call)."""
    try:
        minutes = int(h.settings.get("max_wait_minutes") or 0)
    except (TypeError, ValueError):
        minutes = 0
    return max(0, min(minutes, 1440)) * 60
