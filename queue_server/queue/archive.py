"""Daily archive: move finished business days out of the live database.

Numbers reset by themselves (counters are per day) and the first ticket of a day
expires what earlier days left open; the archive keeps the live file small. Tickets,
call-log rows and appointments of days before ``before`` and events older than that day
are copied into an archive SQLite file (created with the same tables) and deleted from
the hall database, in one transaction.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from sqlite_utils import Database

from queue_server.db import write_tx
from queue_server.queue import clock as clk
from queue_server.settings import get_setting

_TABLES = ("appointments", "tickets", "call_log", "events")


def archive_days(db: Database, archive_path: str | os.PathLike[str], *, before: str | None = None,
                 clock: clk.Clock | None = None) -> dict[str, Any]:
    """Archive everything of business days before ``before`` (default: today)."""
    tz = str(get_setting(db, "timezone"))
    day = before or clk.business_day(clk.now(clock), tz)
    cutoff = clk.day_start(day, tz)
    conn = db.conn
    target = str(archive_path)
    conn.execute("ATTACH DATABASE ? AS arch", (target,))
    try:
        with write_tx(db) as c:
            for table in _TABLES:
                # Plain copies without constraints: the archive has no services or windows.
                c.execute(f"CREATE TABLE IF NOT EXISTS arch.{table} AS SELECT * FROM main.{table} WHERE 0")
            old = "(SELECT id FROM main.tickets WHERE day < ?)"
            moved = {}
            c.execute("INSERT INTO arch.appointments SELECT * FROM main.appointments WHERE day < ?", (day,))
            c.execute("INSERT INTO arch.tickets SELECT * FROM main.tickets WHERE day < ?", (day,))
            c.execute(f"INSERT INTO arch.call_log SELECT * FROM main.call_log WHERE ticket_id IN {old}", (day,))
            c.execute("INSERT INTO arch.events SELECT * FROM main.events WHERE ts < ?", (cutoff,))
            moved["call_log"] = c.execute(f"DELETE FROM main.call_log WHERE ticket_id IN {old}", (day,)).rowcount
            _detach_print_jobs(c, day)
            moved["tickets"] = c.execute("DELETE FROM main.tickets WHERE day < ?", (day,)).rowcount
            moved["appointments"] = c.execute("DELETE FROM main.appointments WHERE day < ?", (day,)).rowcount
            moved["events"] = c.execute("DELETE FROM main.events WHERE ts < ?", (cutoff,)).rowcount
            c.execute("DELETE FROM main.counters WHERE day < ?", (day,))
            c.execute("DELETE FROM main.waiting_counts WHERE day < ?", (day,))
            c.execute("DELETE FROM main.idempotency_keys WHERE created_at < ?", (cutoff,))
    finally:
        conn.execute("DETACH DATABASE arch")
    return {"before": day, "archive": target, "moved": moved}


def _detach_print_jobs(conn: Any, day: str) -> None:
    """Print jobs may reference tickets; the print queue keeps its own history."""
    has_jobs = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'print_jobs'"
    ).fetchone()
    if not has_jobs:
        return
    cols = {r[1] for r in conn.execute("PRAGMA table_info(print_jobs)")}
    if "ticket_id" not in cols:
        return
    old = "(SELECT id FROM tickets WHERE day < ?)"
    try:
        conn.execute(f"UPDATE print_jobs SET ticket_id = NULL WHERE ticket_id IN {old}", (day,))
    except sqlite3.IntegrityError:  # ticket_id NOT NULL: old days' jobs have no use left
        conn.execute(f"DELETE FROM print_jobs WHERE ticket_id IN {old}", (day,))
