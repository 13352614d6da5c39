"""Daily archive: move finished business days out of the live database.

Numbers reset by themselves (counters are per day) and the first ticket of a day
expires what earlier days left open; the archive keeps the live file small. Each
capability says what happens to its rows (its ``schema.archive``, run dependents first,
see :func:`queue_server.migrations.archivers`); the core then moves the events older than
the first kept day — but never an event a capability still holds (``hold_events``, see
:func:`queue_server.migrations.event_holds`: the uplink keeps every event the city hub has
not acknowledged). Rows are copied into an archive SQLite file (plain tables of the
same columns) and deleted from the hall database, in one transaction. The audit trail
is never archived.
"""

from __future__ import annotations

import os
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.db import move_rows, write_tx
from queue_server.migrations import archivers, event_holds
from queue_server.settings import get_setting


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
        moved: dict[str, int] = {}
        with write_tx(db) as c:
            for _name, fn in archivers():
                moved.update(fn(c, day, cutoff))
            holds = [h for h in (fn(c) for _name, fn in event_holds()) if h is not None]
            if holds:
                moved["events"] = move_rows(c, "events", "ts < ? AND id <= ?", (cutoff, min(holds)))
                moved["events_held"] = int(c.execute("SELECT COUNT(*) FROM events WHERE ts < ? AND id > ?",
                                                     (cutoff, min(holds))).fetchone()[0])
            else:
                moved["events"] = move_rows(c, "events", "ts < ?", (cutoff,))
    finally:
        conn.execute("DETACH DATABASE arch")
    return {"before": day, "archive": target, "moved": moved}
