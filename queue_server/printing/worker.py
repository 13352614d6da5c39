"""Printer workers: one thread per printer per server process, never inside a request.

A worker loops: claim the printer's oldest job (:func:`~queue_server.printing.jobs.claim_next`,
one ``write_tx`` under a lease), ask the printer for its status, send the bytes, ask again,
record the result. What happens when things go wrong:

* **paper out / cover open / printer error** (from DLE EOT): the job goes back to the queue
  without counting an attempt and the printer is *paused*; the worker polls the status
  every ``pause_poll`` seconds and resumes by itself when the printer reports ready again.
  If the paper ends *during* a job (status after sending says paper out) that job is
  printed again after the refill, marked 补打 — a ticket is never lost (at worst a
  printer that buffered the cut-short one prints both).
* **unreachable / write error**: the attempt counts; the job is retried after 1, 2, 4 … s
  (capped) and marked ``failed`` after ``max_attempts``. Later jobs wait: order is kept.
* **status unknown** (a printer that does not answer DLE EOT): we print anyway.

Every status change is stored on the printer row and recorded as a ``printer.status`` event.
Several processes may run workers for the same printer: the lease makes sure one prints.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from hardware.printer import (
    Offline,
    PrinterError,
    PrinterOptions,
    PrinterStatus,
    ReceiptPrinter,
    render_test_page,
    render_ticket,
)
from queue_server.db import connect, write_tx
from queue_server.printing import jobs

log = logging.getLogger(__name__)

#: Printer states that pause the printer until it reports ready again.
PAUSE_STATES = ("paper_out", "cover_open", "error")


@dataclass(frozen=True)
class WorkerConfig:
    idle_poll: float = 0.25
    """Seconds between checks for jobs queued by *other* processes (this process wakes at once)."""
    pause_poll: float = 2.0
    """Seconds between status polls of a paused printer."""
    status_interval: float = 30.0
    """Seconds between status reads of an idle printer (for ``GET /api/printers``)."""
    lease_seconds: float = 60.0
    max_attempts: int = 10
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    rescan: float = 2.0
    """Seconds between looks at the printers table for added/removed printers."""
    max_age: float | None = 600.0
    """Ticket jobs not printed within this many seconds fail as expired (None = never)."""
    keep_days: float = 30.0
    """Finished jobs older than this are deleted (checked hourly by the supervisor)."""
    keep_open: float = 1.0
    """Seconds a printer connection stays open after a job, for the next one (0 = close at
    once). Short, because most network printers serve one connection at a time."""


def render_job(job: jobs.Job, options: PrinterOptions, url: str) -> bytes:
    """The bytes of a job for this printer's options."""
    if job.kind == "test":
        return render_test_page(options, url=url, now=datetime.now().astimezone())
    if job.kind == "document":
        from hardware.printer.document import DocumentData, render_document

        return render_document(DocumentData.from_dict(job.payload), options)
    return render_ticket(job.ticket(), options)


