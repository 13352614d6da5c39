"""Device health over HTTP: heartbeats, the device list, test actions and the ``/tech`` page.
Routes only translate; the rules live in :mod:`.store`, :mod:`.actions` and :mod:`.summary`.

* ``POST /api/devices/heartbeat`` (kiosk and display tokens) — a device's heartbeat → 200
  ``{"ok", "name", "state", "actions": [{"id", "action", "created_at"}], "interval_s",
  "stale_after_s", "server_time"}``; 403 ``device_name_mismatch`` when ``name`` is not the
  token's name.
* ``GET /api/devices`` (technician, admin) — ``[{"name", "kind", "version", "last_seen",
  "state", "components": [{"kind", "name", "state", "detail", "checked_at"}]}]``.
* ``GET /api/devices/overview`` (technician) — what ``/tech`` shows: every device with since
  when, last error, uptime and disk, the print queue's printers, the counts.
* ``GET /api/devices/summary?window=N`` (clerk, technician, supervisor, admin) — the worst
  state, counts, the devices and printers that are not ok; with ``window`` that window's printers.
* ``GET /api/devices/<name>`` (technician) — one device with its history and actions;
  ``DELETE`` forgets a retired one.
* ``POST /api/devices/<name>/actions`` (technician) ``{"action"}`` → 202 with the action
  (``id``, ``status`` ``queued``); ``GET /api/devices/<name>/actions[/<id>]`` reads them back.
* ``POST /api/devices/<name>/actions/<id>/result`` (the device's own token) ``{"ok", "detail"}``.
* ``GET /tech`` — the technicians' page (login as technician or admin).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from queue_server import clock as clk
from queue_server.api.common import actor, body, field, principal, roles
from queue_server.app import get_db, notify_change
from queue_server.devices import actions, store
from queue_server.devices.summary import count_states, hall_printers, summary
from queue_server.errors import Forbidden, ValidationError
from queue_server.settings import get_setting

bp = Blueprint("devices", __name__, template_folder="templates", static_folder="static",
               static_url_path="/devices-static")


def _json(data: Any, status: int = 200) -> Response:
    resp = jsonify(data)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _now() -> float:
    return clk.now(current_app.config.get("CLOCK"))


@bp.post("/api/devices/heartbeat")
@roles("kiosk", "display")
def heartbeat() -> Response:
    """A kiosk's or display's heartbeat; the answer carries its queued actions (kiosk, display)."""
    p = principal()
    answer = store.record_heartbeat(get_db(), body(), token_name=p.name, token_role=p.role, now=_now())
    notify_change()
    return _json(answer)


@bp.get("/api/devices")
@roles("technician")
def devices() -> Response:
    """Every kiosk and display with its state (``stale`` after devices.stale_after_s) and
    components (technician, admin)."""
    db = get_db()
    return _json(store.list_devices(db, now=_now(), stale_after_s=store.stale_after(db)))


@bp.get("/api/devices/overview")
@roles("technician")
def overview() -> Response:
    """Everything the /tech page shows: devices in full, the print queue's printers, counts (technician, admin)."""
    db = get_db()
    now = _now()
    limit_s = store.stale_after(db)
    timeout = store.action_timeout(db)
    devices = store.list_devices(db, now=now, stale_after_s=limit_s, full=True)
    recent = actions.recent_actions(db, now=now, timeout=timeout)
    for d in devices:
        d["actions"] = recent.get(d["name"], [])
        d["can"] = list(actions.ACTIONS.get(d["kind"], ()))
    printers = hall_printers(db)
    return _json({"now": now, "stale_after_s": limit_s, "devices": devices, "printers": printers,
                  "counts": count_states(devices, printers)})


@bp.get("/api/devices/summary")
@roles("clerk", "technician", "supervisor")
def device_summary() -> Response:
    """Worst state, counts and problems of the hall's devices and printers; ?window=N adds that
    window's printers (clerk, technician, supervisor, admin)."""
    db = get_db()
    window = request.args.get("window")
    number = None
    if window not in (None, ""):
        if not str(window).isdigit():
            raise ValidationError("bad_field", field="window")
        number = int(str(window))
    return _json(summary(db, now=_now(), stale_after_s=store.stale_after(db),
                         window_printers=get_setting(db, "devices.window_printers"), window=number))


@bp.get("/api/devices/<name>")
@roles("technician")
def device(name: str) -> Response:
    """One device with its components, last error, history and recent actions (technician, admin)."""
    db = get_db()
    return _json(store.get_device(db, name, now=_now(), stale_after_s=store.stale_after(db),
                                  action_timeout_s=store.action_timeout(db)))


@bp.delete("/api/devices/<name>")
@roles("technician")
def remove(name: str) -> Response:
    """Forget a retired device (its history stays; audited) (technician, admin)."""
    store.remove_device(get_db(), name, actor=actor(), now=_now())
    return _json({"ok": True, "name": name})


@bp.post("/api/devices/<name>/actions")
@roles("technician")
def queue_action(name: str) -> Response:
    """Queue a test action for the device's next heartbeat: {"action": "test_print" |
    "probe_idcard" | "reload_config"} → 202 with the action id (technician, admin)."""
    db = get_db()
    action = field(body(), "action", str, required=True, max_len=40)
    out = actions.queue_action(db, name, action, actor=actor(), now=_now(), timeout=store.action_timeout(db))
    return _json(out, 202)


@bp.get("/api/devices/<name>/actions")
@roles("technician")
def action_list(name: str) -> Response:
    """The device's recent actions, newest first (technician, admin)."""
    db = get_db()
    limit = min(max(request.args.get("limit", 20, type=int) or 20, 1), 200)
    store.get_device(db, name, now=_now(), stale_after_s=store.stale_after(db),
                     action_timeout_s=store.action_timeout(db), history_limit=0)  # 404 if unknown
    return _json({"actions": actions.list_actions(db, name, now=_now(), timeout=store.action_timeout(db),
                                                  limit=limit)})


@bp.get("/api/devices/<name>/actions/<int:action_id>")
@roles("technician")
def action(name: str, action_id: int) -> Response:
    """One action: queued, sent, done, failed or expired, with the device's result (technician, admin)."""
    db = get_db()
    return _json(actions.get_action(db, name, action_id, now=_now(), timeout=store.action_timeout(db)))


@bp.post("/api/devices/<name>/actions/<int:action_id>/result")
@roles("kiosk", "display")
def action_result(name: str, action_id: int) -> Response:
    """The device's result of an action it was sent: {"ok": bool, "detail"} (the device's own token)."""
    p = principal()
    if name != p.name:
        raise Forbidden("device_name_mismatch", name=name[:store.MAX_NAME])
    data = body()
    ok = field(data, "ok", bool, required=True)
    detail = field(data, "detail", str) or ""
    db = get_db()
    return _json(actions.post_result(db, name, action_id, ok, detail, now=_now(),
                                     timeout=store.action_timeout(db)))


@bp.get("/tech")
def tech_page() -> Response:
    """The technicians' page: every kiosk, display and printer, filters, history, test actions."""
    resp = Response(render_template("tech.html"), mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp
