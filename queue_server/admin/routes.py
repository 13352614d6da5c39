"""The hall manager's pages (``/admin/...``) and their JSON API. Pages are static shells; all
they show and change goes through the JSON routes below, which only translate HTTP to the
engine and domain functions (docs/api.md lists every route, docs/admin.md the pages).

Every ``/api/admin/...`` and ``/api/stats/...`` route needs the admin role; an admin whose
password is a one-time password gets ``password_change_required`` (409) until they change
it (``POST /api/admin/password``). ``GET /api/hours`` is for every role (kiosks show when
the hall opens again).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, current_app, jsonify, render_template, request, send_file

from queue_server import clock as clk
from queue_server.admin import appointments, report, staff, stats, undo
from queue_server.admin.exports import to_csv, to_xlsx
from queue_server.admin.providers import (
    FIGURE_COLUMNS,
    provider_behind,
    provider_figures,
    provider_part,
)
from queue_server.api.common import ALL_ROLES, actor, body, field, principal, roles
from queue_server.app import get_db, notify_change
from queue_server.audit.chain import recent
from queue_server.errors import Conflict, ValidationError
from queue_server.queue import catalog, hours
from queue_server.queue.hall_config import diff_hall, import_hall
from queue_server.settings import all_settings

bp = Blueprint("admin", __name__, template_folder="templates", static_folder="static",
               static_url_path="/admin-static")

F = TypeVar("F", bound=Callable[..., Any])


PAGES = ("catalog", "windows", "staff", "hours", "appointments", "settings", "audit", "import", "stats")


def _json(data: Any, status: int = 200) -> Response:
    resp = jsonify(data)
    resp.status_code = status
    return resp


def _clock() -> Any:
    return current_app.config.get("CLOCK")


def _now() -> float:
    return clk.now(_clock())


def admin_api(fn: F) -> F:
    """Admin role, and no pending one-time password."""

    @roles("admin")
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if staff.must_change_password(get_db(), principal().user_id):
            raise Conflict("password_change_required")
        return fn(*args, **kwargs)

    return cast(F, wrapper)


# --- pages ------------------------------------------------------------------------------------


def _links() -> dict[str, bool]:
    """Which other capabilities' pages and APIs exist in this server (the header links them)."""
    rules = {r.rule for r in current_app.url_map.iter_rules()}
    return {"evaluations": "/admin/evaluations" in rules, "tech": "/tech" in rules,
            "devices": any(r == "/api/devices" or r.startswith("/api/devices/") for r in rules)}


def _page(name: str) -> Response:
    # The hall's business day, so the page's "today" is the hall's, not the browser's clock's
    # (a browser in another time zone, or a PC whose clock is off, would pick the wrong day).
    day = clk.business_day(_now(), str(all_settings(get_db())["timezone"]))
    html = render_template(f"admin/{name}.html", page=name, links=_links(), day=day)
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/admin")
@bp.get("/admin/")
def home() -> Response:
    return _page("home")


@bp.get("/admin/<name>")
def page(name: str) -> Response:
    if name not in PAGES:
        from werkzeug.exceptions import NotFound as HTTPNotFound

        raise HTTPNotFound()
    return _page(name)


# --- who am I, password -----------------------------------------------------------------------


@bp.get("/api/admin/me")
@roles(*ALL_ROLES)
def me() -> Response:
    p = principal()
    user = None
    if p.user_id is not None:
        user = {"id": p.user_id, "name": p.user_name, "staff_no": p.staff_no, "role": p.role}
    return _json({"role": p.role, "user": user,
                  "must_change_password": staff.must_change_password(get_db(), p.user_id),
                  "links": _links()})


@bp.post("/api/admin/password")
@roles("clerk", "technician", "admin")
def change_password() -> Response:
    data = body()
    p = principal()
    if p.user_id is None:
        raise ValidationError("bad_user")
    staff.change_password(get_db(), p.user_id, field(data, "old_password", str, required=True, max_len=200),
                          field(data, "new_password", str, required=True, max_len=200))
    return _json({"ok": True})


# --- catalogue --------------------------------------------------------------------------------


@bp.get("/api/admin/catalog")
@admin_api
def get_catalog() -> Response:
    out = catalog.catalogue(get_db())
    targets = all_settings(get_db()).get("admin.wait_target_minutes") or {}
    out["wait_targets"] = targets
    return _json(out)


def _changed(result: Any, status: int = 200) -> Response:
    notify_change()
    return _json(result, status)


