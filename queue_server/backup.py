"""Backups of the hall database: online, consistent, kept for a number of days, restorable.

``backup`` writes ``VACUUM INTO`` a new file: one read transaction, so it is a consistent
snapshot taken while the hall keeps issuing and calling (WAL readers never block
writers), and compact. The copy is checked (``integrity_check``, the audit chain) before it
is renamed into place, so a half-written file is never mistaken for a backup. The server
makes one every day by itself (``backup_time``, into ``backup_dir``, keeping ``backup_keep``).

``restore`` puts a backup back while the server is stopped: it checks the backup, moves the
current file aside (kept, never deleted), and makes sure no number handed out after the
backup was taken is handed out again: today's counters continue from the current file's
counters when that file can still be read, else they move ahead by ``skip``. The ID-number key file is not part of a backup
(``docs/privacy.md``): it stays where it is.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.audit.chain import verify
from queue_server.db import connect, db_path, write_tx
from queue_server.schedule import daily
from queue_server.settings import all_settings

PREFIX = "hall-"


def default_dir(path: str) -> Path:
    return Path(os.path.dirname(os.path.abspath(path))) / "backups"


def backup(db: Database, out_dir: str | os.PathLike[str] | None = None, *, keep: int | None = None,
           now: float | None = None) -> dict[str, Any]:
    """Write a consistent copy of the live database into ``out_dir``; prune to ``keep`` copies."""
    path = db_path(db)
    settings = all_settings(db)
    folder = Path(out_dir or settings.get("backup_dir") or default_dir(path))
    folder.mkdir(parents=True, exist_ok=True)
    t = time.time() if now is None else now
    stamp = datetime.fromtimestamp(t, ZoneInfo(str(settings["timezone"]))).strftime("%Y%m%d-%H%M%S")
    final = folder / f"{PREFIX}{stamp}.db"
    tmp = folder / f".{final.name}.partial"
    tmp.unlink(missing_ok=True)
    t0 = time.monotonic()
    db.conn.execute("VACUUM INTO ?", (str(tmp),))
    check = _check(tmp)
    if not check["ok"]:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"backup failed its check: {check['problem']}")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    removed = prune(folder, int(keep if keep is not None else settings.get("backup_keep") or 14))
    return {"file": str(final), "bytes": final.stat().st_size, "seconds": round(time.monotonic() - t0, 3),
            "tickets": check["tickets"], "audit_records": check["audit_records"], "removed": removed}


def _check(file: Path) -> dict[str, Any]:
    try:
        return _check_open(file)
    except sqlite3.Error as exc:
        return {"ok": False, "problem": str(exc)}


def _check_open(file: Path) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            return {"ok": False, "problem": f"integrity_check: {integrity}"}
        chain = verify(conn)
        if not chain.ok:
            return {"ok": False, "problem": f"audit chain broken at record {chain.bad_id}"}
        tickets = conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
        return {"ok": True, "tickets": tickets, "audit_records": chain.rows, "audit_head": chain.head.as_dict()}
    finally:
        conn.close()


def backups(folder: str | os.PathLike[str]) -> list[Path]:
    """Backups in ``folder``, newest first."""
    return sorted(Path(folder).glob(f"{PREFIX}*.db"), reverse=True)


def prune(folder: Path, keep: int) -> list[str]:
    old = backups(folder)[max(keep, 1):]
    for p in old:
        p.unlink(missing_ok=True)
    return [p.name for p in old]


def server_running(path: str) -> bool:
    """True when a ``queue-server serve`` process has the database open (its pid file)."""
    pid_file = Path(path + ".server.pid")
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def restore(path: str | os.PathLike[str], backup_file: str | os.PathLike[str], *, skip: int = 100,
            now: float | None = None) -> dict[str, Any]:
    """Put ``backup_file`` in place of the database at ``path`` (the server must be stopped)."""
    target = Path(os.path.abspath(str(path)))
    src = Path(backup_file)
    if server_running(str(target)):
        raise RuntimeError(f"a queue server is running on {target}: stop it before restoring")
    check = _check(src)
    if not check["ok"]:
        raise RuntimeError(f"{src} is not a usable backup: {check['problem']}")
    staged = target.with_name(target.name + ".restoring")
    shutil.copyfile(src, staged)
    aside = None
    later = _counters(target)
    if target.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = target.with_name(f"{target.name}.before-restore-{stamp}")
        # Fold the WAL into the file first so the copy kept aside is complete on its own.
        try:
            conn = sqlite3.connect(str(target))
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
        except sqlite3.Error:
            pass  # a damaged file is kept aside as it is
        os.replace(target, aside)
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    os.replace(staged, target)
    db = connect(target)
    try:
        bumped = _continue_counters(db, later, skip, now)
    finally:
        db.conn.close()
    return {"restored": str(target), "from": str(src), "kept_aside": str(aside) if aside else None,
            "tickets": check["tickets"], "audit_records": check["audit_records"], "counters_skipped": bumped}


def _counters(path: Path) -> dict[tuple[str, str], int] | None:
    """Every day's number counters of the database at ``path``, or None when it cannot be read."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            return {(r[0], r[1]): int(r[2]) for r in conn.execute("SELECT day, prefix, last FROM counters")}
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _continue_counters(db: Database, later: dict[tuple[str, str], int] | None, skip: int,
                       now: float | None) -> int:
    """Numbers must never repeat: continue each counter from the newer file's value, or, when
    that file could not be read, move today's counters ahead by ``skip``."""
    with write_tx(db) as conn:
        if later is not None:
            n = 0
            for (day, prefix), last in later.items():
                n += conn.execute(
                    "INSERT INTO counters (day, prefix, last) VALUES (?, ?, ?) "
                    "ON CONFLICT (day, prefix) DO UPDATE SET last = MAX(last, excluded.last)",
                    (day, prefix, last)).rowcount
            return n
        if skip <= 0:
            return 0
        tz = str(all_settings(db, fresh=True)["timezone"])
        today = clk.business_day(clk.now(None) if now is None else now, tz)
        return int(conn.execute("UPDATE counters SET last = last + ? WHERE day = ?", (skip, today)).rowcount)


@daily("backup", "backup_time", "Daily online backup into backup_dir, keeping backup_keep copies.")
def _daily_backup(db: Database, day: str) -> dict[str, Any]:
    return backup(db)
