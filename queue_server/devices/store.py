"""Heartbeats and the state of every kiosk and display.

A heartbeat (``POST /api/devices/heartbeat``) says how a device and its components are::

    {"name": "kiosk-03", "kind": "kiosk", "version": "0.1.0", "uptime_s": 3600,
     "disk_free_mb": 5120, "components": [{"kind": "printer", "name": "tcp://10.0.0.31:9100",
                                             "state": "warning", "detail": "纸将用完 / paper near end"}]}

:func:`record_heartbeat` checks it (:func:`parse_heartbeat`; nothing is written for bad
input), keeps the latest state per device and per component, writes a history row for
every change and a ``device.state_changed`` event for every change of the device's state,
and hands out the device's queued actions (:mod:`.actions`), all in one transaction.

A device's state is its worst component's, in the order ok < unknown < warning < error
(no components: ok). ``stale`` is computed when read — no beat for ``devices.stale_after_s``
seconds — so it shows the moment the limit passes; the event saying so is recorded, with
the time the device went stale, by the server's sweep (:mod:`.sweeper`, every
``stale_after_s``/3 s, 1–30 s — also when no device beats at all) or by the next heartbeat
of any device in the hall (:func:`sweep_stale`), whichever comes first, or when the device
itself comes back.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from hardware.health import KINDS as COMPONENT_KINDS
from queue_server.audit.chain import append
from queue_server.db import write_tx
from queue_server.devices import actions as device_actions
from queue_server.devices.records import DeviceRemoved
from queue_server.errors import Forbidden, NotFound, ValidationError
from queue_server.events import declare, record_event
from queue_server.settings import get_setting

declare("device.state_changed", ("name", "kind", "state", "previous", "detail", "since"),
        "A kiosk's or display's state changed (ok, unknown, warning, error, or stale: no "
        "heartbeat for devices.stale_after_s); detail names the worst component.")

#: Component and device states, best first.
STATE_ORDER = ("ok", "unknown", "warning", "error")
#: What a device reads as: a state, or stale.
DEVICE_STATES = (*STATE_ORDER, "stale")
DEVICE_KINDS = ("kiosk", "display")
MAX_COMPONENTS = 20
MAX_NAME = 100
MAX_COMPONENT_NAME = 200
MAX_DETAIL = 500
MAX_VERSION = 40


@dataclass(frozen=True)
class Component:
    kind: str
    name: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class Beat:
    name: str
    kind: str
    version: str
    uptime_s: float | None
    disk_free_mb: float | None
    components: tuple[Component, ...]


def worst(states: Any) -> str:
    """The worst of ``states`` in :data:`STATE_ORDER` (none: ``ok``)."""
    return max(states, key=STATE_ORDER.index, default="ok")


# -- validation -----------------------------------------------------------------------------
def _text(data: dict[str, Any], key: str, max_len: int, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise ValidationError("missing_field", field=key)
        return ""
    if not isinstance(value, str):
        raise ValidationError("bad_field", field=key)
    if len(value) > max_len:
        raise ValidationError("field_too_long", field=key, max_len=max_len)
    return value


def _amount(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValidationError("bad_field", field=key)
    return float(value)


def _component(index: int, item: Any) -> Component:
    def bad(what: str, what_en: str) -> ValidationError:
        return ValidationError("bad_component", index=index, what=what, what_en=what_en)

    if not isinstance(item, dict):
        raise bad("应为对象", "must be an object")
    kind, name, state, detail = (item.get(k) for k in ("kind", "name", "state", "detail"))
    if kind not in COMPONENT_KINDS:
        raise bad(f"kind 应为 {'、'.join(COMPONENT_KINDS)} 之一", f"kind must be one of {', '.join(COMPONENT_KINDS)}")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_COMPONENT_NAME:
        raise bad(f"name 应为 1 到 {MAX_COMPONENT_NAME} 个字符", f"name must be 1 to {MAX_COMPONENT_NAME} characters")
    if state not in STATE_ORDER:
        raise bad("state 应为 ok、warning、error 或 unknown", "state must be ok, warning, error or unknown")
    if detail is None:
        detail = ""
    if not isinstance(detail, str) or len(detail) > MAX_DETAIL:
        raise bad(f"detail 应为不超过 {MAX_DETAIL} 字的文字", f"detail must be text of at most {MAX_DETAIL} characters")
    return Component(kind, name, state, detail)


def parse_heartbeat(data: dict[str, Any]) -> Beat:
    """Check a heartbeat body (ValidationError naming the first problem)."""
    name = _text(data, "name", MAX_NAME, required=True)
    if not name.strip():
        raise ValidationError("missing_field", field="name")
    kind = data.get("kind")
    if kind is None:
        raise ValidationError("missing_field", field="kind")
    if kind not in DEVICE_KINDS:
        raise ValidationError("bad_device_kind")
    version = _text(data, "version", MAX_VERSION)
    uptime = _amount(data, "uptime_s")
    disk = _amount(data, "disk_free_mb")
    raw = data.get("components")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ValidationError("bad_field", field="components")
    if len(raw) > MAX_COMPONENTS:
        raise ValidationError("bad_component", index=MAX_COMPONENTS + 1,
                              what=f"最多 {MAX_COMPONENTS} 个部件", what_en=f"at most {MAX_COMPONENTS} components")
    components = tuple(_component(i + 1, c) for i, c in enumerate(raw))
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(components):
        if (c.kind, c.name) in seen:
            raise ValidationError("bad_component", index=i + 1, what="与前面的部件重复",
                                  what_en="the same kind and name twice")
        seen.add((c.kind, c.name))
    return Beat(name, str(kind), version, uptime, disk, components)


def describe(c: Component) -> str:
    """``printer tcp://…: 缺纸 / out of paper`` — a component in words."""
    return f"{c.kind} {c.name}" + (f": {c.detail}" if c.detail else "")


