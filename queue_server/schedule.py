"""Daily jobs the server runs by itself: backups, and whatever capabilities register (the
end-of-day report, purging personal data, archiving).

A job runs once per business day, at or after its time of day (hall time zone), in exactly
one server process: every process's :class:`Scheduler` tries to insert ``(job, day)`` into
``scheduled_runs`` and only the one whose insert succeeds runs it. A server that was down at
the job's time runs it when it comes back the same day. Results and errors are kept in the
table (``queue-server schedule list`` shows them).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.background import BackgroundThread
from queue_server.db import connect, write_tx
from queue_server.settings import all_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DailyJob:
    name: str
    #: The setting holding its time of day ("HH:MM"; "" turns the job off).
    time_setting: str
    run: Callable[[Database, str], dict[str, Any]]
    help: str = ""


JOBS: dict[str, DailyJob] = {}


def daily(name: str, time_setting: str, help: str = "") -> Callable[[Callable[[Database, str], dict[str, Any]]],
                                                                    Callable[[Database, str], dict[str, Any]]]:
    """Register ``fn(db, day) -> result`` as a daily job whose time is the setting ``time_setting``."""

    def deco(fn: Callable[[Database, str], dict[str, Any]]) -> Callable[[Database, str], dict[str, Any]]:
        JOBS[name] = DailyJob(name, time_setting, fn, help)
        return fn

    return deco


def due(db: Database, job: DailyJob, now: float) -> str | None:
    """The business day ``job`` should run for now, or None (off, too early, already run)."""
    settings = all_settings(db)
    at = str(settings.get(job.time_setting) or "")
    if not at:
        return None
    tz = str(settings["timezone"])
    day = clk.business_day(now, tz)
    if now < clk.at_local(day, at, tz):
        return None
    done = db.conn.execute("SELECT 1 FROM scheduled_runs WHERE job = ? AND day = ?", (job.name, day)).fetchone()
    return None if done else day


def run_due(db: Database, now: float | None = None, *, only: str | None = None) -> list[dict[str, Any]]:
    """Run every job that is due (claiming each so no other process runs it too)."""
    t = clk.now(None) if now is None else now
    ran = []
    for job in list(JOBS.values()):
        if only is not None and job.name != only:
            continue
        day = due(db, job, t)
        if day is None:
            continue
        with write_tx(db) as conn:
            claimed = conn.execute(
                "INSERT INTO scheduled_runs (job, day, started_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (job.name, day, time.time())).rowcount
        if not claimed:
            continue
        ran.append(run_now(db, job, day, record=False))
    return ran


def run_now(db: Database, job: DailyJob, day: str, *, record: bool = True) -> dict[str, Any]:
    """Run ``job`` for ``day`` now and store the outcome (``record``: claim the row first)."""
    if record:
        with write_tx(db) as conn:
            conn.execute("INSERT INTO scheduled_runs (job, day, started_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (job, day) DO UPDATE SET started_at = excluded.started_at, "
                         "finished_at = NULL, result = NULL, error = NULL", (job.name, day, time.time()))
    result: dict[str, Any] | None = None
    error = None
    try:
        result = job.run(db, day)
    except Exception as exc:  # a failed job is recorded and logged; the server carries on
        log.exception("daily job %s failed", job.name)
        error = f"{type(exc).__name__}: {exc}"
    with write_tx(db) as conn:
        conn.execute("UPDATE scheduled_runs SET finished_at = ?, result = ?, error = ? WHERE job = ? AND day = ?",
                     (time.time(), json.dumps(result, ensure_ascii=False, default=str), error, job.name, day))
    return {"job": job.name, "day": day, "result": result, "error": error}


def history(db: Database, limit: int = 50) -> list[dict[str, Any]]:
    rows = db.conn.execute(
        "SELECT job, day, started_at, finished_at, result, error FROM scheduled_runs "
        "ORDER BY started_at DESC LIMIT ?", (limit,)).fetchall()
    return [{"job": r[0], "day": r[1], "started_at": r[2], "finished_at": r[3],
             "result": json.loads(r[4]) if r[4] else None, "error": r[5]} for r in rows]


class Scheduler(BackgroundThread):
    """Checks every ``interval`` seconds for due jobs (one thread per server process)."""

    name = "daily-jobs"

    def __init__(self, db_path: str, interval: float = 30.0, clock: clk.Clock | None = None) -> None:
        super().__init__()
        self.db_path = db_path
        self.interval = interval
        self.clock = clock

    def run(self) -> None:
        db = connect(self.db_path)
        try:
            while not self.stopping.is_set():
                try:
                    run_due(db, clk.now(self.clock))
                except Exception:  # storage trouble: try again next round
                    log.exception("daily jobs: check failed")
                self.stopping.wait(self.interval)
        finally:
            db.conn.close()
