"""秒批 API routes (they only translate; :mod:`queue_server.approvals.service` does the work).

* ``GET /api/approvals/items`` (kiosk, clerk, admin) — the items with inputs and rule sets.
* ``POST /api/approvals`` (kiosk, clerk, admin) — apply; ``Idempotency-Key`` honoured (replays
  the same body only; another body with a used key is 422 ``idempotency_key_reused``); 201.
* ``GET /api/approvals?ticket=<id>`` (clerk, admin) — the case a referral ticket carries.
* ``GET /api/approvals/<case>`` (kiosk: its own cases; clerk, admin) — the case with its rule trace.
* ``POST /api/approvals/<case>/decide`` (clerk, admin) — a person decides a referred case.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from queue_server import clock as clk
from queue_server.api.common import actor, body, idempotency_key, principal, roles
from queue_server.app import get_db, notify_change
from queue_server.approvals import service
from queue_server.approvals import stats as _stats  # noqa: F401  (registers the 秒批 statistics provider)
from queue_server.errors import NotFound, ValidationError
from queue_server.settings import all_settings

bp = Blueprint("approvals", __name__)


def _json(data: Any, status: int = 200) -> Response:
    resp = jsonify(data)
    resp.status_code = status
    return resp


def _today() -> str:
    tz = str(all_settings(get_db()).get("timezone") or "Asia/Shanghai")
    return clk.business_day(clk.now(current_app.config.get("CLOCK")), tz)


@bp.get("/api/approvals/items")
@roles("kiosk", "clerk")
def items() -> Response:
    """Every 秒批 item: code, names, category, inputs, rule set version and hash."""
    return _json(service.describe_items(_today()))


@bp.post("/api/approvals")
@roles("kiosk", "clerk")
def apply() -> Response:
    """Apply for an item; 201 with the decision, reasons, rule results, certificate or ticket."""
    p = principal()
    data = body()
    app = service.parse_application(data, today=_today(), may_backdate=p.role == "admin")
    key = idempotency_key()
    source = {"kiosk": "kiosk", "clerk": "counter"}.get(p.role, "admin")
    result = service.apply(get_db(), app, kiosk=p.name, source=source, idempotency_key=key,
                           clock=current_app.config.get("CLOCK"), request=data)
    notify_change()
    return _json(result, 201)


@bp.get("/api/approvals")
@roles("clerk")
def by_ticket() -> Response:
    """The approval case a referral ticket carries: ?ticket=<id>; 404 when none."""
    ticket = request.args.get("ticket", type=int)
    if ticket is None:
        raise ValidationError("missing_field", field="ticket")
    number = service.find_by_ticket(get_db(), ticket)
    if number is None:
        raise NotFound("case_not_found", case=f"ticket {ticket}")
    return _json(service.case_detail(get_db(), number))


@bp.get("/api/approvals/<number>")
@roles("kiosk", "clerk")
def case(number: str) -> Response:
    """One approval case with its rule trace (a kiosk sees only the cases it made)."""
    db = get_db()
    p = principal()
    if p.role == "kiosk" and service.case_kiosk(db, number) != p.name:
        raise NotFound("case_not_found", case=number)
    return _json(service.case_detail(db, number))


@bp.post("/api/approvals/<number>/decide")
@roles("clerk")
def decide(number: str) -> Response:
    """A member of staff decides a referred case: {"decision": "approved"|"rejected", "note"}."""
    data = body()
    result = service.decide_by_staff(get_db(), number, data.get("decision"), data.get("note"), actor=actor(),
                                     printer=data.get("printer") if isinstance(data.get("printer"), str) else None,
                                     print_certificate=data.get("print") is True,
                                     clock=current_app.config.get("CLOCK"))
    notify_change()
    return _json(result)
