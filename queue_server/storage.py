"""Storage faults, answered plainly: a full disk, a read-only database, a lock held by
another program, an I/O error.

SQLite reports each as an exception with an error name (``SQLITE_FULL``,
``SQLITE_READONLY``, ``SQLITE_BUSY``, ``SQLITE_IOERR_*``, ``SQLITE_CANTOPEN``).
:func:`fault_code` turns it into one of the registry's ``storage_*`` codes (HTTP 503 with
a Chinese message and what to do), :class:`FaultLog` remembers the last one a process saw,
and :func:`check` is what ``/api/health`` reports: a tiny real write (so it tells the truth
about the disk, the file and the locks) plus the free space where the database lives.
Nothing needs restarting when the fault clears: each request's transaction either commits
or rolls back, and the next one simply works again.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any

#: SQLite error names (prefixes) → the registry's code.
_CODES = (
    ("SQLITE_FULL", "storage_full"),
    ("SQLITE_READONLY", "storage_read_only"),
    ("SQLITE_BUSY", "storage_busy"),
    ("SQLITE_LOCKED", "storage_busy"),
    ("SQLITE_IOERR", "storage_io_error"),
    ("SQLITE_CANTOPEN", "storage_unavailable"),
    ("SQLITE_PERM", "storage_read_only"),
)

#: Free space below this (MiB) adds a ``low_disk_space`` warning while writes still work.
MIN_FREE_MB = 20


def fault_code(exc: BaseException) -> str | None:
    """The ``storage_*`` code of a storage fault, or None for any other error."""
    if not isinstance(exc, sqlite3.Error):
        return None
    name = getattr(exc, "sqlite_errorname", "") or ""
    for prefix, code in _CODES:
        if name.startswith(prefix):
            return code
    text = str(exc).lower()  # exceptions raised without an error name (older paths)
    if "disk is full" in text or "file too large" in text:
        return "storage_full"
    if "readonly" in text or "read-only" in text:
        return "storage_read_only"
    if "locked" in text:
        return "storage_busy"
    if "disk i/o error" in text:
        return "storage_io_error"
    if "unable to open" in text:
        return "storage_unavailable"
    return None


@dataclass
class Fault:
    code: str
    detail: str
    at: float


class FaultLog:
    """The last storage fault this process saw on a write, until a write succeeds again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last: Fault | None = None

    def record(self, code: str, detail: str) -> None:
        with self._lock:
            self.last = Fault(code, detail, time.time())

    def clear(self) -> None:
        with self._lock:
            self.last = None


def _free_mb(path: str) -> float | None:
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)) or ".")
    except OSError:
        return None
    return st.f_bavail * st.f_frsize / (1024 * 1024)


def check(path: str, log: FaultLog | None = None, *, busy_ms: int = 250) -> dict[str, Any]:
    """What ``/api/health`` says about storage: ``{"state", "writable", "free_mb", "code"?,
    "warning"?, "detail"?}``. ``state`` is ``ok`` or the fault's code. Probes with a real
    write of one row in its own short-lived connection (busy timeout ``busy_ms``)."""
    free = _free_mb(path)
    out: dict[str, Any] = {"state": "ok", "writable": True,
                           "free_mb": None if free is None else round(free, 1)}
    try:
        conn = sqlite3.connect(path, timeout=busy_ms / 1000, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR REPLACE INTO health_probe (id, ts) VALUES (1, ?)", (time.time(),))
            conn.execute("COMMIT")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        code = fault_code(exc) or "storage_io_error"
        out.update(state=code, writable=False, code=code, detail=str(exc))
        if log is not None:
            log.record(code, str(exc))
        return out
    if free is not None and free < MIN_FREE_MB:  # still writable: a warning, not a fault
        out.update(warning="low_disk_space", detail=f"only {free:.1f} MiB free where the database lives")
    if log is not None:
        log.clear()
    return out


def read_only_reason(path: str) -> str | None:
    """Why the database at ``path`` cannot be written before anything opens it (a read-only
    file system, or a file or folder without write permission), or None."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"{folder} is on a read-only file system"
    except OSError:
        return None
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return f"{path} is not writable"
    if not os.access(folder, os.W_OK):
        return f"{folder} is not writable (SQLite needs to create the -wal and -shm files there)"
    return None
