"""SQLite storage for the hall: connections, schema migrations, transactions.

One database file per hall. Several server processes may open the same file, so:

* WAL journal with ``synchronous=FULL``: a commit reaches the disk (the WAL is synced)
  before the answer that acknowledges it, so a ticket number handed out is never handed
  out again, even after a power cut (``NORMAL`` would survive ``kill -9`` but could lose
  the last commits on power loss, and the next ticket would reuse a printed number);
  ``docs/performance.md`` has what it costs; a busy timeout;
* every write that allocates or claims something (a ticket number, a ticket to call,
  a print job) runs in ``BEGIN IMMEDIATE`` so SQLite serialises writers across
  processes, and :func:`write_tx` first serialises the threads of one process with a
  lock and the processes with a ``flock`` on ``<db>.write.lock``, because SQLite's busy
  handler sleeps in coarse steps (up to 100 ms) when writers collide;
* the schema is applied by :mod:`queue_server.migrations` (``open_db``), under a file
  lock, so four processes starting at once on a fresh file do not race.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlite_utils import Database

_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def connect(path: str | os.PathLike[str]) -> Database:
    """Open the hall database at ``path`` (created if missing) with the project's pragmas.

    The connection is in autocommit mode (``isolation_level=None``): use :func:`write_tx`
    for writes. It may be shared by threads only under that lock; the server keeps one
    connection per thread.
    """
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=10.0
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA mmap_size=268435456")
    return Database(conn)


def _lock_for(db: Database) -> threading.Lock:
    key = db_path(db)
    with _write_locks_guard:
        lock = _write_locks.get(key)
        if lock is None:
            lock = _write_locks[key] = threading.Lock()
        return lock


def _process_lock_for(db: Database) -> _ProcessLock | None:
    key = db_path(db)
    if key == ":memory:":
        return None
    with _write_locks_guard:
        lock = _process_locks.get(key)
        if lock is None:
            lock = _process_locks[key] = _ProcessLock(key)
        return lock


def db_path(db: Database) -> str:
    """The absolute file name behind ``db`` (``":memory:"`` for memory databases)."""
    cached = getattr(db, "_yichuang_path", None)
    if cached is not None:
        return str(cached)
    row = db.conn.execute("PRAGMA database_list").fetchone()
    path = row[2] if row and row[2] else ":memory:"
    db._yichuang_path = path  # type: ignore[attr-defined]
    return str(path)


class _ProcessLock:
    """An exclusive ``flock`` on ``<db>.write.lock``, shared by this process's threads.

    SQLite's busy handler polls in coarse sleeps (up to 100 ms) when two processes collide
    on ``BEGIN IMMEDIATE``; waiting on a file lock instead wakes the next writer as soon as
    the previous one releases. The descriptor is reopened after ``fork`` because flock
    locks belong to the open file description, which a forked child would share.
    """

    def __init__(self, path: str) -> None:
        self.path = path + ".write.lock"
        self._fd = -1
        self._pid = -1

    def _fileno(self) -> int:
        if self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def acquire(self) -> None:
        fcntl.flock(self._fileno(), fcntl.LOCK_EX)

    def release(self) -> None:
        fcntl.flock(self._fileno(), fcntl.LOCK_UN)


_process_locks: dict[str, _ProcessLock] = {}


@contextmanager
def write_tx(db: Database) -> Iterator[sqlite3.Connection]:
    """A ``BEGIN IMMEDIATE`` transaction, serialised in-process first.

    Commits on success, rolls back on any exception (which is re-raised)::

        with write_tx(db) as conn:
            conn.execute("UPDATE ...")
    """
    conn = db.conn
    plock = _process_lock_for(db)
    with _lock_for(db):
        if plock is not None:
            plock.acquire()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
        finally:
            if plock is not None:
                plock.release()


def move_rows(conn: sqlite3.Connection, table: str, where: str, params: tuple[object, ...] = ()) -> int:
    """Archive helper: copy ``main.<table>`` rows matching ``where`` into ``arch.<table>``
    (created as a plain copy without constraints) and delete them; returns how many moved."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS arch.{table} AS SELECT * FROM main.{table} WHERE 0")
    conn.execute(f"INSERT INTO arch.{table} SELECT * FROM main.{table} WHERE {where}", params)
    return int(conn.execute(f"DELETE FROM main.{table} WHERE {where}", params).rowcount)


@contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block."""
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Checkpointer:
    """Moves WAL pages into the database file from a background thread.

    By default SQLite checkpoints inside whichever commit pushes the WAL past 1000
    pages, so one unlucky request pays for copying megabytes. The server turns that off
    on its request connections (``wal_autocheckpoint=0``) and runs this thread instead:
    a ``PASSIVE`` checkpoint every ``interval`` seconds never blocks readers or writers.
    """

    def __init__(self, path: str | os.PathLike[str], interval: float = 0.5) -> None:
        self.path = str(path)
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=1.0)
        try:
            while not self._stop.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:  # busy: the next round catches up
                    continue
        finally:
            conn.close()