class PrinterWorker(threading.Thread):
    """Prints the jobs of one printer (see the module docstring)."""

    def __init__(self, db_path: str, name: str, config: WorkerConfig, stop: threading.Event) -> None:
        super().__init__(name=f"printer-{name}", daemon=True)
        self.db_path = db_path
        self.printer_name = name
        self.config = config
        self._stop_event = stop
        self._wake = threading.Event()
        self._last_state: str | None = None
        self._last_status_read = 0.0
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._conn: tuple[ReceiptPrinter, str, PrinterOptions] | None = None
        self._conn_used = 0.0
        # unique per worker object: the lease check must tell two pools of one process apart
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{name}:{secrets.token_hex(4)}"

    def run(self) -> None:
        db = connect(self.db_path)
        jobs.register_waker(self.printer_name, self._wake)
        try:
            while not self._stop_event.is_set():
                try:
                    if not self._step(db):
                        return
                except Exception:  # a bug or a locked database must not kill the worker
                    log.exception("printer worker %s", self.printer_name)
                    self._stop_event.wait(1.0)
        finally:
            self._drop_connection()
            jobs.unregister_waker(self.printer_name, self._wake)
            db.conn.close()

    def poke(self) -> None:
        self._wake.set()

    def _load(self, db: Database) -> dict[str, Any] | None:
        row = db.conn.execute(
            "SELECT url, options, enabled, paused_reason, status FROM printers WHERE name = ?",
            (self.printer_name,)).fetchone()
        if row is None or not row[2]:
            return None
        if self._last_state is None:
            self._last_state = row[4]
        return {"url": row[0], "options": PrinterOptions.from_dict(json.loads(row[1])),
                "paused": row[3]}

    def _step(self, db: Database) -> bool:
        """One turn of the loop; False when the printer is gone."""
        woken = self._wake.is_set()
        self._wake.clear()
        # Woken for a new job: reuse the printer row read less than a second ago (one less
        # database read on the way to the printer; claim_next re-checks pause and enabled).
        if woken and self._cached is not None and time.monotonic() - self._cached[0] < 1.0:
            p: dict[str, Any] | None = self._cached[1]
        else:
            p = self._load(db)
            self._cached = None if p is None else (time.monotonic(), p)
        if p is None:
            return False
        if p["paused"]:
            self._poll_paused(db, p)
            return True
        job = None
        # Woken by an enqueue in this process: claim at once. The enqueuing transaction may
        # still be open; claim_next's write_tx waits for it to commit (same in-process lock).
        # Otherwise a cheap read first, so idle workers do not take the write lock.
        if woken or jobs.has_work(db.conn, self.printer_name):
            job = jobs.claim_next(db, self.printer_name, self.owner, self.config.lease_seconds,
                                  self.config.max_age)
        if job is None:
            if self._conn is not None and time.monotonic() - self._conn_used >= self.config.keep_open:
                self._drop_connection()
            if time.monotonic() - self._last_status_read >= self.config.status_interval:
                self._refresh_status(db, p)
            self._wake.wait(self.config.idle_poll)
            return True
        self._print(db, p, job)
        return True

    def _printer(self, p: dict[str, Any]) -> ReceiptPrinter:
        """A fresh printer object for a one-off status read (the job connection is closed
        first: a network printer serves one connection at a time)."""
        self._drop_connection()
        return ReceiptPrinter(p["url"], p["options"])

    def _connection(self, p: dict[str, Any]) -> tuple[ReceiptPrinter, bool]:
        """The connection for a job: the one kept from the previous job when the printer's
        URL and options are unchanged (True), else a new one (False)."""
        if self._conn is not None:
            printer, url, options = self._conn
            if url == p["url"] and options == p["options"]:
                return printer, True
            self._drop_connection()
        printer = ReceiptPrinter(p["url"], p["options"])
        self._conn = (printer, p["url"], p["options"])
        return printer, False

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn[0].close()
            self._conn = None

    def _record(self, db: Database, status: PrinterStatus, **kw: Any) -> None:
        if status.state == self._last_state and "paused_reason" not in kw:
            return
        with write_tx(db) as conn:
            jobs.set_printer_status(conn, self.printer_name, status, **kw)
        self._last_state = status.state

    def _refresh_status(self, db: Database, p: dict[str, Any]) -> None:
        self._last_status_read = time.monotonic()
        printer = self._printer(p)
        try:
            self._record(db, printer.status())
        finally:
            printer.close()

    def _poll_paused(self, db: Database, p: dict[str, Any]) -> None:
        printer = self._printer(p)
        try:
            status = printer.status()
        finally:
            printer.close()
        self._last_status_read = time.monotonic()
        if status.ok:  # known good again (an "unknown" answer does not resume)
            self._record(db, status, paused_reason=None)
            self._cached = None
            log.info("printer %s resumed (%s)", self.printer_name, status.state)
            return
        if status.state in PAUSE_STATES and status.state != p["paused"]:
            self._record(db, status, paused_reason=status.state)
        else:
            self._record(db, status)
        self._stop_event.wait(self.config.pause_poll)

    def _print(self, db: Database, p: dict[str, Any], job: jobs.Job) -> None:
        cfg = self.config
        try:
            job = jobs.fill_ahead(db, job)
        except Exception:  # the ticket still prints, without 前面还有 N 人
            log.exception("people ahead for print job %s", job.id)
            job = replace(job, payload={k: v for k, v in job.payload.items() if k != "ahead_at_print"})
        try:
            data = render_job(job, p["options"], p["url"])
        except Exception as exc:  # a payload we cannot render will never print
            jobs.retry_job(db, job, f"render: {exc!r}", max_attempts=1)
            log.exception("print job %s cannot be rendered", job.id)
            return
        printer, reused = self._connection(p)
        done = False
        try:
            before = printer.status()
            if before.state == "offline" and reused:
                printer.close()  # the printer dropped our idle connection: reconnect once
                before = printer.status()
            if before.state in PAUSE_STATES:
                jobs.release_job(db, job, error=before.state, pause=(before.state, before))
                self._last_state = before.state
                self._cached = None
                return
            if before.state == "offline":
                raise Offline(before.detail)
            printer.write(data)
            after = printer.status()
            if after.state in ("paper_out", "cover_open"):
                # the roll ended (or the cover opened) while this receipt was printing
                jobs.release_job(db, job, error=f"{after.state} while printing: printing again",
                                 pause=(after.state, after), as_reprint=True)
                self._last_state = after.state
                self._cached = None
                return
            if not jobs.finish_job(db, job):
                log.warning("print job %s finished after its lease was lost", job.id)
            seen = after if after.state != "offline" else before
            self._record(db, seen)
            done = after.state != "offline"
        except PrinterError as exc:
            status = PrinterStatus.offline(str(exc)) if isinstance(exc, Offline) else None
            state = jobs.retry_job(db, job, str(exc), max_attempts=cfg.max_attempts,
                                   base=cfg.backoff_base, cap=cfg.backoff_cap, status=status)
            if status is not None:
                self._last_state = status.state
            log.warning("print job %s on %s: %s (%s)", job.id, self.printer_name, exc, state)
        except Exception as exc:
            jobs.retry_job(db, job, f"internal: {exc!r}", max_attempts=cfg.max_attempts,
                           base=cfg.backoff_base, cap=cfg.backoff_cap)
            log.exception("print job %s on %s", job.id, self.printer_name)
        finally:
            if done and self.config.keep_open > 0:
                self._conn_used = time.monotonic()  # keep it for the next job
            else:
                self._drop_connection()


