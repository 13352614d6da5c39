"""The queue's schema changes after the founding migration, and what archiving does with
the queue's rows.

The queue's first tables were created by the core's founding migration ``m0001_hall``
(``queue_server/schema.py``), which shipped before capabilities had sets of their own;
new changes to them are migrations of this set.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils.migrations import Migrations

from queue_server.db import move_rows

migrations = Migrations("queue")


def archive(conn: sqlite3.Connection, day: str, cutoff: float) -> dict[str, int]:
    """Move the tickets, call-log rows and appointments of days before ``day`` to the
    archive; drop the per-day counters and retry keys those days no longer need."""
    old = "ticket_id IN (SELECT id FROM main.tickets WHERE day < ?)"
    moved = {
        "call_log": move_rows(conn, "call_log", old, (day,)),
        "tickets": move_rows(conn, "tickets", "day < ?", (day,)),
        "appointments": move_rows(conn, "appointments", "day < ?", (day,)),
    }
    conn.execute("DELETE FROM main.counters WHERE day < ?", (day,))
    conn.execute("DELETE FROM main.waiting_counts WHERE day < ?", (day,))
    conn.execute("DELETE FROM main.idempotency_keys WHERE created_at < ?", (cutoff,))
    return moved
