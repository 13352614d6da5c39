"""Migrations of the print queue, and what archiving does with its rows.

``printers``: the hall's receipt printers, by name, with the URL and options a technician
typed (``queue-server printer add``) and the last status a worker read.
``print_jobs``: one row per receipt to print. A job goes ``queued`` → ``printing`` (claimed
under a lease by exactly one worker of one process) → ``done``, or back to ``queued`` with
a later ``next_attempt_at`` after an error, or ``failed`` after too many attempts.
Jobs of one printer print in ``id`` order. ``payload`` is the ticket's printable data
(:class:`hardware.printer.TicketData` as JSON, taken when the job is queued); it carries
no personal data. The bytes are rendered by the worker for the printer's options.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from queue_server.db import rebuild_tables

migrations = Migrations("printing")


@migrations(name="m0002_print_queue")
def m0002_print_queue(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE printers (
            name TEXT PRIMARY KEY,          -- e.g. 'lobby-1'
            url TEXT NOT NULL,              -- tcp://10.0.0.31:9100, usb://0416:5011, sim://
            options TEXT NOT NULL DEFAULT '{}',  -- JSON: paper, chinese, encoding, cutter, qr, profile
            is_default INTEGER NOT NULL DEFAULT 0,  -- where tickets go when no printer is named
            enabled INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL DEFAULT 'unknown',  -- ok | near_end | paper_out | cover_open | offline | error | unknown
            status_detail TEXT NOT NULL DEFAULT '',
            status_at REAL,
            paused_reason TEXT,             -- paper_out | cover_open | error: waiting for a fix
            paused_at REAL,
            created_at REAL NOT NULL
        );
        CREATE TABLE print_jobs (
            id INTEGER PRIMARY KEY,
            printer TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('ticket', 'reprint', 'test')),
            ticket_id INTEGER REFERENCES tickets(id),
            payload TEXT NOT NULL,          -- JSON TicketData; no personal data
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'printing', 'done', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            lease_owner TEXT,               -- 'host:pid:thread' of the worker printing it
            lease_until REAL,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL
        );
        CREATE INDEX print_jobs_queue ON print_jobs(printer, state, id);
        CREATE INDEX print_jobs_ticket ON print_jobs(ticket_id);
        """
    )


@migrations(name="m0003_document_jobs", transactional=False)
def m0003_document_jobs(db: Database) -> None:
    """Jobs of kind ``document`` (an approval certificate, a 一次性告知单, a licence copy:
    :class:`hardware.printer.document.DocumentData` as the payload). SQLite cannot alter a
    CHECK constraint, so ``print_jobs`` is rebuilt (SQLite's procedure: new table, copy,
    drop, rename, indexes, ``foreign_key_check``) in one transaction. Safe to run again
    after a crash before it was recorded: it only rebuilds a table without the new kind."""
    conn = db.conn
    sql = (conn.execute("SELECT sql FROM sqlite_master WHERE name = 'print_jobs'").fetchone() or [""])[0]
    if "'document'" in sql:
        return
    statements = [
        """CREATE TABLE print_jobs_new (
            id INTEGER PRIMARY KEY,
            printer TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('ticket', 'reprint', 'test', 'document')),
            ticket_id INTEGER REFERENCES tickets(id),
            payload TEXT NOT NULL,          -- JSON TicketData, or DocumentData for documents
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'printing', 'done', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            lease_owner TEXT,
            lease_until REAL,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL
        )""",
        "INSERT INTO print_jobs_new SELECT id, printer, kind, ticket_id, payload, state, attempts, next_attempt_at, "
        "last_error, lease_owner, lease_until, created_at, started_at, finished_at FROM print_jobs",
        "DROP TABLE print_jobs",
        "ALTER TABLE print_jobs_new RENAME TO print_jobs",
        "CREATE INDEX print_jobs_queue ON print_jobs(printer, state, id)",
        "CREATE INDEX print_jobs_ticket ON print_jobs(ticket_id)",
    ]
    rebuild_tables(conn, statements, "print_jobs", "print_jobs")


def archive(conn: sqlite3.Connection, day: str, cutoff: float, limit: int) -> dict[str, int]:
    """Before the queue archives the tickets of days before ``day``: the print queue keeps
    its own history, so jobs let go of those tickets (the job rows stay), ``limit`` at a time."""
    n = conn.execute(
        # From the jobs' side (their ticket_id index, oldest tickets first): the tickets' side
        # would list every old ticket of a year for each batch (150 ms with 440,000).
        "UPDATE print_jobs SET ticket_id = NULL WHERE id IN (SELECT p.id FROM print_jobs p "
        "JOIN tickets t ON t.id = p.ticket_id WHERE t.day < ? ORDER BY p.ticket_id LIMIT ?)",
        (day, limit),
    ).rowcount
    return {"print_jobs_detached": n}
