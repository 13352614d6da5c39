"""The print queue's data: printers, jobs, and the atomic steps workers take on them.

Everything that claims or changes a job is one :func:`~queue_server.db.write_tx`, so
several server processes can share the file:

* :func:`enqueue_ticket_print` runs inside the transaction that issues the ticket (the API
  passes it as the engine's ``in_tx`` hook): the ticket and its job commit together.
* :func:`claim_next` gives a printer's *oldest* unfinished job to one worker under a lease.
  While that job is leased, or waiting for its retry time, no later job of the printer is
  handed out: jobs print in order, one at a time per printer, across processes.
* :func:`finish_job` / :func:`retry_job` / :func:`release_job` end a claim; each checks the
  lease owner, so a worker that lost its lease cannot overwrite another's result.

No Flask here: the routes module feeds the request's base URL in through
:data:`request_base_url` for the QR on the ticket.
"""

from __future__ import annotations

import contextvars
import json
import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from hardware.printer import (
    PrinterConfigError,
    PrinterOptions,
    PrinterStatus,
    PrinterURL,
    TicketData,
)
from queue_server.db import write_tx
from queue_server.errors import Conflict, NotFound, ValidationError
from queue_server.events import declare, record_event

declare("printer.status", ("printer", "status", "paused", "reason", "queue"),
        "A printer's status or pause changed (paper out, cover open, back to ok).")

JOB_KINDS = ("ticket", "reprint", "test", "document")
JOB_STATES = ("queued", "printing", "done", "failed")

#: Set by the printing blueprint for each request (``request.host_url``); the QR on a ticket
#: uses the ``public_url`` setting first, then env ``YICHUANG_PUBLIC_URL``, then this.
request_base_url: contextvars.ContextVar[str] = contextvars.ContextVar("request_base_url", default="")

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


@dataclass(frozen=True)
class Job:
    id: int
    printer: str
    kind: str
    ticket_id: int | None
    payload: dict[str, Any]
    attempts: int
    owner: str

    def ticket(self) -> TicketData:
        """The ticket a ticket/reprint job prints (its payload)."""
        return TicketData.from_dict(self.payload)


# -- waking workers in this process ---------------------------------------------------
_wakers: dict[str, set[threading.Event]] = {}
_wakers_lock = threading.Lock()


def register_waker(printer: str, event: threading.Event) -> None:
    """A worker's event, set when a job for ``printer`` is queued in this process."""
    with _wakers_lock:
        _wakers.setdefault(printer, set()).add(event)


def unregister_waker(printer: str, event: threading.Event) -> None:
    with _wakers_lock:
        _wakers.get(printer, set()).discard(event)


def wake(printer: str) -> None:
    """Wake this process's workers of ``printer``. Safe inside the enqueuing transaction:
    the worker's claim waits for the ``write_tx`` lock, i.e. for the commit."""
    with _wakers_lock:
        events = list(_wakers.get(printer, ()))
    for event in events:
        event.set()


# -- printers -----------------------------------------------------------------------
def _conn(db_or_conn: Database | sqlite3.Connection) -> sqlite3.Connection:
    return db_or_conn.conn if isinstance(db_or_conn, Database) else db_or_conn


