"""Archive: move finished business days out of the live database, a small batch at a time.

Numbers reset by themselves (counters are per day) and the first ticket of a day expires
what earlier days left open; the archive keeps the live file small so today's hall never
feels a year of history. Rows are copied into an archive SQLite file (plain tables of the
same columns) and deleted from the hall database **in batches of** ``batch`` **rows, one
short write transaction each**, so issuing and calling go on while a year is archived
(bench: no write transaction over 50 ms). Each capability says what happens to its rows
(its ``schema.archive(conn, day, cutoff, limit)``, called until it moves nothing, dependents
first — see :func:`queue_server.migrations.archivers`); the core then moves the events older
than the first kept day — but never an event a capability still holds (its
``schema.hold_events(conn)`` gives the highest event id archiving may move, see
:func:`queue_server.migrations.event_holds`: the uplink keeps every event the city hub has
not acknowledged). The audit trail is never archived.
Before the first row moves, each capability may prepare (its ``schema.before_archive(db,
day, now)``, outside any transaction — :func:`prepare`): the admin capability makes the
statistics' per-day facts of the days about to go, from the hall file.
Afterwards the freed pages go back to the file system (``PRAGMA incremental_vacuum``, also
in small steps) on databases created with ``auto_vacuum=INCREMENTAL`` — every database
this server creates; an older one needs one ``VACUUM`` to switch (docs/queue-server.md).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.db import move_rows, write_lock, write_tx
from queue_server.migrations import archivers, event_holds, preparers
from queue_server.settings import get_setting

log = logging.getLogger(__name__)

#: Rows per batch (one write transaction each).
BATCH = 100


def archive_days(db: Database, archive_path: str | os.PathLike[str], *, before: str | None = None,
                 clock: clk.Clock | None = None, batch: int = BATCH,
                 progress: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Archive everything of business days before ``before`` (default: today).

    ``progress(what, moved_so_far)`` is called after every batch (the CLI shows counts).
    Returns the counts moved, the longest batch transaction and the pages given back."""
    tz = str(get_setting(db, "timezone"))
    day = before or clk.business_day(clk.now(clock), tz)
    cutoff = clk.day_start(day, tz)
    prepared = prepare(db, day, clk.now(clock), progress)
    conn = db.conn
    target = str(archive_path)
    conn.execute("ATTACH DATABASE ? AS arch", (target,))
    conn.execute("PRAGMA arch.journal_mode=WAL")
    # No checkpoint inside a batch's commit: they run between batches (PASSIVE: they never
    # wait for, nor block, the hall's writers).
    autockpt = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    conn.execute("PRAGMA wal_autocheckpoint=0")
    moved: dict[str, int] = {}
    longest = 0.0
    try:
        steps = [*archivers(), ("events", _events_step)]
        for name, step in steps:
            while True:
                with write_tx(db) as c:
                    # Timed from BEGIN to just before COMMIT: what others wait for. (Waiting for
                    # the lock is their turn, not ours; the commit's fsync runs after the lock
                    # is released, queue_server.db.Durability.)
                    t0 = time.perf_counter()
                    counts = step(c, day, cutoff, batch)
                    longest = max(longest, time.perf_counter() - t0)
                for k, v in counts.items():
                    moved[k] = moved.get(k, 0) + v
                conn.execute("PRAGMA main.wal_checkpoint(PASSIVE)").fetchall()
                if progress is not None:
                    progress(name, sum(counts.values()))
                if not any(counts.values()):
                    break
        holds = [h for h in (fn(conn) for _name, fn in event_holds()) if h is not None]
        if holds:  # what stays only because a capability still needs it
            moved["events_held"] = int(conn.execute("SELECT COUNT(*) FROM events WHERE ts < ? AND id > ?",
                                                    (cutoff, min(holds))).fetchone()[0])
    finally:
        conn.execute("DETACH DATABASE arch")
        conn.execute(f"PRAGMA wal_autocheckpoint={int(autockpt)}")
    freed = give_back_space(db, batch_pages=max(batch, 200))
    return {"before": day, "archive": target, "moved": moved, "longest_tx_ms": round(longest * 1000, 1),
            "pages_freed": freed, "prepared": prepared}


def prepare(db: Database, day: str, now: float, progress: Callable[[str, int], None] | None = None
            ) -> dict[str, int]:
    """Each capability's ``before_archive(db, day, now) -> counts``, outside any transaction
    (its own writes in short transactions of its own), before the first row moves: the
    admin capability makes the statistics' per-day facts of the days about to go. A failing
    one is logged; archiving goes on (what it would have made is made later)."""
    done: dict[str, int] = {}
    for name, fn in preparers():
        try:
            counts = fn(db, day, now)
        except Exception:
            log.exception("archive: %s could not prepare", name)
            continue
        for k, v in counts.items():
            done[k] = done.get(k, 0) + v
            if progress is not None:
                progress(f"{k} (made first)", v)
    return done


def _events_step(conn: sqlite3.Connection, day: str, cutoff: float, batch: int) -> dict[str, int]:
    return {"events": _move_events(conn, cutoff, batch)}


def _move_events(conn: sqlite3.Connection, cutoff: float, batch: int) -> int:
    holds = [h for h in (fn(conn) for _name, fn in event_holds()) if h is not None]
    limit_id = min(holds) if holds else None
    where = "id IN (SELECT id FROM main.events WHERE ts < ?" + (" AND id <= ?" if limit_id is not None else "") + \
        " ORDER BY id LIMIT ?)"
    params: tuple[Any, ...] = (cutoff, limit_id, batch) if limit_id is not None else (cutoff, batch)
    return move_rows(conn, "events", where, params)


def give_back_space(db: Database, batch_pages: int = 500) -> int:
    """Return free pages to the file system in steps of ``batch_pages`` (incremental
    auto-vacuum only); how many pages were given back. (``incremental_vacuum`` frees one page
    per step of its statement, so it runs through ``executescript``, which steps it to the
    end, outside a transaction but under the writers' lock.)"""
    conn = db.conn
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # 2 = INCREMENTAL
        return 0
    freed = 0
    while True:
        with write_lock(db):
            before = conn.execute("PRAGMA freelist_count").fetchone()[0]
            if not before:
                return freed
            conn.executescript(f"PRAGMA incremental_vacuum({int(batch_pages)});")
            after = conn.execute("PRAGMA freelist_count").fetchone()[0]
        if after >= before:
            return freed
        freed += before - after