@bp.post("/api/admin/categories")
@admin_api
def create_category() -> Response:
    return _changed(catalog.save_category(get_db(), body(), create=True, actor=actor(), clock=_clock()), 201)


@bp.put("/api/admin/categories/<code>")
@admin_api
def update_category(code: str) -> Response:
    data = {**body(), "code": code}
    return _changed(catalog.save_category(get_db(), data, create=False, actor=actor(), clock=_clock()))


@bp.post("/api/admin/services")
@admin_api
def create_service() -> Response:
    return _changed(catalog.save_service(get_db(), body(), create=True, actor=actor(), clock=_clock()), 201)


@bp.put("/api/admin/services/<code>")
@admin_api
def update_service(code: str) -> Response:
    data = {**body(), "code": code}
    return _changed(catalog.save_service(get_db(), data, create=False, actor=actor(), clock=_clock()))


@bp.post("/api/admin/windows")
@admin_api
def create_window() -> Response:
    return _changed(catalog.save_window(get_db(), body(), create=True, actor=actor(), clock=_clock()), 201)


@bp.put("/api/admin/windows/<int:number>")
@admin_api
def update_window(number: int) -> Response:
    data = {**body(), "number": number}
    return _changed(catalog.save_window(get_db(), data, create=False, actor=actor(), clock=_clock()))


@bp.post("/api/admin/windows/<int:number>/state")
@admin_api
def window_state(number: int) -> Response:
    data = body()
    status = field(data, "status", str, required=True, max_len=16)
    reason = field(data, "reason", str, max_len=100)
    return _changed(catalog.set_window_state(get_db(), number, status, reason, actor=actor(), clock=_clock()))


@bp.post("/api/admin/hall/preview")
@admin_api
def hall_preview() -> Response:
    return _json(diff_hall(get_db(), body()))


@bp.post("/api/admin/hall/import")
@admin_api
def hall_import() -> Response:
    data = body()
    diff = diff_hall(get_db(), data)
    counts = import_hall(get_db(), data, actor=actor())
    return _changed({"written": counts, "changes": diff["changes"]})


# --- staff and tokens -------------------------------------------------------------------------


@bp.get("/api/admin/users")
@admin_api
def users() -> Response:
    return _json({"users": staff.list_users(get_db(), now=_now())})


@bp.post("/api/admin/users")
@admin_api
def create_user() -> Response:
    data = body()
    made = staff.create_staff(
        get_db(), username=field(data, "username", str, required=True, max_len=64),
        display_name=field(data, "display_name", str, required=True, max_len=64),
        staff_no=field(data, "staff_no", str, max_len=20) or "",
        role=field(data, "role", str, max_len=20) or "clerk",
        password=field(data, "password", str, max_len=200), actor=actor())
    return _json(made, 201)


@bp.put("/api/admin/users/<int:user_id>")
@admin_api
def update_user(user_id: int) -> Response:
    return _json(staff.update_user(get_db(), user_id, body(), actor=actor(), acting_user_id=principal().user_id))


@bp.post("/api/admin/users/<int:user_id>/reset-password")
@admin_api
def reset_password(user_id: int) -> Response:
    return _json(staff.reset_password(get_db(), user_id, actor=actor()))


@bp.post("/api/admin/users/<int:user_id>/unlock")
@admin_api
def unlock_user(user_id: int) -> Response:
    """Lift the account's login wait or lock (after too many failed logins)."""
    return _json(staff.unlock_user(get_db(), user_id, actor=actor(), now=_now()))


@bp.get("/api/admin/tokens")
@admin_api
def tokens() -> Response:
    return _json({"tokens": staff.list_device_tokens(get_db())})


@bp.post("/api/admin/tokens")
@admin_api
def create_token() -> Response:
    data = body()
    return _json(staff.create_device_token(get_db(), field(data, "role", str, required=True, max_len=20),
                                           field(data, "name", str, required=True, max_len=100),
                                           window=field(data, "window", int), actor=actor()), 201)


@bp.post("/api/admin/tokens/<int:token_id>/revoke")
@admin_api
def revoke_token(token_id: int) -> Response:
    return _json(staff.revoke_device_token(get_db(), token_id, actor=actor()))


# --- hours ------------------------------------------------------------------------------------


@bp.get("/api/hours")
@roles(*ALL_ROLES)
def get_hours() -> Response:
    """Opening hours, closed and 延时服务 days, open now, the next opening (every role)."""
    return _json(hours.hall_hours(get_db(), _now()))


