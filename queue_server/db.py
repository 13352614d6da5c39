"""SQLite storage for the hall: connections, schema migrations, transactions.

One database file per hall. Several server processes may open the same file, so:

* WAL journal, and **durable commits with group fsync**: :func:`write_tx` returns only
  after the WAL frames of its commit are on disk (:class:`Durability`), so a ticket number
  handed out is never handed out again, even after a power cut. SQLite's own
  ``synchronous=FULL`` would fsync inside every commit while holding the write lock (one
  ticket per fsync); instead connections run ``synchronous=NORMAL`` and each writer, after
  committing and releasing the lock, waits for an ``fsync`` of the WAL that started after
  its commit — concurrent writers share one fsync. ``docs/performance.md`` has the cost;
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

from queue_server.background import BackgroundThread
from queue_server.slots import released

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
    # A new, empty file (before its first table) gets incremental auto-vacuum, so archived
    # pages can be given back (queue_server/archive.py). On an existing file the pragma
    # would try to write — and fail on a full disk — so it is only set on empty ones.
    if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # commits are made durable by Durability (group fsync)
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
    the previous one releases. The file is opened for each hold and closed on release (an
    open costs microseconds): no descriptor outlives the write, so a process that opens many
    databases over its life (tests, the archiver, restores) does not collect them, and a
    forked child never shares a lock's open file description with its parent. Callers hold
    the in-process lock first, so one thread at a time holds this.
    """

    def __init__(self, path: str) -> None:
        self.path = path + ".write.lock"
        self._fd = -1

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)  # closing the last descriptor of the description releases the flock


_process_locks: dict[str, _ProcessLock] = {}


@contextmanager
def write_lock(db: Database) -> Iterator[sqlite3.Connection]:
    """This process's writers, then the other processes' (``flock``), held for the block —
    without a transaction, for the few statements that must run outside one."""
    plock = _process_lock_for(db)
    with _lock_for(db):
        if plock is not None:
            plock.acquire()
        try:
            yield db.conn
        finally:
            if plock is not None:
                plock.release()


def rebuild_tables(conn: sqlite3.Connection, statements: list[str], what: str, check: str | None = None) -> None:
    """Run a migration that rebuilds tables (create new, copy, drop, rename) in one
    transaction with foreign keys off — SQLite's way to change a constraint — and refuse it,
    rolled back, if a foreign key no longer holds afterwards (``check``: the one table to
    check; None: every table). ``what`` names the tables in the error."""
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql in statements:
                conn.execute(sql)
            pragma = f"PRAGMA foreign_key_check({check})" if check else "PRAGMA foreign_key_check"
            bad = conn.execute(pragma).fetchall()
            if bad:
                raise RuntimeError(f"foreign key check failed after rebuilding {what}: {bad[:3]}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


@contextmanager
def write_tx(db: Database) -> Iterator[sqlite3.Connection]:
    """A ``BEGIN IMMEDIATE`` transaction, serialised in-process first, that is on disk when
    the block ends.

    Commits on success, rolls back on any exception (which is re-raised); after the commit
    (locks released) waits until the WAL holding it has been fsynced::

        with write_tx(db) as conn:
            conn.execute("UPDATE ...")
    """
    with write_lock(db) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
            durability = _durability_for(db)
            ticket = durability.committed() if durability is not None else 0
    if durability is not None:
        with released():  # an fsync takes milliseconds of nobody's CPU: lend the work slot
            durability.wait(ticket)


class Durability:
    """Group fsync of one database's WAL: every commit gets a number; :meth:`wait` returns
    once an fsync that *started after* that commit has finished. Threads that commit while
    an fsync runs share the next one, so N concurrent writers cost about one fsync, not N.

    ``fsync`` on any descriptor of a file flushes the file's dirty pages (Linux), so the
    frames other connections and processes wrote are covered too.
    """

    def __init__(self, path: str) -> None:
        self.wal = path + "-wal"
        self._cond = threading.Condition()
        self._committed = 0
        self._synced = 0
        self._syncing = False

    def committed(self) -> int:
        with self._cond:
            self._committed += 1
            return self._committed

    def wait(self, ticket: int) -> None:
        with self._cond:
            while self._synced < ticket:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target = self._committed
                self._cond.release()
                try:
                    self._fsync()
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self._cond.notify_all()
                self._synced = max(self._synced, target)

    def _fsync(self) -> None:
        # Opened for each sync (microseconds beside the fsync itself): a descriptor kept
        # open would hold a deleted WAL's disk space and outlive the database's last use.
        try:
            fd = os.open(self.wal, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # no WAL: the commit was checkpointed into the file
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_durability: dict[str, Durability] = {}


def _durability_for(db: Database) -> Durability | None:
    key = db_path(db)
    if key == ":memory:":
        return None
    with _write_locks_guard:
        d = _durability.get(key)
        if d is None or os.getpid() != getattr(d, "pid", os.getpid()):
            d = _durability[key] = Durability(key)
            d.pid = os.getpid()  # type: ignore[attr-defined]
        return d


def move_rows(conn: sqlite3.Connection, table: str, where: str, params: tuple[object, ...] = ()) -> int:
    """Archive helper: copy ``main.<table>`` rows matching ``where`` into ``arch.<table>``
    (created as a plain copy without constraints) and delete them; returns how many moved.
    A column the live table gained since the archive file was made is added to it first."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS arch.{table} AS SELECT * FROM main.{table} WHERE 0")
    cols = [str(r[1]) for r in conn.execute(f"PRAGMA main.table_info({table})")]
    have = {str(r[1]) for r in conn.execute(f"PRAGMA arch.table_info({table})")}
    for col in cols:
        if col not in have:
            conn.execute(f'ALTER TABLE arch.{table} ADD COLUMN "{col}"')
    names = ", ".join(f'"{c}"' for c in cols)
    conn.execute(f"INSERT INTO arch.{table} ({names}) SELECT {names} FROM main.{table} WHERE {where}", params)
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


class Checkpointer(BackgroundThread):
    """Moves WAL pages into the database file from a background thread.

    By default SQLite checkpoints inside whichever commit pushes the WAL past 1000
    pages, so one unlucky request pays for copying megabytes. The server turns that off
    on its request connections (``wal_autocheckpoint=0``) and runs this thread instead:
    a ``PASSIVE`` checkpoint every ``interval`` seconds never blocks readers or writers.
    """

    name = "wal-checkpoint"

    def __init__(self, path: str | os.PathLike[str], interval: float = 0.5) -> None:
        super().__init__()
        self.path = str(path)
        self.interval = interval

    def run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=1.0)
        try:
            while not self.stopping.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:  # busy: the next round catches up
                    continue
        finally:
            conn.close()

