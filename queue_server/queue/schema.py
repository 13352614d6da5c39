"""The queue's schema changes after the founding migration, and what archiving does with
the queue's rows.

The queue's first tables were created by the core's founding migration ``m0001_hall``
(``queue_server/schema.py``), which shipped before capabilities had sets of their own;
new changes to them are migrations of this set.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from queue_server.db import move_rows

migrations = Migrations("queue")


@migrations(name="m0001_open_rows")
def m0001_open_rows(db: Database) -> None:
    """The first ticket of a day expires what earlier days left open: with a year of
    history that must read only the few open rows, not every old day's."""
    db.execute("CREATE INDEX tickets_open ON tickets(day) WHERE status IN ('waiting', 'called', 'serving')")
    db.execute("CREATE INDEX appointments_booked ON appointments(day) WHERE status = 'booked'")
    # call_log refers to tickets: without this every change to a ticket's key (and each
    # archived ticket) searches the whole call log for its rows.
    db.execute("CREATE INDEX call_log_ticket ON call_log(ticket_id)")



@migrations(name="m0002_appointment_body")
def m0002_appointment_body(db: Database) -> None:
    """Appointments arrive from the booking platform and are retried: ``body_digest`` is a
    keyed digest (the ID key, :mod:`queue_server.idkey`) of what was booked, name and ID
    included, so the same body again is recognised without keeping either in clear."""
    db.execute("ALTER TABLE appointments ADD COLUMN body_digest TEXT")


@migrations(name="m0003_waiting_order")
def m0003_waiting_order(db: Database) -> None:
    """前面还有 N 人 reads every waiting ticket of the day (:mod:`queue_server.queue.ahead`)
    after each issue: a covering index of just the waiting rows, in issue order, answers it
    from the index alone — a third of the time of reading the wide ticket rows."""
    db.execute("CREATE INDEX tickets_waiting_order ON tickets(day, status, issued_at, service_code, priority, "
               "transfer_window, transferred_at, appointment_id) WHERE status = 'waiting'")


@migrations(name="m0004_idempotency_request")
def m0004_idempotency_request(db: Database) -> None:
    """A retry key is kept with a keyed digest of the request it was used for
    (:func:`queue_server.idkey.json_digest`): the same key with another request is refused
    (422 ``idempotency_key_reused``) instead of answered with the first request's ticket."""
    db.execute("ALTER TABLE idempotency_keys ADD COLUMN request_digest TEXT")


def archive(conn: sqlite3.Connection, day: str, cutoff: float, limit: int) -> dict[str, int]:
    """Move up to ``limit`` of the tickets of days before ``day`` (with their call-log rows),
    then the appointments, to the archive; once none are left, drop the per-day counters and
    retry keys those days no longer need."""
    ids = [r[0] for r in conn.execute("SELECT id FROM main.tickets WHERE day < ? ORDER BY id LIMIT ?",
                                      (day, limit))]
    if ids:
        marks = ",".join("?" * len(ids))
        return {
            "call_log": move_rows(conn, "call_log", f"ticket_id IN ({marks})", tuple(ids)),
            "tickets": move_rows(conn, "tickets", f"id IN ({marks})", tuple(ids)),
        }
    appts = move_rows(conn, "appointments",
                      "id IN (SELECT id FROM main.appointments WHERE day < ? ORDER BY id LIMIT ?)", (day, limit))
    if appts:
        return {"appointments": appts}
    conn.execute("DELETE FROM main.counters WHERE day < ?", (day,))
    conn.execute("DELETE FROM main.waiting_counts WHERE day < ?", (day,))
    conn.execute("DELETE FROM main.idempotency_keys WHERE created_at < ?", (cutoff,))
    return {"tickets": 0, "call_log": 0, "appointments": 0}