@bp.put("/api/admin/hours")
@admin_api
def put_hours() -> Response:
    data = body()
    hours.set_hours(get_db(), opening_hours=data.get("opening_hours"), closed_days=data.get("closed_days"),
                    extended_days=data.get("extended_days"), actor=actor())
    return _json(hours.hall_hours(get_db(), _now()))


# --- appointments -----------------------------------------------------------------------------


@bp.get("/api/admin/appointments")
@admin_api
def list_appointments() -> Response:
    day = request.args.get("day") or clk.business_day(_now(), str(all_settings(get_db())["timezone"]))
    return _json({"day": day, "appointments": appointments.list_day(get_db(), day)})


@bp.post("/api/admin/appointments")
@admin_api
def book_appointment() -> Response:
    data = body()
    appt = appointments.book(
        get_db(), service=field(data, "service", str, required=True, max_len=32),
        day=field(data, "day", str, required=True, max_len=10),
        slot_start=field(data, "slot_start", str, required=True, max_len=5),
        slot_end=field(data, "slot_end", str, required=True, max_len=5),
        name=field(data, "name", str, max_len=40), id_number=field(data, "id_number", str, max_len=32),
        actor=actor(), clock=_clock())
    return _json(appt, 201)


@bp.post("/api/admin/appointments/<code>/cancel")
@admin_api
def cancel_appointment(code: str) -> Response:
    return _json(appointments.cancel(get_db(), code, actor=actor()))


# --- audit and undo ---------------------------------------------------------------------------


@bp.get("/api/admin/audit")
@admin_api
def audit_list() -> Response:
    limit = min(max(request.args.get("limit", 50, type=int) or 50, 1), 500)
    records = recent(get_db(), kind=request.args.get("kind") or None, limit=limit,
                     before_id=request.args.get("before", type=int))
    for r in records:
        r["can_undo"] = undo.can_undo(r)
    return _json({"records": records})


@bp.post("/api/admin/audit/<int:record_id>/undo")
@admin_api
def undo_record(record_id: int) -> Response:
    result = undo.undo(get_db(), record_id, actor=actor(), acting_user_id=principal().user_id)
    notify_change()
    return _json(result)


# --- statistics -------------------------------------------------------------------------------


def _range() -> tuple[str, str]:
    tz = str(all_settings(get_db())["timezone"])
    today = clk.business_day(_now(), tz)
    return stats.parse_range(request.args.get("from") or today, request.args.get("to") or today)


def _download(data: bytes, name: str, fmt: str) -> Response:
    mime = {"csv": "text/csv; charset=utf-8",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[fmt]
    resp = Response(data, mimetype=mime)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:120]  # user text (a figure name) stays out of the header
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _format() -> str:
    fmt = request.args.get("format", "csv")
    if fmt not in ("csv", "xlsx"):
        raise ValidationError("bad_field", field="format")
    return fmt


@bp.get("/api/stats/queue")
@admin_api
def stats_queue() -> Response:
    """``?from=&to=&group=hour|day|service|category|window|clerk`` → ``{"rows": [...], ...}``."""
    f, t = _range()
    return _json(stats.queue_stats(get_db(), f, t, request.args.get("group") or "day", now=_now()))


@bp.get("/api/stats/queue/export")
@admin_api
def stats_export() -> Response:
    f, t = _range()
    fmt = _format()
    out = stats.queue_stats(get_db(), f, t, request.args.get("group") or "day", now=_now())
    rows = [*out["rows"], out["total"]]
    tz = str(all_settings(get_db())["timezone"])
    name = f"queue-{out['group']}-{f}-{t}"
    if fmt == "csv":
        return _download(to_csv(stats.COLUMNS, rows, tz), name, "csv")
    title = f"{all_settings(get_db()).get('hall_name')} 排队统计 {f} 至 {t}"
    return _download(to_xlsx([(out["group"], stats.COLUMNS, rows)], tz, title=title), name, "xlsx")


@bp.get("/api/stats/queue/tickets")
@admin_api
def stats_tickets() -> Response:
    """The tickets behind one figure: ``&key=<row group>|total&figure=served`` (no personal data)."""
    f, t = _range()
    return _json(stats.tickets_behind(get_db(), f, t, request.args.get("group") or "day",
                                      request.args.get("key"), request.args.get("figure"), now=_now()))