def stale_detail(seconds: float) -> str:
    """``无心跳 95 秒 / no heartbeat for 95 s`` (minutes, hours or days when longer)."""
    s = int(seconds)
    for limit, unit, zh, en in ((120, 1, "秒", "s"), (7200, 60, "分钟", "min"), (172800, 3600, "小时", "h")):
        if s < limit:
            return f"无心跳 {s // unit} {zh} / no heartbeat for {s // unit} {en}"
    return f"无心跳 {s // 86400} 天 / no heartbeat for {s // 86400} d"


# -- settings ---------------------------------------------------------------------------
def stale_after(db: Database) -> float:
    return float(get_setting(db, "devices.stale_after_s") or 90)


def action_timeout(db: Database) -> float:
    return float(get_setting(db, "devices.action_timeout_s") or 300)


# -- writing ----------------------------------------------------------------------------
def _change(conn: sqlite3.Connection, row: Any, name: str, kind: str, state: str, previous: str | None,
            detail: str, ts: float) -> None:
    """A device-level change: history row and event."""
    conn.execute(
        "INSERT INTO device_history (device, ts, state_from, state_to, detail) VALUES (?, ?, ?, ?, ?)",
        (name, ts, previous, state, detail))
    record_event(conn, "device.state_changed", {"name": name, "kind": kind, "state": state,
                                                 "previous": previous, "detail": detail, "since": ts},
                 ts=ts)


def sweep_stale(conn: sqlite3.Connection, now: float, limit_s: float) -> list[str]:
    """Record ``stale`` for every device whose last beat is ``limit_s`` or more ago and
    that was not recorded stale yet (history + event at the moment it went stale)."""
    rows = conn.execute(
        "SELECT name, kind, state, last_seen FROM devices WHERE stale_recorded IS NULL AND last_seen <= ?",
        (now - limit_s,)).fetchall()
    for r in rows:
        at = float(r["last_seen"]) + limit_s
        conn.execute("UPDATE devices SET stale_recorded = ? WHERE name = ?", (at, r["name"]))
        _change(conn, r, r["name"], r["kind"], "stale", r["state"], stale_detail(limit_s), at)
    return [r["name"] for r in rows]


def record_heartbeat(db: Database, data: dict[str, Any], *, token_name: str, token_role: str,
                     now: float) -> dict[str, Any]:
    """Check and store one heartbeat; returns the answer (``actions`` to carry out).

    ``name`` must be the sending token's name (Forbidden ``device_name_mismatch``): one
    device cannot speak for another; a kiosk token reports a kiosk and a display token a
    display (``device_kind_mismatch``)."""
    beat = parse_heartbeat(data)
    if beat.name != token_name:
        raise Forbidden("device_name_mismatch", name=beat.name[:MAX_NAME])
    if token_role in DEVICE_KINDS and beat.kind != token_role:
        raise Forbidden("device_kind_mismatch", role=token_role, kind=beat.kind)
    limit_s = stale_after(db)
    timeout = action_timeout(db)
    state = worst(c.state for c in beat.components)
    worst_c = next((c for c in beat.components if c.state == state), None) if state != "ok" else None
    detail = describe(worst_c) if worst_c is not None else ""
    with write_tx(db) as conn:
        sweep_stale(conn, now, limit_s)
        row = conn.execute("SELECT * FROM devices WHERE name = ?", (beat.name,)).fetchone()
        previous: str | None = None
        if row is not None:
            previous = "stale" if row["stale_recorded"] is not None else row["state"]
        _store_components(conn, beat, now)
        errors = [c for c in beat.components if c.state == "error"]
        if row is None:
            conn.execute(
                "INSERT INTO devices (name, kind, version, uptime_s, disk_free_mb, state, state_since, detail, "
                "first_seen, last_seen, beats, last_error, last_error_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                (beat.name, beat.kind, beat.version, beat.uptime_s, beat.disk_free_mb, state, now, detail,
                 now, now, describe(errors[0]) if errors else None, now if errors else None))
        else:
            last_error, at, until = row["last_error"], row["last_error_at"], row["last_error_until"]
            ongoing = last_error is not None and until is None
            if errors and not ongoing:
                last_error, at, until = describe(errors[0]), now, None
            elif errors:
                last_error = describe(errors[0])
            elif ongoing:
                until = now
            conn.execute(
                "UPDATE devices SET kind = ?, version = ?, uptime_s = ?, disk_free_mb = ?, state = ?, "
                "state_since = CASE WHEN ? THEN ? ELSE state_since END, detail = ?, last_seen = ?, "
                "beats = beats + 1, stale_recorded = NULL, last_error = ?, last_error_at = ?, "
                "last_error_until = ? WHERE name = ?",
                (beat.kind, beat.version, beat.uptime_s, beat.disk_free_mb, state,
                 int(previous != state), now, detail, now, last_error, at, until, beat.name))
        if previous != state:
            _change(conn, row, beat.name, beat.kind, state, previous, detail, now)
        handed = device_actions.deliver(conn, beat.name, now, timeout)
    return {"ok": True, "name": beat.name, "state": state, "actions": handed,
            "interval_s": int(get_setting(db, "devices.heartbeat_s") or 30),
            "stale_after_s": int(limit_s), "server_time": now}


def _store_components(conn: sqlite3.Connection, beat: Beat, now: float) -> None:
    old = {(r["kind"], r["name"]): r for r in conn.execute(
        "SELECT kind, name, state, since FROM device_components WHERE device = ?", (beat.name,))}
    for i, c in enumerate(beat.components):
        before = old.pop((c.kind, c.name), None)
        same = before is not None and before["state"] == c.state
        conn.execute(
            "INSERT INTO device_components (device, kind, name, state, detail, checked_at, since, position) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, kind, name) DO UPDATE SET "
            "state = excluded.state, detail = excluded.detail, checked_at = excluded.checked_at, "
            "since = excluded.since, position = excluded.position",
            (beat.name, c.kind, c.name, c.state, c.detail, now, before["since"] if same else now, i))
        if not same:
            conn.execute(
                "INSERT INTO device_history (device, ts, component_kind, component_name, state_from, state_to, "
                "detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (beat.name, now, c.kind, c.name, before["state"] if before is not None else None, c.state,
                 c.detail))
    for (kind, name), _gone in old.items():
        conn.execute("DELETE FROM device_components WHERE device = ? AND kind = ? AND name = ?",
                     (beat.name, kind, name))
        conn.execute(
            "INSERT INTO device_history (device, ts, component_kind, component_name, state_from, state_to, "
            "detail) VALUES (?, ?, ?, ?, ?, 'removed', 'no longer reported / 不再上报')",
            (beat.name, now, kind, name, _gone["state"]))


