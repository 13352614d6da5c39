"""Cases: the public page behind a printed document's QR and the staff's case lookups.

* ``GET /v/<ref>`` — public (no token): the holder-safe summary printed with the document
  and the case's current status; ``GET /api/v/<ref>`` is the same as JSON.
* ``GET /api/cases/<number>`` (kiosk, clerk) — one case.
* ``GET /api/cases?ticket=<id>`` (clerk) — the case a window ticket was issued for.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, render_template, request

from queue_server.api.common import principal, roles
from queue_server.app import get_db
from queue_server.cases.store import find_case_by_ticket, get_case, resolve_ref
from queue_server.errors import NotFound, ValidationError
from queue_server.settings import all_settings

bp = Blueprint("cases", __name__, template_folder="templates")

#: How the page words a case status: (Chinese, English, tone).
STATUS_TEXT = {
    "approved": ("已通过", "Approved", "good"),
    "done": ("有效", "Valid", "good"),
    "open": ("办理中", "In progress", "wait"),
    "referred": ("转人工审核中", "Referred to a member of staff", "wait"),
    "rejected": ("未通过（工作人员决定）", "Not approved (decided by a member of staff)", "bad"),
    "revoked": ("已撤销", "Revoked", "bad"),
}


def _json(data: Any, status: int = 200) -> Response:
    resp = jsonify(data)
    resp.status_code = status
    return resp


@bp.get("/v/<ref>")
def verify_page(ref: str) -> Response:
    """The page a printed document's QR opens (HTML, holder-safe, no token)."""
    db = get_db()
    hall = all_settings(db)
    found: dict[str, Any] | None
    try:
        found = resolve_ref(db, ref)
    except NotFound:
        found = None
    state, issued = None, ""
    if found:
        zh, en, tone = STATUS_TEXT.get(found["case"]["status"], (found["case"]["status"], found["case"]["status"], "wait"))
        state = {"zh": zh, "en": en, "tone": tone}
        if found.get("current"):  # what the document vouches for, as it stands today
            state = {k: found["current"][k] for k in ("zh", "en", "tone")}
        issued = dt.datetime.fromtimestamp(found["issued_at"], ZoneInfo(str(hall["timezone"]))).strftime("%Y-%m-%d %H:%M")
    html = render_template("verify.html", hall=hall, found=found, state=state, issued=issued)
    resp = Response(html, status=200 if found else 404, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/v/<ref>")
def verify_json(ref: str) -> Response:
    """The document check as JSON (no token; holder-safe)."""
    return _json(resolve_ref(get_db(), ref))


@bp.get("/api/cases/<number>")
@roles("kiosk", "clerk")
def case(number: str) -> Response:
    """One kiosk case by number (clerk, admin; a kiosk only the cases it made)."""
    found = get_case(get_db(), number)
    p = principal()
    if p.role == "kiosk" and found["kiosk"] != p.name:
        raise NotFound("case_not_found", case=number)  # as if there were none: numbers are guessable
    return _json(found)


@bp.get("/api/cases")
@roles("clerk")
def case_by_ticket() -> Response:
    """The case a window ticket was issued for: ?ticket=<id> (clerk, admin); 404 when none."""
    ticket = request.args.get("ticket", type=int)
    if ticket is None:
        raise ValidationError("missing_field", field="ticket")
    found = find_case_by_ticket(get_db(), ticket)
    if found is None:
        raise NotFound("case_not_found", case=f"ticket {ticket}")
    return _json(found)