@bp.get("/api/stats/queue/tickets/export")
@admin_api
def stats_tickets_export() -> Response:
    f, t = _range()
    fmt = _format()
    out = stats.tickets_behind(get_db(), f, t, request.args.get("group") or "day", request.args.get("key"),
                               request.args.get("figure"), now=_now(), limit=100_000)
    tz = str(all_settings(get_db())["timezone"])
    name = f"tickets-{out['figure']}-{f}-{t}"
    if fmt == "csv":
        return _download(to_csv(stats.TICKET_COLUMNS, out["tickets"], tz), name, "csv")
    return _download(to_xlsx([("tickets", stats.TICKET_COLUMNS, out["tickets"])], tz), name, "xlsx")


@bp.get("/api/stats/live")
@admin_api
def stats_live() -> Response:
    return _json(stats.live(get_db(), _now()))


@bp.get("/api/stats/providers")
@admin_api
def stats_providers() -> Response:
    f, t = _range()
    return _json({"from": f, "to": t, "providers": provider_figures(get_db(), f, t, now=_now())})


@bp.get("/api/stats/providers/<name>/behind")
@admin_api
def stats_provider_behind(name: str) -> Response:
    """The cases or evaluations behind one figure of a provider: ``&figure=<drill>&key=<row>``."""
    f, t = _range()
    figure = request.args.get("figure") or ""
    if not figure or len(figure) > 80:
        raise ValidationError("bad_stats_figure", figure=figure[:80])
    return _json(provider_behind(get_db(), name, f, t, figure, request.args.get("key") or None,
                                 now=_now()))


@bp.get("/api/stats/providers/<name>/export")
@admin_api
def stats_provider_export(name: str) -> Response:
    """One provider's table for the range (CSV), or its figures and table (XLSX, two sheets)."""
    f, t = _range()
    fmt = _format()
    part = provider_part(get_db(), name, f, t, now=_now())
    tz = str(all_settings(get_db())["timezone"])
    file = f"{name}-{f}-{t}"
    columns, rows = part.get("columns") or [], part.get("rows") or []
    if fmt == "csv":
        if columns:
            return _download(to_csv(columns, rows, tz), file, "csv")
        return _download(to_csv(FIGURE_COLUMNS, part["figure_rows"], tz), file, "csv")
    sheets: list[tuple[str, Any, Any]] = [("figures", FIGURE_COLUMNS, part["figure_rows"])]
    if columns:
        sheets.append(("rows", columns, rows))
    title = f"{all_settings(get_db()).get('hall_name')} {part['title']} {f} 至 {t}"
    return _download(to_xlsx(sheets, tz, title=title), file, "xlsx")


@bp.get("/api/stats/providers/<name>/behind/export")
@admin_api
def stats_provider_behind_export(name: str) -> Response:
    """The records behind one provider figure, as CSV or XLSX (the same query as ``behind``)."""
    f, t = _range()
    fmt = _format()
    figure = request.args.get("figure") or ""
    if not figure or len(figure) > 80:
        raise ValidationError("bad_stats_figure", figure=figure[:80])
    out = provider_behind(get_db(), name, f, t, figure, request.args.get("key") or None, now=_now())
    tz = str(all_settings(get_db())["timezone"])
    file = f"{name}-{figure}-{f}-{t}"
    if fmt == "csv":
        return _download(to_csv(out["columns"], out["rows"], tz), file, "csv")
    return _download(to_xlsx([(figure, out["columns"], out["rows"])], tz), file, "xlsx")


# --- reports ----------------------------------------------------------------------------------


@bp.get("/api/admin/reports")
@admin_api
def reports() -> Response:
    s = all_settings(get_db())
    return _json({"reports": report.list_reports(get_db()), "report_time": s.get("admin.report_time"),
                  "folder": str(report.reports_dir(get_db()))})


@bp.post("/api/admin/reports")
@admin_api
def make_report() -> Response:
    data = body()
    tz = str(all_settings(get_db())["timezone"])
    day = field(data, "day", str, max_len=10) or clk.business_day(_now(), tz)
    try:
        dt.date.fromisoformat(day)
    except ValueError as exc:
        raise ValidationError("bad_stats_range", what="日期格式应为 2026-11-25", what_en="day must be YYYY-MM-DD") \
            from exc
    return _json(report.write_report(get_db(), day, now=_now()), 201)


@bp.get("/api/admin/reports/<name>")
@admin_api
def report_download(name: str) -> Response:
    path = report.report_file(get_db(), name)
    return send_file(path, as_attachment=True, download_name=name, max_age=0)
