"""The JSON API routes. Each route checks the role, reads its input, calls the engine and
pokes the event bus after a write; the engine does everything else."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from queue_server import clock as clk
from queue_server import queue as engine
from queue_server.api import openapi
from queue_server.api.common import (
    ALL_ROLES,
    STAFF,
    actor,
    authenticate,
    body,
    clerk_id,
    field,
    idempotency_key,
    principal,
    roles,
)
from queue_server.app import get_db, notify_change
from queue_server.auth import login, revoke_token
from queue_server.errors import ValidationError
from queue_server.queue.access import ticket_view
from queue_server.settings import SETTINGS, all_settings, set_setting
from queue_server.storage import check, fault_code

bp = Blueprint("api", __name__, url_prefix="/api")


def _clock() -> Any:
    return current_app.config.get("CLOCK")


def _json(data: Any, status: int = 200) -> Response:
    resp = jsonify(data)
    resp.status_code = status
    return resp


def _public_ticket(t: dict[str, Any]) -> dict[str, Any]:
    """The ticket as issued, with ``receipt``: what its paper copy says (printing's one
    builder), so a kiosk printing on its own printer prints what the server would."""
    from queue_server.printing.jobs import receipt

    t = dict(t)
    t.pop("in_tx_result", None)
    t.pop("in_tx_error", None)
    t["receipt"] = receipt(t, all_settings(get_db()))
    return t


def _seen(t: dict[str, Any]) -> dict[str, Any]:
    """The ticket as the caller's role may read it (:func:`queue_server.queue.access.ticket_view`)."""
    p = principal()
    return ticket_view(t, p.role, p.name)


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """This OpenAPI 3 document (no auth)."""
    return _json(openapi.document(current_app))


# --- catalogue ---------------------------------------------------------------------------


@bp.get("/health")
def health() -> Response:
    """Health check (no auth): 200 {"ok": true, "storage": {...}}, 503 with ok false and the
    storage fault (full disk, read-only database, lock held elsewhere) while there is one."""
    storage = check(current_app.config["DB_PATH"], current_app.extensions.get("yichuang.storage_faults"))
    try:
        get_db().conn.execute("SELECT 1").fetchone()
    except sqlite3.Error as exc:  # even opening this thread's connection failed
        code = fault_code(exc) or "storage_io_error"
        storage.update(state=code, code=code, readable=False, detail=str(exc))
    ok = storage["state"] == "ok"
    return _json({"ok": ok, "storage": storage}, 200 if ok else 503)


@bp.get("/categories")
@roles(*ALL_ROLES)
def categories() -> Response:
    return _json(engine.categories(get_db()))


@bp.get("/services")
@roles(*ALL_ROLES)
def services() -> Response:
    return _json(engine.services(get_db()))


@bp.get("/windows")
@roles(*ALL_ROLES)
def windows() -> Response:
    return _json(engine.windows(get_db()))


@bp.get("/prefixes")
@roles(*ALL_ROLES)
def prefixes() -> Response:
    """Every letter a ticket number can start with (the kiosk's progress keypad)."""
    from queue_server.queue.catalog import ticket_prefixes

    return _json({"prefixes": ticket_prefixes(get_db())})


@bp.get("/state")
@roles(*ALL_ROLES)
def state() -> Response:
    return _json(engine.hall_state(get_db(), clock=_clock()))


# --- tickets -----------------------------------------------------------------------------


@bp.post("/tickets")
@roles("kiosk", "clerk")
def issue() -> Response:
    data = body()
    service = field(data, "service", str, required=True, max_len=32)
    want_print = field(data, "print", bool) or False
    printer = field(data, "printer", str, max_len=100)
    p = principal()
    print_state: dict[str, Any] = {}

    def enqueue(conn: Any, ticket_id: int) -> Any:
        from queue_server.printing.jobs import enqueue_ticket_print

        return enqueue_ticket_print(conn, ticket_id, printer=printer)

    ticket = engine.issue_ticket(
        get_db(),
        service,
        id_number=field(data, "id_number", str, max_len=32),
        priority=field(data, "priority", str, max_len=32),
        appointment=field(data, "appointment", str, max_len=64),
        referral_reason=field(data, "referral_reason", str, max_len=200),
        issued_by=p.name,
        source="counter" if p.role == "clerk" else ("admin" if p.role == "admin" else "kiosk"),
        clock=_clock(),
        in_tx=enqueue if want_print else None,
        idempotency_key=idempotency_key(),
        accept_ordinary=bool(field(data, "accept_ordinary", bool)),
    )
    notify_change()
    if want_print:
        if ticket.get("replayed"):
            print_state = {"status": "not_requeued", "message": "重复请求,未重复打印"}
        elif ticket.get("in_tx_error"):
            print_state = {"status": "error", "message": "打印任务未能加入队列", "detail": ticket["in_tx_error"]}
        elif ticket.get("in_tx_result") is None:
            print_state = {"status": "not_configured", "message": "未配置打印机"}
        else:
            print_state = {"status": "queued", "job_id": ticket["in_tx_result"]}
    out = _seen(_public_ticket(ticket))
    if want_print:
        out["print"] = print_state
    return _json(out, 201)


