"""Printer status API, print-job requests and the ticket progress page.

* ``GET /api/printers`` — every printer with its status and queue length (technician,
  admin, kiosk). ``GET /api/printers/<name>`` — one.
* ``POST /api/printers/<name>/test-print`` — queue a test page (technician, admin).
* ``POST /api/print-jobs`` ``{"ticket_id": 12, "printer": "lobby-1"}`` — queue a reprint
  (补打) of a ticket (kiosk, clerk, technician, admin).
* ``GET /api/print-jobs/<id>`` — one job's state, so a kiosk can say whether its ticket
  printed (kiosk, clerk, technician, admin).
* ``GET /api/print-jobs?printer=NAME`` — recent jobs (technician, admin).
* ``GET /t/<code>`` — the public progress page the ticket's QR code opens: position in
  the queue, the window when called; refreshes itself every 10 s. No personal data. Once
  the ticket is done it offers the 好差评 rating for ``evaluations.phone_days`` days
  (:mod:`queue_server.evaluations`).

Routes only queue jobs: printing happens in the workers (:mod:`queue_server.printing.worker`),
never inside a request.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from queue_server.api.common import body, field, roles
from queue_server.app import get_db
from queue_server.clock import local
from queue_server.errors import QueueError
from queue_server.evaluations.reasons import reason_list
from queue_server.evaluations.store import LEVELS, phone_rating_state
from queue_server.printing import jobs
from queue_server.queue import ticket_progress
from queue_server.settings import all_settings

bp = Blueprint("printing", __name__, template_folder="templates")

#: Seconds between refreshes of the progress page (app config ``PROGRESS_REFRESH_SECONDS``).
PROGRESS_REFRESH_SECONDS = 10


@bp.before_app_request
def _remember_base_url() -> None:
    # The QR on a ticket printed for this request links back to the host the kiosk used,
    # unless the hall configured ``public_url``.
    jobs.request_base_url.set(request.host_url)


def _json(data: Any, status: int = 200) -> Response:
    resp = jsonify(data)
    resp.status_code = status
    return resp


@bp.get("/api/printers")
@roles("technician", "kiosk")
def printers() -> Response:
    """Every printer with its status and queue length (technician, admin, kiosk)."""
    return _json({"printers": jobs.list_printers(get_db())})


@bp.get("/api/printers/<name>")
@roles("technician", "kiosk")
def printer(name: str) -> Response:
    """One printer with its status and queue length (technician, admin, kiosk)."""
    return _json(jobs.get_printer(get_db(), name))


@bp.post("/api/printers/<name>/test-print")
@roles("technician")
def test_print(name: str) -> Response:
    """Queue a test page on the printer; 202 with the job id (technician, admin)."""
    job_id = jobs.queue_test_page(get_db(), name)
    return _json({"status": "queued", "job_id": job_id}, 202)


@bp.post("/api/print-jobs")
@roles("kiosk", "clerk", "technician")
def reprint() -> Response:
    """Queue a reprint (补打) of a ticket: {"ticket_id", "printer"?} (kiosk, clerk, technician, admin)."""
    data = body()
    ticket_id = field(data, "ticket_id", int, required=True)
    name = field(data, "printer", str, max_len=40)
    job_id = jobs.queue_reprint(get_db(), ticket_id, printer=name)
    if job_id is None:
        return _json({"print": {"status": "not_configured", "message": "未配置打印机",
                                "message_en": "No printer configured"}})
    return _json({"print": {"status": "queued", "job_id": job_id}}, 202)


@bp.get("/api/print-jobs/<int:job_id>")
@roles("kiosk", "clerk", "technician")
def job(job_id: int) -> Response:
    """One print job's state: queued, printing, done or failed (kiosk, clerk, technician, admin)."""
    return _json(jobs.job_status(get_db(), job_id))


@bp.get("/api/print-jobs")
@roles("technician")
def job_list() -> Response:
    """Recent print jobs, newest first; ?printer=NAME&limit=N (technician, admin)."""
    limit = min(max(request.args.get("limit", 100, type=int) or 100, 1), 1000)
    return _json({"jobs": jobs.list_jobs(get_db(), request.args.get("printer"), limit)})


@bp.get("/t/<code>")
def progress_page(code: str) -> Response:
    """The public progress page the QR code on a ticket opens (HTML, no personal data)."""
    db = get_db()
    hall = all_settings(db)
    progress: dict[str, Any] | None = None
    error: QueueError | None = None
    clock = current_app.config.get("CLOCK")
    try:
        progress = ticket_progress(db, code, clock=clock)
    except QueueError as exc:
        error = exc
    rating = phone_rating_state(db, code, clock=clock) if progress else None
    if rating and rating["closes_at"]:
        rating["closes"] = local(rating["closes_at"], str(hall["timezone"])).strftime("%Y-%m-%d %H:%M")
    reasons = reason_list(db)["reasons"] if rating and rating["open"] else []
    html = render_template("progress.html", hall=hall, progress=progress, code=code, rating=rating,
                           reasons=reasons, levels=LEVELS,
                           error=error.zh if error else None,
                           error_en=error.en if error else None,
                           refresh=current_app.config.get("PROGRESS_REFRESH_SECONDS",
                                                          PROGRESS_REFRESH_SECONDS))
    resp = Response(html, status=error.status if error else 200, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp
