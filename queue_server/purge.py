"""Purging personal data: the fields that name or identify a citizen are cleared once their
retention is over, in the hall database and in every archive file beside it.

What is cleared, and after how long (``docs/privacy.md`` has the table):

* queue tickets and appointments — ID digest, masked ID, masked name, the referral reason
  and transfer note clerks type — ``retention.queue_days`` after their business day
  (default 0: at the end of the day, when the daily job runs at ``purge_time``);
* 秒批 cases (masked holder, the inputs with their keyed ID digests, the staff note) and
  evaluations (masked evaluator, comment, rectification notes) after
  ``retention.record_days``.

The row stays (numbers, times, services, decisions: the statistics and the audit refer to
them); only the personal fields go. Like the archiver, the work is done in batches of
``batch`` rows — the rows are found outside any transaction, then cleared in one short write
transaction each (well under 50 ms), so issuing and calling go on during a purge.

The audit trail is not touched: its records never hold personal fields
(:data:`queue_server.audit.records.FORBIDDEN_FIELDS`; a staff note is recorded as its keyed
digest), so the hash chain verifies after any purge.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.db import db_path, write_tx
from queue_server.schedule import daily
from queue_server.settings import all_settings

#: Rows per batch (one write transaction each).
BATCH = 200


@dataclass(frozen=True)
class Purge:
    """One table's personal fields: ``clear`` column → the value it is set to; rows whose
    ``age_column`` is at or before the cutoff (a day string, or Unix seconds when ``ts``)."""

    table: str
    key: str
    age_column: str
    ts: bool
    clear: dict[str, Any]
    setting: str


PURGES: tuple[Purge, ...] = (
    Purge("tickets", "id", "day", False, {"id_hash": None, "id_masked": None, "referral_reason": None,
                                          "transfer_note": None}, "retention.queue_days"),
    Purge("appointments", "id", "day", False, {"id_hash": None, "id_masked": None, "name_masked": "",
                                               "body_digest": None},
          "retention.queue_days"),
    Purge("approval_cases", "case_number", "decided_at", True, {"holder": "{}", "inputs": "{}", "staff_note": None,
                                                                    "applicant_key": None},
          "retention.record_days"),
    Purge("evaluations", "id", "day", False, {"evaluator": "", "comment": ""}, "retention.record_days"),
    Purge("rectifications", "id", "updated_at", True, {"follow_up_note": None, "measure": None,
                                                       "invalid_reason": None, "extension_reason": None},
          "retention.record_days"),
    Purge("rectification_steps", "id", "ts", True, {"note": ""}, "retention.record_days"),
)


def cutoffs(settings: dict[str, Any], now: float) -> dict[str, tuple[str, float]]:
    """Per retention setting: the last business day purged and the matching Unix time.

    Queue rows: with ``retention.queue_days`` = N, a day's rows go at the end of day + N —
    after ``purge_time`` that day, or on any later run; before it only earlier days go."""
    tz = str(settings["timezone"])
    today = dt.date.fromisoformat(clk.business_day(now, tz))
    at = str(settings.get("purge_time") or "")
    closed = bool(at) and now >= clk.at_local(today.isoformat(), at, tz)
    out = {}
    qdays = int(settings["retention.queue_days"])
    last = today - dt.timedelta(days=qdays + (0 if closed else 1))
    out["retention.queue_days"] = (last.isoformat(), clk.day_start((last + dt.timedelta(days=1)).isoformat(), tz))
    rdays = int(settings["retention.record_days"])
    last = today - dt.timedelta(days=rdays)
    out["retention.record_days"] = (last.isoformat(), clk.day_start((last + dt.timedelta(days=1)).isoformat(), tz))
    return out


def _tables(conn: sqlite3.Connection, schema: str) -> set[str]:
    return {r[0] for r in conn.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'")}


def _purge_table(db_conn: sqlite3.Connection, tx: Callable[[], Any], schema: str, p: Purge,
                 cutoff: tuple[str, float], batch: int, progress: Callable[[str, int], None] | None
                 ) -> tuple[int, float]:
    cols = [c for c in p.clear if c in {r[1] for r in db_conn.execute(f"PRAGMA {schema}.table_info({p.table})")}]
    if not cols:
        return 0, 0.0
    limit = cutoff[1] if p.ts else cutoff[0]
    age = f"{p.age_column} < ?" if p.ts else f"{p.age_column} <= ?"
    personal = " OR ".join(f"{c} IS NOT ?" for c in cols)
    clear_args = [p.clear[c] for c in cols]
    sets = ", ".join(f"{c} = ?" for c in cols)
    select = (f"SELECT {p.key} FROM {schema}.{p.table} WHERE {p.key} > ? AND {age} AND ({personal}) "
              f"ORDER BY {p.key} LIMIT ?")
    cursor: Any = -1 if p.key == "id" else ""
    done, longest = 0, 0.0
    while True:
        keys = [r[0] for r in db_conn.execute(select, (cursor, limit, *clear_args, batch))]
        if not keys:
            return done, longest
        marks = ",".join("?" * len(keys))
        t0 = time.perf_counter()
        with tx() as conn:
            n = conn.execute(f"UPDATE {schema}.{p.table} SET {sets} WHERE {p.key} IN ({marks}) AND {age}",
                             (*clear_args, *keys, limit)).rowcount
        longest = max(longest, time.perf_counter() - t0)
        done += n
        cursor = keys[-1]
        if progress is not None:
            progress(f"{schema}.{p.table}", done)


def archive_files(database_path: str) -> list[Path]:
    """The archive files of a hall database: ``<db>.archive.db`` and ``<stem>*.archive.db``
    beside it (``queue-server archive --out``'s default and its documented naming)."""
    path = Path(database_path)
    found = set(path.parent.glob(f"{path.stem}*.archive.db")) | set(path.parent.glob(f"{path.name}*.archive.db"))
    return sorted(p for p in found if p.is_file())


def purge(db: Database, *, now: float | None = None, archives: list[str | os.PathLike[str]] | None = None,
          batch: int = BATCH, progress: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Clear every personal field whose retention is over, in the database and its archive
    files (``archives``; default: :func:`archive_files`). Counts of rows cleared per
    ``file.table``, the longest write transaction, and the cutoffs used."""
    t = clk.now(None) if now is None else now
    settings = all_settings(db)
    cuts = cutoffs(settings, t)
    conn = db.conn
    cleared: dict[str, int] = {}
    longest = 0.0
    # Cleared values must not linger in the file's free space: SQLite zeroes what it frees.
    conn.execute("PRAGMA main.secure_delete=ON")
    main_tables = _tables(conn, "main")
    for p in PURGES:
        if p.table in main_tables:
            n, lt = _purge_table(conn, lambda: write_tx(db), "main", p, cuts[p.setting], batch, progress)
            cleared[f"main.{p.table}"] = n
            longest = max(longest, lt)
    files = [Path(a) for a in archives] if archives is not None else archive_files(db_path(db))
    for i, path in enumerate(files):
        schema = f"purge_arch{i}"
        conn.execute(f"ATTACH DATABASE ? AS {schema}", (str(path),))
        try:
            conn.execute(f"PRAGMA {schema}.secure_delete=ON")
            tables = _tables(conn, schema)
            for p in PURGES:
                if p.table in tables:
                    n, lt = _purge_table(conn, lambda: write_tx(db), schema, p, cuts[p.setting], batch, progress)
                    cleared[f"{path.name}:{p.table}"] = n
                    longest = max(longest, lt)
            conn.execute(f"PRAGMA {schema}.wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.execute(f"DETACH DATABASE {schema}")
    # Old page images of the cleared rows sit in the WAL until a checkpoint copies the new
    # ones over; TRUNCATE empties it (best effort: a reader still open keeps it for later).
    conn.execute("PRAGMA main.wal_checkpoint(TRUNCATE)").fetchall()
    return {"cleared": cleared, "archives": [str(p) for p in files], "longest_tx_ms": round(longest * 1000, 1),
            "through": {k: v[0] for k, v in cuts.items()}}


@daily("purge", "purge_time", "Clear personal fields whose retention is over (docs/privacy.md), archives too.")
def _daily_purge(db: Database, day: str) -> dict[str, Any]:
    """The purge as of ``day``'s purge time (the scheduler runs it at or after that time)."""
    settings = all_settings(db)
    return purge(db, now=clk.at_local(day, str(settings["purge_time"]), str(settings["timezone"])))