@bp.get("/tickets")
@roles(*ALL_ROLES)
def find_ticket() -> Response:
    number = request.args.get("number")
    if not number:
        raise ValidationError("missing_field", field="number")
    return _json(_seen(engine.find_ticket(get_db(), number, clock=_clock())))


@bp.get("/tickets/<int:ticket_id>")
@roles(*ALL_ROLES)
def get_ticket(ticket_id: int) -> Response:
    return _json(_seen(engine.get_ticket(get_db(), ticket_id, clock=_clock())))


@bp.post("/appointments/check-in")
@roles("kiosk", "clerk")
def appointment_check_in() -> Response:
    """Check in by ``code`` or ``id_number``; a late one answers 409 ``appointment_late``
    unless ``accept_ordinary`` is true (then an ordinary ticket of the same service)."""
    data = body()
    code = field(data, "code", str, max_len=64)
    id_number = field(data, "id_number", str, max_len=32)
    ticket = engine.check_in(get_db(), code=code, id_number=id_number, issued_by=principal().name, clock=_clock(),
                             idempotency_key=idempotency_key(),
                             accept_ordinary=bool(field(data, "accept_ordinary", bool)))
    notify_change()
    return _json(_seen(_public_ticket(ticket)), 201)


@bp.post("/appointments")
@roles("booking")
def book_appointment() -> Response:
    """A booking from the platform: 201 with the appointment (masked ID and name), 200 when
    the same body was booked before, 409 ``appointment_conflict`` for another body."""
    from queue_server.queue import appointments

    appt, created = appointments.book(get_db(), body(), actor=actor(), clock=_clock())
    return _json(appt, 201 if created else 200)


@bp.delete("/appointments/<code>")
@roles("booking")
def cancel_appointment(code: str) -> Response:
    """Cancel: 200 with ``status: "cancelled"`` (again: the same answer)."""
    from queue_server.queue import appointments

    return _json(appointments.cancel(get_db(), code, actor=actor()))


@bp.get("/appointments")
@roles("booking", "clerk")
def list_appointments() -> Response:
    """Every appointment of ``?date=`` (default today), cancelled ones included."""
    from queue_server import clock as clk
    from queue_server.queue import appointments

    day = request.args.get("date") or clk.business_day(clk.now(_clock()), str(all_settings(get_db())["timezone"]))
    return _json({"date": day, "appointments": appointments.list_day(get_db(), day)})


@bp.get("/progress/<code>")
def progress(code: str) -> Response:
    """Public (no token): what the QR on a ticket shows; no personal data."""
    return _json(engine.ticket_progress(get_db(), code, clock=_clock()))


def _ticket_action(name: str, ticket_id: int, **kwargs: Any) -> Response:
    fn = getattr(engine, name)
    ticket = fn(get_db(), ticket_id, clerk_user_id=clerk_id(), clock=_clock(), **kwargs)
    notify_change()
    return _json(ticket)


@bp.post("/tickets/<int:ticket_id>/recall")
@roles(*STAFF)
def recall(ticket_id: int) -> Response:
    window = field(body(), "window", int)
    return _ticket_action("recall", ticket_id, window=window)


@bp.post("/tickets/<int:ticket_id>/start")
@roles(*STAFF)
def start(ticket_id: int) -> Response:
    return _ticket_action("start", ticket_id)


@bp.post("/tickets/<int:ticket_id>/finish")
@roles(*STAFF)
def finish(ticket_id: int) -> Response:
    return _ticket_action("finish", ticket_id)


@bp.post("/tickets/<int:ticket_id>/no-show")
@roles(*STAFF)
def no_show(ticket_id: int) -> Response:
    return _ticket_action("no_show", ticket_id)


@bp.post("/tickets/<int:ticket_id>/cancel")
@roles(*STAFF)
def cancel(ticket_id: int) -> Response:
    """Cancel; a waiting ticket not for one of the caller's windows needs ``reason`` (audited)."""
    return _ticket_action("cancel", ticket_id, reason=field(body(), "reason", str, max_len=100))


@bp.post("/tickets/<int:ticket_id>/transfer")
@roles(*STAFF)
def transfer(ticket_id: int) -> Response:
    data = body()
    return _ticket_action(
        "transfer", ticket_id,
        window=field(data, "window", int),
        service=field(data, "service", str, max_len=32),
        note=field(data, "note", str, max_len=200),
    )