class WorkerPool:
    """The workers of one database in this process; a supervisor starts a worker for every
    enabled printer (and for printers added later). Workers stop when their printer is
    removed or disabled, or on :meth:`stop`."""

    def __init__(self, db_path: str | Path, config: WorkerConfig | None = None) -> None:
        self.db_path = str(Path(db_path).resolve())
        self.config = config or WorkerConfig()
        self._stop = threading.Event()
        self.workers: dict[str, PrinterWorker] = {}
        self._supervisor = threading.Thread(target=self._supervise, name="printer-supervisor",
                                            daemon=True)

    def start(self) -> WorkerPool:
        self._scan()
        self._supervisor.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for w in list(self.workers.values()):
            w.poke()
        self._supervisor.join(timeout)
        for w in list(self.workers.values()):
            w.join(timeout)

    def _scan(self) -> None:
        db = connect(self.db_path)
        try:
            names = [r[0] for r in db.conn.execute("SELECT name FROM printers WHERE enabled")]
        finally:
            db.conn.close()
        for name in names:
            w = self.workers.get(name)
            if w is None or not w.is_alive():
                w = self.workers[name] = PrinterWorker(self.db_path, name, self.config, self._stop)
                w.start()

    def _supervise(self) -> None:
        pruned_at = 0.0
        while not self._stop.wait(self.config.rescan):
            try:
                self._scan()
                if time.monotonic() - pruned_at >= 3600:
                    pruned_at = time.monotonic()
                    db = connect(self.db_path)
                    try:
                        jobs.prune_jobs(db, self.config.keep_days)
                    finally:
                        db.conn.close()
            except Exception:
                log.exception("printer supervisor")


_pools: dict[str, WorkerPool] = {}
_pools_lock = threading.Lock()


def start_workers(db_path: str | Path, config: WorkerConfig | None = None) -> WorkerPool:
    """Start one worker thread per configured printer in this process (once per database;
    a second call returns the running pool)."""
    key = str(Path(db_path).resolve())
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = WorkerPool(key, config).start()
        return pool


def stop_workers(db_path: str | Path | None = None) -> None:
    """Stop the pools of one database (or all): tests and orderly shutdown."""
    with _pools_lock:
        keys = [str(Path(db_path).resolve())] if db_path is not None else list(_pools)
        pools = [_pools.pop(k) for k in keys if k in _pools]
    for pool in pools:
        pool.stop()
