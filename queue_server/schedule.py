"""Daily jobs the server runs by itself: backups, and whatever capabilities register (the
end-of-day report, purging personal data, archiving) — and background tasks that work a
little on every check (the statistics' per-day facts).

A job runs once per business day, at or after its time of day (hall time zone), in exactly
one server process: every process's :class:`Scheduler` tries to insert ``(job, day)`` into
``scheduled_runs`` and only the one whose insert succeeds runs it. A server that was down at
the job's time runs it when it comes back the same day. A job may say when its run for a day
is due (``due_at``: the end-of-day report waits for the day's closing time) and make up
for up to ``catch_up`` earlier days it missed (those its ``wants`` names: the report's
days with tickets) — claimed the same way, so never twice. Results and errors are kept in
the table (``queue-server schedule list`` shows them).

A background task (:func:`background`) is one small step ``fn(db, now, memo) -> more`` run
after the due jobs on every check, in one process at a time (a non-blocking lock on
``<db>.<task>.lock``; a process that finds it taken skips the step); while a step says
there is more to do the next check comes after :attr:`Scheduler.pause` seconds instead of
the interval.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.background import BackgroundThread
from queue_server.db import connect, db_path, write_tx
from queue_server.settings import all_settings

log = logging.getLogger(__name__)

#: ``(settings, day, at) -> Unix time`` the run for ``day`` is due, ``at`` being the job's
#: time setting ("HH:MM").
DueAt = Callable[[dict[str, Any], str, str], float]


def at_time(settings: dict[str, Any], day: str, at: str) -> float:
    """The default: the setting's time of day on that day."""
    return clk.at_local(day, at, str(settings["timezone"]))


@dataclass(frozen=True)
class DailyJob:
    name: str
    #: The setting holding its time of day ("HH:MM"; "" turns the job off).
    time_setting: str
    run: Callable[[Database, str], dict[str, Any]]
    help: str = ""
    #: When the run for a day is due (default: :func:`at_time`).
    due_at: DueAt | None = None
    #: Earlier business days whose missed run is still made up for (0: today only).
    catch_up: int = 0
    #: Of those earlier days, the ones that want a run, ``(db, days) -> set`` (default: all).
    wants: Callable[[Database, list[str]], set[str]] | None = None


JOBS: dict[str, DailyJob] = {}

JobFn = Callable[[Database, str], dict[str, Any]]


def daily(name: str, time_setting: str, help: str = "", *, due_at: DueAt | None = None, catch_up: int = 0,
          wants: Callable[[Database, list[str]], set[str]] | None = None) -> Callable[[JobFn], JobFn]:
    """Register ``fn(db, day) -> result`` as a daily job whose time is the setting ``time_setting``
    (see :class:`DailyJob` for ``due_at``, ``catch_up`` and ``wants``)."""

    def deco(fn: JobFn) -> JobFn:
        JOBS[name] = DailyJob(name, time_setting, fn, help, due_at, catch_up, wants)
        return fn

    return deco


def due_days(db: Database, job: DailyJob, now: float) -> list[str]:
    """The business days ``job`` should run for now, oldest first: today once its run is due,
    and earlier days (``job.catch_up`` of them, those ``job.wants``) whose run is due but was
    never made; none when the job is off."""
    settings = all_settings(db)
    at = str(settings.get(job.time_setting) or "")
    if not at:
        return []
    today = clk.business_day(now, str(settings["timezone"]))
    first = dt.date.fromisoformat(today) - dt.timedelta(days=max(0, job.catch_up))
    days = [(first + dt.timedelta(days=i)).isoformat() for i in range(max(0, job.catch_up) + 1)]
    when = job.due_at or at_time
    days = [d for d in days if now >= when(settings, d, at)]
    if not days:
        return []
    done = {r[0] for r in db.conn.execute("SELECT day FROM scheduled_runs WHERE job = ? AND day >= ? AND day <= ?",
                                          (job.name, days[0], days[-1]))}
    days = [d for d in days if d not in done]
    earlier = [d for d in days if d != today]
    if earlier and job.wants is not None:
        wanted = job.wants(db, earlier)
        days = [d for d in days if d == today or d in wanted]
    return days


def run_due(db: Database, now: float | None = None, *, only: str | None = None) -> list[dict[str, Any]]:
    """Run every job that is due, for every day it is due for (claiming each ``(job, day)``
    so no other process runs it too)."""
    t = clk.now(None) if now is None else now
    ran = []
    for job in list(JOBS.values()):
        if only is not None and job.name != only:
            continue
        for day in due_days(db, job, t):
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


# --- background tasks ----------------------------------------------------------------------

#: ``fn(db, now, memo) -> bool``: one small step; True while more remains. ``memo`` is the
#: calling scheduler's own dict for the task (what it tried, per process).
StepFn = Callable[[Database, float, dict[str, Any]], bool]


@dataclass(frozen=True)
class BackgroundTask:
    name: str
    step: StepFn
    help: str = ""


TASKS: dict[str, BackgroundTask] = {}


def background(name: str, help: str = "") -> Callable[[StepFn], StepFn]:
    """Register ``fn(db, now, memo) -> more`` as a background task (a step on every check)."""

    def deco(fn: StepFn) -> StepFn:
        TASKS[name] = BackgroundTask(name, fn, help)
        return fn

    return deco


@contextmanager
def _try_lock(db: Database, name: str) -> Iterator[bool]:
    """``<db>.<name>.lock`` held without waiting: yields False when another process has it."""
    path = db_path(db)
    if path == ":memory:":
        yield True
        return
    fd = os.open(f"{path}.{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def run_background(db: Database, now: float | None = None, memo: dict[str, dict[str, Any]] | None = None, *,
                   only: str | None = None) -> bool:
    """One step of every background task (each in one process at a time); True when a task
    has more to do. A failing step is logged and the others still run."""
    t = clk.now(None) if now is None else now
    memo = {} if memo is None else memo
    more = False
    for task in list(TASKS.values()):
        if only is not None and task.name != only:
            continue
        try:
            with _try_lock(db, task.name) as mine:
                if mine:
                    more = bool(task.step(db, t, memo.setdefault(task.name, {}))) or more
        except Exception:  # storage trouble, a bug: logged, tried again next check
            log.exception("background task %s failed", task.name)
    return more


class Scheduler(BackgroundThread):
    """Checks every ``interval`` seconds for due jobs and runs a step of each background task
    (one thread per server process); while a task has more to do, every ``pause`` seconds."""

    name = "daily-jobs"

    def __init__(self, db_path: str, interval: float = 30.0, clock: clk.Clock | None = None,
                 pause: float = 1.0) -> None:
        super().__init__()
        self.db_path = db_path
        self.interval = interval
        self.pause = pause
        self.clock = clock
        self.memo: dict[str, dict[str, Any]] = {}

    def run(self) -> None:
        db = connect(self.db_path)
        try:
            while not self.stopping.is_set():
                more = False
                try:
                    run_due(db, clk.now(self.clock))
                except Exception:  # storage trouble: try again next round
                    log.exception("daily jobs: check failed")
                if not self.stopping.is_set():
                    more = run_background(db, clk.now(self.clock), self.memo)
                self.stopping.wait(self.pause if more else self.interval)
        finally:
            db.conn.close()