# --- windows -----------------------------------------------------------------------------


@bp.post("/windows/<int:number>/call-next")
@roles(*STAFF)
def call_next(number: int) -> Response:
    """叫下一位. Within ``call_repeat_guard_seconds`` of the window's last call (its ticket
    still called) 409 ``just_called`` unless the body says ``{"confirm": true}``."""
    confirm = field(body(), "confirm", bool) or False
    ticket = engine.call_next(get_db(), number, clerk_user_id=clerk_id(), clock=_clock(), guard=not confirm)
    notify_change()
    if ticket is None:
        return Response(status=204)
    return _json(ticket)


@bp.post("/windows/<int:number>/call")
@roles(*STAFF)
def call_number(number: int) -> Response:
    """特呼: ``{"number": "A012", "reason"?}`` calls that waiting ticket (or a recallable
    no-show) at this window out of order; audited with the clerk and the reason."""
    data = body()
    ticket = engine.call_number(
        get_db(), number, field(data, "number", str, required=True, max_len=12),
        reason=field(data, "reason", str, max_len=200), clerk_user_id=clerk_id(), actor=actor(), clock=_clock(),
    )
    notify_change()
    return _json(ticket)


@bp.get("/windows/<int:number>/no-shows")
@roles(*STAFF)
def window_no_shows(number: int) -> Response:
    """Today's 过号 tickets of this window, newest first, with ``recallable`` / ``not_recallable``."""
    return _json(engine.no_shows(get_db(), number, clock=_clock()))


@bp.get("/windows/<int:number>/queue")
@roles(*STAFF)
def window_queue(number: int) -> Response:
    return _json(engine.window_queue(get_db(), number, clock=_clock()))


@bp.post("/windows/<int:number>/open")
@roles(*STAFF)
def open_window(number: int) -> Response:
    w = engine.open_window(get_db(), number, clerk_id(), clock=_clock())
    notify_change()
    return _json(w)


@bp.post("/windows/<int:number>/pause")
@roles(*STAFF)
def pause_window(number: int) -> Response:
    reason = field(body(), "reason", str, required=True, max_len=100)
    w = engine.pause_window(get_db(), number, reason, clerk_user_id=clerk_id(), clock=_clock())
    notify_change()
    return _json(w)


@bp.post("/windows/<int:number>/resume")
@roles(*STAFF)
def resume_window(number: int) -> Response:
    w = engine.resume_window(get_db(), number, clerk_user_id=clerk_id(), clock=_clock())
    notify_change()
    return _json(w)


@bp.post("/windows/<int:number>/close")
@roles(*STAFF)
def close_window(number: int) -> Response:
    w = engine.close_window(get_db(), number, clerk_user_id=clerk_id(), clock=_clock())
    notify_change()
    return _json(w)


# --- hall settings -----------------------------------------------------------------------


@bp.put("/notice")
@roles("admin")
def put_notice() -> Response:
    text = field(body(), "notice", str, required=True, max_len=500)
    notice = engine.set_notice(get_db(), text, clock=_clock(), actor=actor())
    notify_change()
    return _json({"notice": notice})


@bp.get("/settings")
@roles("admin")
def get_settings() -> Response:
    values = all_settings(get_db(), fresh=True)
    return _json([{"name": s.name, "value": values.get(s.name), "default": s.default, "help": s.help}
                  for s in SETTINGS])


@bp.put("/settings/<name>")
@roles("admin")
def put_setting(name: str) -> Response:
    data = body()
    if "value" not in data:
        raise ValidationError("missing_field", field="value")
    set_setting(get_db(), name, data["value"], actor=actor())
    return _json({"name": name, "value": data["value"]})


# --- sessions ----------------------------------------------------------------------------


@bp.post("/login")
def do_login() -> Response:
    """Clerk/admin/technician login with username + password → session token."""
    data = body()
    username = field(data, "username", str, required=True, max_len=64)
    password = field(data, "password", str, required=True, max_len=200)
    return _json(login(get_db(), username, password, address=request.remote_addr or "",
                       throttle_now=clk.now(_clock())))


@bp.post("/logout")
def do_logout() -> Response:
    authenticate()
    header = request.headers.get("Authorization", "")
    revoke_token(get_db(), header[7:].strip())
    return _json({"ok": True})


@bp.get("/me")
@roles(*ALL_ROLES)
def me() -> Response:
    p = g.principal
    user = None
    if p.user_id is not None:
        user = {"id": p.user_id, "name": p.user_name, "staff_no": p.staff_no, "role": p.role}
    return _json({"role": p.role, "name": p.name, "user": user, "expires_at": p.expires_at})
