"""好差评 over HTTP: the evaluation and rectification API, the window rating pad and the
supervisor page. Routes only translate; the rules live in the domain modules.

* ``GET /api/evaluations/reasons`` (any token) — the current 差评 reason list.
* ``POST /api/evaluations`` — record an evaluation: kiosk (channel ``kiosk``), display
  (the rating pad, channel ``window``), admin; the phone channel sends the ticket's public
  ``code`` and no token (rate-limited per code and per address).
* ``GET /api/evaluations`` / ``GET /api/evaluations/<id>`` (supervisor, admin) — the list
  with filters, one evaluation.
* ``GET /api/evaluations/ticket/<id>`` (display, kiosk) — what the rating pad shows after
  ``ticket.finished``: number, 事项, rated yet, seconds since it finished.
* ``GET /api/rectifications?status=`` / ``GET /api/rectifications/<id>`` (supervisor, admin)
  and ``POST /api/rectifications/<id>/<step>`` (supervisor, admin; ``apply_invalid`` also
  the clerk concerned).
* ``GET /api/stats/evaluations?from=&to=&group=`` (admin, supervisor) — the figures.
* ``GET /api/evaluations/calendar?year=`` (supervisor, admin) — the year's holidays and 调休
  working days as deadlines count them; ``POST /api/evaluations/calendar`` and ``DELETE
  /api/evaluations/calendar/<day>`` (admin) — enter or remove a day, as the CLI does.
* ``GET /rate/window/<n>?token=`` — the rating pad page; ``GET /admin/evaluations`` — the
  supervisor page (login as supervisor or admin).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from queue_server import clock as clk
from queue_server.admin import staff
from queue_server.api.common import ALL_ROLES, actor, body, field, principal, roles
from queue_server.app import get_db, notify_change
from queue_server.errors import Conflict, Forbidden, NotFound, ValidationError
from queue_server.evaluations import calendar_days, figures, limits, loop, store
from queue_server.evaluations import stats as _stats  # noqa: F401  (registers the 好差评 statistics provider)
from queue_server.evaluations.reasons import reason_list
from queue_server.settings import get_setting

bp = Blueprint("evaluations", __name__, template_folder="templates", static_folder="static",
               static_url_path="/evaluations-static")


#: channel → the token roles that may use it (admin always may; the phone itself sends the
#: ticket's code and no token).
CHANNEL_ROLES: dict[str, tuple[str, ...]] = {"window": ("display",), "kiosk": ("kiosk",), "phone": ()}


def _json(data: Any, status: int = 200) -> Response:
    resp = jsonify(data)
    resp.status_code = status
    return resp


def _clock() -> Any:
    return current_app.config.get("CLOCK")


def _page(html: str) -> Response:
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/evaluations/reasons")
@roles(*ALL_ROLES)
def reasons() -> Response:
    """The current 差评 reason list: {"version", "reasons": [{"code", "name", "name_en"}]} (any token)."""
    return _json(reason_list(get_db()))


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data.get(k) for k in ("level", "ticket", "code", "case", "reasons", "comment", "evaluator")}


@roles("kiosk", "display")
def _evaluate_with_token(data: dict[str, Any], channel: str | None) -> Response:
    p = principal()
    if channel is None:
        channel = {"display": "window", "kiosk": "kiosk"}.get(p.role)
    if channel not in CHANNEL_ROLES:
        raise ValidationError("bad_channel", channel=str(channel)[:20])
    if p.role != "admin" and p.role not in CHANNEL_ROLES[channel]:
        raise Forbidden("forbidden", role=p.role)
    out = store.evaluate(get_db(), channel=channel, recorded_by=actor(), clock=_clock(), **_fields(data))
    notify_change()
    return _json(out, 201)


@bp.post("/api/evaluations")
def create_evaluation() -> Response:
    """Record an evaluation → 201 {"id", "level", "count", "rectification"?} (kiosk, display, admin;
    the phone channel sends the ticket's public code and no token)."""
    data = body()
    channel = data.get("channel")
    code = data.get("code")
    if code is not None or (channel == "phone" and not request.headers.get("Authorization")):
        if channel not in (None, "phone"):
            raise ValidationError("bad_channel", channel=str(channel)[:20])
        if code is None:
            raise ValidationError("missing_field", field="code")
        if not isinstance(code, str) or data.get("ticket") is not None or data.get("case") is not None:
            raise ValidationError("evaluation_target")
        db = get_db()
        limits.count_phone_attempt(db, code, request.remote_addr or "", clock=_clock())
        out = store.evaluate(db, channel="phone", recorded_by="phone", clock=_clock(), **_fields(data))
        notify_change()
        return _json(out, 201)
    return _evaluate_with_token(data, channel)


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ValidationError("bad_field", field=name) from exc


@bp.get("/api/evaluations")
@roles("supervisor")
def evaluation_list() -> Response:
    """Evaluations newest first: ?from=&to=&level=&bad=1|0&channel=&service=&window=&clerk=&limit=&before=
    (supervisor, admin)."""
    a = request.args
    bad = a.get("bad")
    items = store.list_evaluations(
        get_db(), date_from=a.get("from") or None, date_to=a.get("to") or None, level=_int_arg("level"),
        bad=None if bad in (None, "") else bad in ("1", "true", "yes"), channel=a.get("channel") or None,
        service=a.get("service") or None, window=_int_arg("window"), clerk=_int_arg("clerk"),
        limit=_int_arg("limit") or 100, before=_int_arg("before"), clock=_clock())
    return _json({"evaluations": items})


@bp.get("/api/evaluations/<int:evaluation_id>")
@roles("supervisor")
def evaluation(evaluation_id: int) -> Response:
    """One evaluation with its rectification summary (supervisor, admin)."""
    return _json(store.get_evaluation(get_db(), evaluation_id, clock=_clock()))


@bp.get("/api/evaluations/ticket/<int:ticket_id>")
@roles("display", "kiosk")
def ticket_state(ticket_id: int) -> Response:
    """What the rating pad shows for a finished ticket (display, kiosk, admin)."""
    return _json(store.ticket_rating_state(get_db(), ticket_id, clock=_clock()))


@bp.get("/api/rectifications")
@roles("supervisor")
def rectification_list() -> Response:
    """Rectification cases, overdue (整改超期) first: ?status=<status>|open|overdue|done (supervisor, admin)."""
    cases = loop.list_cases(get_db(), status=request.args.get("status") or None,
                            limit=_int_arg("limit") or 200, clock=_clock())
    return _json({"rectifications": cases})


@bp.get("/api/rectifications/<int:case_id>")
@roles("supervisor")
def rectification(case_id: int) -> Response:
    """One rectification case with its steps (supervisor, admin)."""
    return _json(loop.get_case(get_db(), case_id, clock=_clock()))


@bp.post("/api/rectifications/<int:case_id>/<step>")
@roles("supervisor", "clerk")
def rectification_step(case_id: int, step: str) -> Response:
    """A step of the 差评 loop: verify, apply_invalid, approve_invalid, reject_invalid, rectify, extend,
    follow_up, close (supervisor, admin; apply_invalid also the clerk concerned)."""
    p = principal()
    who = loop.Staff(role=p.role, user_id=p.user_id, actor=actor())
    out = loop.take_step(get_db(), case_id, step, body(), who, clock=_clock())
    notify_change()
    return _json(out)


@bp.get("/api/stats/evaluations")
@roles("supervisor")
def stats() -> Response:
    """The figures: ?from=YYYY-MM-DD&to=YYYY-MM-DD&group=day|service|window|clerk (admin, supervisor)."""
    a = request.args
    for name in ("from", "to"):
        if not a.get(name):
            raise ValidationError("missing_field", field=name)
    return _json(figures.evaluation_figures(get_db(), a["from"], a["to"], a.get("group") or "day",
                                            clock=_clock()))


# --- the working-day calendar of deadlines ------------------------------------------------


def _hall_year() -> int:
    return int(clk.business_day(clk.now(_clock()), str(get_setting(get_db(), "timezone")))[:4])


@bp.get("/api/evaluations/calendar")
@roles("supervisor")
def calendar_year() -> Response:
    """The year's holidays and 调休 working days as deadlines count them: ?year=YYYY (default the
    hall's current year) → {"year", "provisional", "days": [{"day", "kind", "source", …}], …}
    (supervisor, admin)."""
    raw = request.args.get("year") or ""
    if not raw:
        year = _hall_year()
    elif raw.isdigit() and len(raw) == 4:
        year = int(raw)
    else:
        raise ValidationError("bad_calendar_day", what=f"年份 {raw[:12]} 应为 YYYY", what_en=f"year {raw[:12]}: YYYY")
    return _json(calendar_days.year_days(get_db(), year))


def _admin_change() -> None:
    """As in the admin area: an admin still on a one-time password changes nothing (409)."""
    if staff.must_change_password(get_db(), principal().user_id):
        raise Conflict("password_change_required")


def _calendar_text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        raise ValidationError("missing_field", field=name)
    if not isinstance(value, str):
        raise ValidationError("bad_calendar_day", what=f"{name} 应为文本", what_en=f"{name} must be a string")
    return value


@bp.post("/api/evaluations/calendar")
@roles("admin")
def calendar_add() -> Response:
    """Enter a holiday or 调休 working day of a year the official calendar does not know:
    {"day": "YYYY-MM-DD", "kind": "holiday"|"workday", "note"?} → 201; provisional deadlines are
    counted again (admin; audited)."""
    _admin_change()
    data = body()
    day, kind = _calendar_text(data, "day"), _calendar_text(data, "kind")
    note = field(data, "note", str, max_len=200) or ""
    out = calendar_days.add_day(get_db(), day, kind, note=note.strip(), actor=actor())
    notify_change()
    return _json({**out, "note": note.strip(), "source": "hall"}, 201)


@bp.delete("/api/evaluations/calendar/<day>")
@roles("admin")
def calendar_remove(day: str) -> Response:
    """Remove a day the hall entered → {"day", "removed": true, "deadlines_changed"}; provisional
    deadlines are counted again (admin; audited). A day not entered → 404."""
    _admin_change()
    out = calendar_days.remove_day(get_db(), day, actor=actor())
    if not out["removed"]:
        raise NotFound("calendar_day_not_entered", day=out["day"])
    notify_change()
    return _json(out)


# --- pages -------------------------------------------------------------------------------


@bp.get("/rate/window/<int:number>")
def rating_pad(number: int) -> Response:
    """The rating pad facing the citizen at window ``number`` (?token= of a display)."""
    timeout = int(get_setting(get_db(), "evaluations.pad_timeout_seconds"))
    return _page(render_template("rating_pad.html", window=number, timeout=timeout))


@bp.get("/admin/evaluations")
def supervisor_page() -> Response:
    """The supervisor's page: evaluations, rectification cases, every step of the loop, figures."""
    day = clk.business_day(clk.now(_clock()), str(get_setting(get_db(), "timezone")))
    return _page(render_template("supervisor.html", day=day))