def validate_printer(name: str, url: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """Check a printer definition; returns the normalised options (ValidationError if bad)."""
    if not name or len(name) > 40 or not set(name) <= _NAME_CHARS:
        raise ValidationError("bad_printer_name")
    try:
        PrinterURL.parse(url)
        opts = PrinterOptions.from_dict(options or {})
    except PrinterConfigError as exc:
        raise ValidationError("bad_printer_config", detail=exc.detail) from exc
    return opts.as_dict()


def add_printer(db: Database, name: str, url: str, options: dict[str, Any] | None = None, *,
                default: bool = False, replace: bool = False) -> dict[str, Any]:
    """Register a printer (``replace`` updates an existing one). The first printer added
    becomes the default."""
    opts = validate_printer(name, url, options)
    now = time.time()
    with write_tx(db) as conn:
        exists = conn.execute("SELECT 1 FROM printers WHERE name = ?", (name,)).fetchone()
        if exists and not replace:
            raise Conflict("printer_exists", name=name)
        first = conn.execute("SELECT COUNT(*) FROM printers").fetchone()[0] == 0
        if default:
            conn.execute("UPDATE printers SET is_default = 0")
        if exists:
            conn.execute(
                "UPDATE printers SET url = ?, options = ?, is_default = MAX(is_default, ?), "
                "status = 'unknown', status_detail = '', paused_reason = NULL WHERE name = ?",
                (url, json.dumps(opts), int(default), name))
        else:
            conn.execute(
                "INSERT INTO printers (name, url, options, is_default, created_at) VALUES (?, ?, ?, ?, ?)",
                (name, url, json.dumps(opts), int(default or first), now))
    return get_printer(db, name)


def remove_printer(db: Database, name: str, *, force: bool = False) -> int:
    """Remove a printer. With unfinished jobs it refuses unless ``force``, which marks
    them failed. Returns the number of jobs failed."""
    with write_tx(db) as conn:
        if not conn.execute("SELECT 1 FROM printers WHERE name = ?", (name,)).fetchone():
            raise _no_printer(name)
        open_jobs = conn.execute(
            "SELECT COUNT(*) FROM print_jobs WHERE printer = ? AND state IN ('queued', 'printing')",
            (name,)).fetchone()[0]
        if open_jobs and not force:
            raise Conflict("printer_busy", name=name, open_jobs=open_jobs)
        conn.execute(
            "UPDATE print_jobs SET state = 'failed', last_error = 'printer removed', finished_at = ? "
            "WHERE printer = ? AND state IN ('queued', 'printing')", (time.time(), name))
        was_default = conn.execute("SELECT is_default FROM printers WHERE name = ?", (name,)).fetchone()[0]
        conn.execute("DELETE FROM printers WHERE name = ?", (name,))
        if was_default:
            conn.execute("UPDATE printers SET is_default = 1 WHERE name = "
                         "(SELECT name FROM printers ORDER BY created_at LIMIT 1)")
    wake(name)  # its workers notice and stop
    return int(open_jobs)


def _no_printer(name: str) -> NotFound:
    return NotFound("printer_not_found", name=name)


def _printer_dict(row: sqlite3.Row, queue: int, failed: int) -> dict[str, Any]:
    status = row["status"]
    return {
        "name": row["name"],
        "url": row["url"],
        "options": json.loads(row["options"]),
        "default": bool(row["is_default"]),
        "enabled": bool(row["enabled"]),
        "status": status,
        "status_label": PrinterStatus(status).label_zh + " / " + PrinterStatus(status).label_en,
        "status_detail": row["status_detail"],
        "status_at": row["status_at"],
        "paused": row["paused_reason"] is not None,
        "paused_reason": row["paused_reason"],
        "paused_at": row["paused_at"],
        "queue": queue,
        "failed": failed,
    }


def list_printers(db: Database | sqlite3.Connection) -> list[dict[str, Any]]:
    """Every printer with its status, queue length (queued + printing jobs) and the jobs
    that failed in the last 24 hours."""
    conn = _conn(db)
    counts = {
        (r[0], r[1]): r[2]
        for r in conn.execute(
            "SELECT printer, state, COUNT(*) FROM print_jobs WHERE state IN ('queued', 'printing') "
            "OR (state = 'failed' AND finished_at > ?) GROUP BY printer, state", (time.time() - 86400,))
    }
    rows = conn.execute("SELECT * FROM printers ORDER BY name").fetchall()
    return [
        _printer_dict(r, counts.get((r["name"], "queued"), 0) + counts.get((r["name"], "printing"), 0),
                      counts.get((r["name"], "failed"), 0))
        for r in rows
    ]


def get_printer(db: Database | sqlite3.Connection, name: str) -> dict[str, Any]:
    for p in list_printers(db):
        if p["name"] == name:
            return p
    raise _no_printer(name)


def set_printer_status(conn: sqlite3.Connection, name: str, status: PrinterStatus, *,
                       paused_reason: str | None | bool = False) -> bool:
    """Store a status read (in the caller's transaction). ``paused_reason``: a reason pauses,
    None resumes, False leaves the pause as it is. Records ``printer.status`` when the
    state or the pause changed; returns whether it did."""
    row = conn.execute("SELECT status, paused_reason FROM printers WHERE name = ?", (name,)).fetchone()
    if row is None:
        return False
    now = time.time()
    new_pause = row[1] if paused_reason is False else paused_reason
    changed = row[0] != status.state or row[1] != new_pause
    conn.execute(
        "UPDATE printers SET status = ?, status_detail = ?, status_at = ?, paused_reason = ?, "
        "paused_at = CASE WHEN ? IS NULL THEN NULL WHEN paused_reason IS NULL THEN ? ELSE paused_at END "
        "WHERE name = ?",
        (status.state, status.detail[:300], now, new_pause, new_pause, now, name))
    if changed:
        queue = conn.execute(
            "SELECT COUNT(*) FROM print_jobs WHERE printer = ? AND state IN ('queued', 'printing')",
            (name,)).fetchone()[0]
        record_event(conn, "printer.status", {
            "printer": name, "status": status.state, "paused": new_pause is not None,
            "reason": new_pause, "queue": queue}, ts=now)
    return changed


# -- enqueueing ---------------------------------------------------------------------
def public_base_url(settings: dict[str, Any]) -> str:
    return str(settings.get("public_url") or os.environ.get("YICHUANG_PUBLIC_URL")
               or request_base_url.get() or "").rstrip("/")


def receipt(ticket: dict[str, Any], settings: dict[str, Any], *, base_url: str | None = None,
            reprint: bool = False) -> dict[str, Any]:
    """What a printed ticket says — THE one builder, for the server's print queue and for the
    kiosk's own printer (the API hands it out as the ticket's ``receipt``): the hall's name,
    the number, the service, people ahead and the wait estimate (a waiting ticket only), the
    issue time in the hall's time zone (``timezone``), the hall's tip (``ticket_tip``) and the
    progress URL (``public_url``, else env ``YICHUANG_PUBLIC_URL``, else the request's host).
    No personal data. ``ticket`` is the engine's ticket dict; no database read here."""
    waiting = ticket.get("status", "waiting") == "waiting"
    ahead = ticket.get("waiting_ahead") if waiting else None
    minutes = ticket.get("estimated_wait_minutes") if waiting else None
    issued = datetime.fromtimestamp(float(ticket["issued_at"]),
                                    ZoneInfo(str(settings.get("timezone") or "Asia/Shanghai")))
    base = (base_url if base_url is not None else public_base_url(settings)).rstrip("/")
    code = ticket.get("progress_code")
    return TicketData(
        number=str(ticket["number"]), hall_name=str(settings.get("hall_name") or ""),
        service_name=str(ticket.get("service_name") or ""),
        service_name_en=str(ticket.get("service_name_en") or ""),
        people_ahead=None if ahead is None else int(ahead),
        wait_minutes=None if minutes is None else int(round(float(minutes))), issued_at=issued,
        tip=str(settings.get("ticket_tip") or ""),
        progress_url=f"{base}/t/{code}" if base and code else "", reprint=reprint,
    ).as_dict()


def ticket_payload(conn: sqlite3.Connection, ticket_id: int, *, reprint: bool = False,
                   base_url: str | None = None, ahead_at_print: bool = False) -> dict[str, Any]:
    """:func:`receipt` of a ticket as it stands *now* (queue position, wait), read by id.

    Computed when the job is queued, inside the issuing transaction: the worker then only
    renders bytes. With ``ahead_at_print`` the people ahead and the wait are left for the
    worker (:func:`fill_ahead`): 前面还有 N 人 is a simulation of the calling order, linear
    in the waiting tickets, that must not run under the write lock of every issue."""
    from queue_server.db import db_path
    from queue_server.queue.ahead import ahead_and_windows
    from queue_server.queue.common import hall
    from queue_server.queue.estimate import estimate_minutes
    from queue_server.settings import all_settings

    db = Database(conn)
    row = conn.execute(
        "SELECT t.number, t.day, t.service_code, t.priority, t.issued_at, t.progress_code, t.status, "
        "s.name, s.name_en FROM tickets t JOIN services s ON s.code = t.service_code WHERE t.id = ?",
        (ticket_id,)).fetchone()
    if row is None:
        raise NotFound("ticket_not_found", ticket=ticket_id)
    ahead = minutes = None
    if row[6] == "waiting" and not ahead_at_print:
        h = replace(hall(db), day=row[1])  # the ticket's own day, whatever the wall clock says
        ahead, windows = ahead_and_windows(conn, db_path(db), h, ticket_id)
        minutes = estimate_minutes(conn, db_path(db), row[1], row[2], ahead, windows)
    ticket = {"number": row[0], "status": row[6], "issued_at": row[4], "progress_code": row[5],
              "service_name": row[7], "service_name_en": row[8], "waiting_ahead": ahead,
              "estimated_wait_minutes": minutes}
    out = receipt(ticket, all_settings(db), base_url=base_url, reprint=reprint)
    if ahead_at_print and row[6] == "waiting":
        out["ahead_at_print"] = True
    return out


def fill_ahead(db: Database, job: Job) -> Job:
    """A ticket job queued with ``ahead_at_print``: its people ahead and wait as they are
    now, just before it prints (after the issue's commit, outside any write lock)."""
    from queue_server.db import db_path
    from queue_server.queue.ahead import after_commit
    from queue_server.queue.common import hall
    from queue_server.queue.estimate import estimate_minutes

    payload = dict(job.payload)
    if not payload.pop("ahead_at_print", False) or job.ticket_id is None:
        return job
    row = db.conn.execute("SELECT status, day, service_code FROM tickets WHERE id = ?",
                          (job.ticket_id,)).fetchone()
    if row is not None and row[0] == "waiting":
        h = replace(hall(db), day=row[1])
        ahead, windows = after_commit(db.conn, db_path(db), h, job.ticket_id)
        payload["people_ahead"] = ahead
        payload["wait_minutes"] = int(round(estimate_minutes(db.conn, db_path(db), row[1], row[2], ahead, windows)))
    return replace(job, payload=payload)


def _pick_printer(conn: sqlite3.Connection, printer: str | None) -> str | None:
    if printer:
        row = conn.execute("SELECT name FROM printers WHERE name = ? AND enabled", (printer,)).fetchone()
    else:
        row = conn.execute(
            "SELECT name FROM printers WHERE enabled ORDER BY is_default DESC, created_at LIMIT 1").fetchone()
    return None if row is None else str(row[0])


def _insert_job(conn: sqlite3.Connection, printer: str, kind: str, ticket_id: int | None,
                payload: dict[str, Any]) -> int:
    now = time.time()
    job_id = int(conn.execute(
        "INSERT INTO print_jobs (printer, kind, ticket_id, payload, next_attempt_at, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (printer, kind, ticket_id, json.dumps(payload, ensure_ascii=False), now, now)).lastrowid or 0)
    wake(printer)
    return job_id


def enqueue_ticket_print(conn: Any, ticket_id: int, printer: str | None = None) -> int | None:
    """Queue a ticket print in the caller's transaction; returns the job id, or None
    when no printer is configured (the caller reports "not printed")."""
    name = _pick_printer(conn, printer)
    if name is None:
        return None
    return _insert_job(conn, name, "ticket", ticket_id, ticket_payload(conn, ticket_id, ahead_at_print=True))


def enqueue_reprint(conn: Any, ticket_id: int, printer: str | None = None) -> int | None:
    """Queue a reprint (marked 补打, current queue position) in the caller's transaction."""
    if conn.execute("SELECT 1 FROM tickets WHERE id = ?", (ticket_id,)).fetchone() is None:
        raise NotFound("ticket_not_found", ticket=ticket_id)
    name = _pick_printer(conn, printer)
    if name is None:
        return None
    return _insert_job(conn, name, "reprint", ticket_id, ticket_payload(conn, ticket_id, reprint=True))


def enqueue_document(conn: Any, document: dict[str, Any], printer: str | None = None) -> int | None:
    """Queue a printed document (:class:`hardware.printer.document.DocumentData` as a dict:
    an approval certificate, a 一次性告知单, a licence copy) in the caller's transaction;
    the job id, or None when no printer is configured. The payload is what prints: keep
    personal data in it masked."""
    name = _pick_printer(conn, printer)
    if name is None:
        return None
    return _insert_job(conn, name, "document", None, document)


def enqueue_test_page(conn: Any, printer: str) -> int:
    """Queue a test page for ``printer`` (NotFound if there is no such printer)."""
    name = _pick_printer(conn, printer)
    if name is None:
        raise _no_printer(printer)
    return _insert_job(conn, name, "test", None, {})


def resume_printer(db: Database, name: str) -> None:
    """Resume a paused printer now (its worker also resumes it when the status says ready)."""
    with write_tx(db) as conn:
        if conn.execute("SELECT 1 FROM printers WHERE name = ?", (name,)).fetchone() is None:
            raise _no_printer(name)
        set_printer_status(conn, name, PrinterStatus.unknown("resumed by technician"), paused_reason=None)


def queue_reprint(db: Database, ticket_id: int, printer: str | None = None) -> int | None:
    """:func:`enqueue_reprint` in a transaction of its own (what the API and console call)."""
    with write_tx(db) as conn:
        return enqueue_reprint(conn, ticket_id, printer)


def queue_test_page(db: Database, printer: str) -> int:
    """:func:`enqueue_test_page` in a transaction of its own."""
    with write_tx(db) as conn:
        return enqueue_test_page(conn, printer)


# -- claiming and finishing -----------------------------------------------------------
def has_work(conn: sqlite3.Connection, printer: str, now: float | None = None) -> bool:
    """Cheap read-only check before taking the write lock: is the head job claimable?"""
    now = time.time() if now is None else now
    row = conn.execute(
        "SELECT state, next_attempt_at, lease_until, lease_owner FROM print_jobs WHERE printer = ? "
        "AND state IN ('queued', 'printing') ORDER BY id LIMIT 1", (printer,)).fetchone()
    if row is None:
        return False
    if row[0] == "printing":
        return row[2] is None or row[2] <= now or owner_is_dead(row[3])
    return row[1] <= now


def claim_next(db: Database, printer: str, owner: str, lease_seconds: float = 60.0,
               max_age: float | None = None) -> Job | None:
    """Lease the printer's oldest unfinished job to ``owner``, or None when there is
    nothing to do now (empty, head job leased by someone else, head job waiting for its
    retry time, printer paused or disabled).

    Ticket jobs queued more than ``max_age`` seconds ago are failed as ``expired`` first:
    after a long paper-out, a pile of stale tickets would only confuse the next citizens
    (their numbers were shown on the kiosk screen and are still valid)."""
    now = time.time()
    with write_tx(db) as conn:
        p = conn.execute("SELECT paused_reason, enabled FROM printers WHERE name = ?", (printer,)).fetchone()
        if p is None or p[0] is not None or not p[1]:
            return None
        if max_age is not None:
            conn.execute(
                "UPDATE print_jobs SET state = 'failed', finished_at = ?, "
                "last_error = 'expired: not printed within ' || ? || ' s' "
                "WHERE printer = ? AND state = 'queued' AND kind IN ('ticket', 'reprint', 'document') AND created_at < ?",
                (now, int(max_age), printer, now - max_age))
        row = conn.execute(
            "SELECT id, kind, ticket_id, payload, state, attempts, next_attempt_at, lease_until "
            "FROM print_jobs WHERE printer = ? AND state IN ('queued', 'printing') ORDER BY id LIMIT 1",
            (printer,)).fetchone()
        if row is None:
            return None
        attempts = int(row[5])
        payload = row[3]
        if row[4] == "printing":
            holder = conn.execute("SELECT lease_owner FROM print_jobs WHERE id = ?", (row[0],)).fetchone()[0]
            if row[7] is not None and row[7] > now and not owner_is_dead(holder):
                return None  # another worker is printing it
            # Its worker died mid-job (a crash, kill -9, a power cut): print it again at once —
            # a lost ticket is worse than a double — and mark it 补打, since part of it (or
            # all of it) may already have come out.
            attempts += 1
            if row[1] != "test":
                payload = json.dumps({**json.loads(payload), "reprint": True}, ensure_ascii=False)
            conn.execute("UPDATE print_jobs SET last_error = 'worker lost mid-job: printing again as 补打', "
                         "payload = ? WHERE id = ?", (payload, row[0]))
        elif row[6] > now:
            return None
        conn.execute(
            "UPDATE print_jobs SET state = 'printing', lease_owner = ?, lease_until = ?, "
            "started_at = ?, attempts = ? WHERE id = ?",
            (owner, now + lease_seconds, now, attempts, row[0]))
    return Job(int(row[0]), printer, row[1], row[2], json.loads(payload), attempts, owner)


def owner_is_dead(owner: str | None) -> bool:
    """True when a lease belongs to a worker of a process on this machine that no longer
    runs (``host:pid:…``): its job can be taken over at once instead of after the lease."""
    if not owner:
        return True
    parts = owner.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def finish_job(db: Database, job: Job) -> bool:
    """Mark a printed job done. False if the lease was lost meanwhile."""
    with write_tx(db) as conn:
        n = conn.execute(
            "UPDATE print_jobs SET state = 'done', finished_at = ?, lease_owner = NULL, lease_until = NULL "
            "WHERE id = ? AND state = 'printing' AND lease_owner = ?",
            (time.time(), job.id, job.owner)).rowcount
    return n == 1


def release_job(db: Database, job: Job, *, error: str | None = None,
                pause: tuple[str, PrinterStatus] | None = None, as_reprint: bool = False) -> None:
    """Give a job back without counting an attempt (the printer is paused: paper out,
    cover open). ``pause=(reason, status)`` pauses the printer in the same transaction, so
    no other worker claims the next job in between. ``as_reprint`` marks the ticket 补打
    when it prints again: part of it may already have come out (or may still come out of
    a printer that buffered it), and the citizen should see why there are two."""
    with write_tx(db) as conn:
        conn.execute(
            "UPDATE print_jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, "
            "last_error = COALESCE(?, last_error), "
            "payload = CASE WHEN ? AND kind != 'test' THEN json_set(payload, '$.reprint', json('true')) "
            "ELSE payload END WHERE id = ? AND lease_owner = ?",
            (error, int(as_reprint), job.id, job.owner))
        if pause is not None:
            set_printer_status(conn, job.printer, pause[1], paused_reason=pause[0])


def backoff_seconds(attempts: int, base: float = 1.0, cap: float = 60.0) -> float:
    """1, 2, 4, … seconds, capped."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


def retry_job(db: Database, job: Job, error: str, *, max_attempts: int = 10,
              base: float = 1.0, cap: float = 60.0, status: PrinterStatus | None = None) -> str:
    """Count a failed attempt: back to ``queued`` after a backoff, or ``failed`` after
    ``max_attempts``. Returns the new state."""
    attempts = job.attempts + 1
    now = time.time()
    state = "failed" if attempts >= max_attempts else "queued"
    with write_tx(db) as conn:
        conn.execute(
            "UPDATE print_jobs SET state = ?, attempts = ?, last_error = ?, next_attempt_at = ?, "
            "lease_owner = NULL, lease_until = NULL, finished_at = CASE WHEN ? = 'failed' THEN ? END "
            "WHERE id = ? AND lease_owner = ?",
            (state, attempts, error[:500], now + backoff_seconds(attempts, base, cap), state, now,
             job.id, job.owner))
        if status is not None:
            set_printer_status(conn, job.printer, status)
    return state


def prune_jobs(db: Database, keep_days: float = 30.0) -> int:
    """Delete finished jobs (done, failed) older than ``keep_days``; returns how many."""
    with write_tx(db) as conn:
        return int(conn.execute(
            "DELETE FROM print_jobs WHERE state IN ('done', 'failed') AND finished_at < ?",
            (time.time() - keep_days * 86400,)).rowcount)


def job_status(db: Database | sqlite3.Connection, job_id: int) -> dict[str, Any]:
    """One job's state, for the kiosk that queued it (NotFound if there is no such job)."""
    for job in _jobs_where(_conn(db), "j.id = ?", (job_id,), 1):
        return job
    raise NotFound("print_job_not_found", job=job_id)


def list_jobs(db: Database | sqlite3.Connection, printer: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Recent jobs, newest first (the technician's view)."""
    where, args = ("j.printer = ?", (printer,)) if printer else ("1", ())
    return _jobs_where(_conn(db), where, args, limit)


def _jobs_where(conn: sqlite3.Connection, where: str, args: tuple[Any, ...], limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT j.id, j.printer, j.kind, j.ticket_id, j.state, j.attempts, j.last_error, j.created_at, "
        "j.started_at, j.finished_at, t.number FROM print_jobs j LEFT JOIN tickets t ON t.id = j.ticket_id "
        f"WHERE {where} ORDER BY j.id DESC LIMIT ?", (*args, limit)).fetchall()
    keys = ("id", "printer", "kind", "ticket_id", "state", "attempts", "last_error", "created_at",
            "started_at", "finished_at", "number")
    return [dict(zip(keys, tuple(r), strict=True)) for r in rows]