def remove_device(db: Database, name: str, *, actor: str, now: float) -> None:
    """Forget a retired device (audited): its row, components and open actions; history stays."""
    with write_tx(db) as conn:
        row = conn.execute("SELECT kind FROM devices WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound("device_not_found", name=name)
        conn.execute("DELETE FROM devices WHERE name = ?", (name,))
        conn.execute("DELETE FROM device_components WHERE device = ?", (name,))
        conn.execute("UPDATE device_actions SET status = 'expired', finished_at = ?, result = 'device removed' "
                     "WHERE device = ? AND status IN ('queued', 'sent')", (now, name))
        append(conn, DeviceRemoved(device=name, device_kind=row["kind"]), actor=actor, ts=now)


# -- reading ----------------------------------------------------------------------------
def _conn(db: Database | sqlite3.Connection) -> sqlite3.Connection:
    return db.conn if isinstance(db, Database) else db


def _components(conn: sqlite3.Connection, names: list[str] | None = None) -> dict[str, list[sqlite3.Row]]:
    out: dict[str, list[sqlite3.Row]] = {}
    sql = "SELECT * FROM device_components"
    args: tuple[Any, ...] = ()
    if names is not None:
        sql += f" WHERE device IN ({','.join('?' * len(names))})"
        args = tuple(names)
    for r in conn.execute(sql + " ORDER BY device, position", args):
        out.setdefault(r["device"], []).append(r)
    return out


def _device(row: sqlite3.Row, comps: list[sqlite3.Row], now: float, limit_s: float, *,
            full: bool) -> dict[str, Any]:
    stale = now - float(row["last_seen"]) >= limit_s
    state = "stale" if stale else row["state"]
    out: dict[str, Any] = {
        "name": row["name"], "kind": row["kind"], "version": row["version"], "last_seen": row["last_seen"],
        "state": state,
        "components": [{"kind": c["kind"], "name": c["name"], "state": c["state"], "detail": c["detail"],
                        "checked_at": c["checked_at"]} for c in comps],
    }
    if not full:
        return out
    for c, r in zip(out["components"], comps, strict=True):
        c["since"] = r["since"]
    out.update({
        "since": float(row["last_seen"]) + limit_s if stale else row["state_since"],
        "detail": stale_detail(now - float(row["last_seen"])) if stale else row["detail"],
        "reported_state": row["state"],
        "uptime_s": row["uptime_s"], "disk_free_mb": row["disk_free_mb"],
        "first_seen": row["first_seen"], "beats": row["beats"],
        "last_error": row["last_error"], "last_error_at": row["last_error_at"],
        "last_error_until": row["last_error_until"],
    })
    return out


_ORDER = "ORDER BY CASE kind WHEN 'kiosk' THEN 0 ELSE 1 END, name"


def list_devices(db: Database | sqlite3.Connection, *, now: float, stale_after_s: float,
                 full: bool = False) -> list[dict[str, Any]]:
    """Every device (kiosks first, then displays, by name). ``full=False`` is exactly the
    API's shape: name, kind, version, last_seen, state (or ``stale``), components."""
    conn = _conn(db)
    rows = conn.execute(f"SELECT * FROM devices {_ORDER}").fetchall()
    comps = _components(conn)
    return [_device(r, comps.get(r["name"], []), now, stale_after_s, full=full) for r in rows]


def get_device(db: Database | sqlite3.Connection, name: str, *, now: float, stale_after_s: float,
               action_timeout_s: float, history_limit: int = 100) -> dict[str, Any]:
    """One device with everything the technician's page shows: components with since when,
    the last error, the history of changes (newest first) and the recent actions."""
    conn = _conn(db)
    row = conn.execute("SELECT * FROM devices WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound("device_not_found", name=name)
    out = _device(row, _components(conn, [name]).get(name, []), now, stale_after_s, full=True)
    out["history"] = history(conn, name, limit=history_limit)
    out["actions"] = device_actions.list_actions(conn, name, now=now, timeout=action_timeout_s)
    return out


def history(db: Database | sqlite3.Connection, name: str, *, limit: int = 100) -> list[dict[str, Any]]:
    rows = _conn(db).execute(
        "SELECT ts, component_kind, component_name, state_from, state_to, detail FROM device_history "
        "WHERE device = ? ORDER BY id DESC LIMIT ?", (name, limit)).fetchall()
    return [{"ts": r["ts"], "component": None if r["component_kind"] is None else
             {"kind": r["component_kind"], "name": r["component_name"]},
             "from": r["state_from"], "to": r["state_to"], "detail": r["detail"]} for r in rows]
