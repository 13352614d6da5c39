"""The admin capability's tables, and what archiving does with them.

* ``admin_window_log`` — every window status change (open, paused, resumed, closed) with
  the clerk signed in at that moment, written by a trigger on the window events, so the
  statistics know when each clerk's window was open (idle time) without touching the
  engine. Events carry no clerk; this table has only the user id.
* ``admin_archives`` — the archive files that hold earlier days (recorded when archiving
  runs), so statistics over a range read them too.
* ``admin_password_resets`` — users whose password is a one-time password an admin set
  (they are asked to change it at their next login on the admin pages).
* ``admin_stats_days`` — the statistics' per-day facts of closed days
  (:mod:`queue_server.admin.rollups`); they stay in the hall file when days are archived.

:func:`before_archive` makes the per-day facts of the days about to be archived (from the
hall file, before they move). :func:`archive` records the archive file and gives it the tables and indexes statistics
need (by day, by call time, window log by time and by window), then moves old window-log
rows to the archive with the tickets, so a month in the archive answers as fast as a month
in the live file.
"""

from __future__ import annotations

import sqlite3
import time

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from queue_server.db import move_rows

migrations = Migrations("admin")

WINDOW_EVENTS = ("window.opened", "window.paused", "window.resumed", "window.closed")


@migrations(name="m0001_admin")
def m0001_admin(db: Database) -> None:
    kinds = ", ".join(f"'{k}'" for k in WINDOW_EVENTS)
    db.executescript(
        f"""
        CREATE TABLE admin_window_log (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            window INTEGER NOT NULL,
            status TEXT NOT NULL,          -- open | paused | closed (after the change)
            clerk_user_id INTEGER          -- the clerk signed in at the window then (NULL: none)
        );
        CREATE INDEX admin_window_log_ts ON admin_window_log(ts);
        CREATE INDEX admin_window_log_window ON admin_window_log(window, ts);
        CREATE TRIGGER admin_window_log_event AFTER INSERT ON events WHEN NEW.type IN ({kinds})
        BEGIN
            INSERT INTO admin_window_log (ts, window, status, clerk_user_id)
            VALUES (NEW.ts, json_extract(NEW.data, '$.window'), json_extract(NEW.data, '$.status'),
                    (SELECT clerk_user_id FROM windows WHERE number = json_extract(NEW.data, '$.window')));
        END;
        CREATE TABLE admin_archives (
            path TEXT PRIMARY KEY,         -- archive file (absolute)
            first_day TEXT NOT NULL,
            last_day TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE admin_password_resets (
            user_id INTEGER PRIMARY KEY,
            reset_at REAL NOT NULL
        );
        """
    )


@migrations(name="m0002_admin_stats_days")
def m0002_admin_stats_days(db: Database) -> None:
    """Per-day facts of closed days for the statistics (``queue_server/admin/rollups.py``):
    one row per business day, kept in the hall file (archiving leaves them here)."""
    db.executescript(
        """
        CREATE TABLE admin_stats_days (
            day TEXT PRIMARY KEY,          -- business day (hall time)
            basis TEXT NOT NULL,           -- digest of what the figures depend on (rollups.basis)
            made_at REAL NOT NULL,
            tickets INTEGER NOT NULL,      -- entries in each c_* column (one per ticket)
            services TEXT NOT NULL,        -- JSON list of service codes: c_svc indexes into it
            categories TEXT NOT NULL,      -- JSON list of category codes: c_cat indexes into it
            windows TEXT NOT NULL,         -- JSON {window: [open s, idle s]}
            clerks TEXT NOT NULL,          -- JSON {clerk user id or "": [open s, idle s]}
            c_svc BLOB NOT NULL, c_cat BLOB NOT NULL, c_win BLOB NOT NULL, c_clerk BLOB NOT NULL,
            c_hour BLOB NOT NULL, c_status BLOB NOT NULL, c_transferred BLOB NOT NULL,
            c_calls BLOB NOT NULL, c_recalls BLOB NOT NULL,
            c_wait BLOB NOT NULL, c_walk BLOB NOT NULL, c_service BLOB NOT NULL
        );
        """
    )


#: Indexes every archive file gets (statistics read archived days by day and by call time).
ARCHIVE_INDEXES = (
    ("tickets", "admin_tickets_day", "day"),
    ("call_log", "admin_call_log_ts", "ts"),
    ("admin_window_log", "admin_window_log_ts", "ts"),
    ("admin_window_log", "admin_window_log_window", "window, ts"),
)


def before_archive(db: Database, day: str, now: float) -> dict[str, int]:
    """Before archiving moves the days before ``day`` (outside its transactions): make their
    statistics' per-day facts from the hall file (:func:`queue_server.admin.stats.before_archive`)."""
    from queue_server.admin.stats import before_archive as make_facts

    return {"admin_stats_days": int(make_facts(db, day, now)["days_made"])}


def archive(conn: sqlite3.Connection, day: str, cutoff: float, limit: int) -> dict[str, int]:
    """Record the archive file (which days it holds) and give it the tables and indexes
    statistics read, then move window-log rows older than ``cutoff``. The record and the
    tables come first, so statistics read the moved rows from the archive from the first
    batch on (a reader meanwhile finds every window-log row in one file or the other).
    ``admin_stats_days`` stays in the hall file."""
    for table, index, column in ARCHIVE_INDEXES:
        conn.execute(f"CREATE TABLE IF NOT EXISTS arch.{table} AS SELECT * FROM main.{table} WHERE 0")
        conn.execute(f"CREATE INDEX IF NOT EXISTS arch.{index} ON {table}({column})")
    path = next((r[2] for r in conn.execute("PRAGMA database_list") if r[1] == "arch"), "")
    # Two subqueries: SQLite answers a lone MIN or MAX from the index, but both at once by
    # reading every earlier ticket (0.8 s with a year).
    first, last = conn.execute("SELECT (SELECT MIN(day) FROM main.tickets WHERE day < ?), "
                               "(SELECT MAX(day) FROM main.tickets WHERE day < ?)", (day, day)).fetchone()
    if path and first:
        conn.execute(
            "INSERT INTO main.admin_archives (path, first_day, last_day, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (path) DO UPDATE SET first_day = MIN(first_day, excluded.first_day), "
            "last_day = MAX(last_day, excluded.last_day), updated_at = excluded.updated_at",
            (path, first, last, time.time()))
    moved = move_rows(conn, "admin_window_log",
                      "id IN (SELECT id FROM main.admin_window_log WHERE ts < ? ORDER BY id LIMIT ?)",
                      (cutoff, limit))
    return {"admin_window_log": moved}
