"""Test actions a technician queues for a device, carried out at its next heartbeat.

``queued`` (``POST /api/devices/<name>/actions``) → ``sent`` (handed to the device in the
answer to its heartbeat) → ``done`` or ``failed`` (the device posts its result). An action
that waits longer than the ``devices.action_timeout_s`` setting — queued for a device that
does not beat, or sent to one that never answered — reads as ``expired``, and a queued one
is no longer handed out (a test page hours later helps nobody).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlite_utils import Database

from queue_server.audit.chain import append
from queue_server.db import write_tx
from queue_server.devices.records import DeviceActionRequested
from queue_server.errors import Conflict, NotFound, ValidationError

#: What each kind of device can do.
ACTIONS: dict[str, tuple[str, ...]] = {
    "kiosk": ("test_print", "probe_idcard", "reload_config"),
    "display": ("reload_config",),
}

#: Names of the actions for people (the /tech page has its own copy for its buttons).
ACTION_LABELS = {
    "test_print": ("打印测试页", "print a test page"),
    "probe_idcard": ("检测读卡器", "probe the card reader"),
    "reload_config": ("重新加载配置", "reload the configuration"),
}

MAX_RESULT = 500


def _conn(db: Database | sqlite3.Connection) -> sqlite3.Connection:
    return db.conn if isinstance(db, Database) else db


def action_dict(row: sqlite3.Row, now: float, timeout: float) -> dict[str, Any]:
    """One action as the API shows it; ``status`` ``expired`` is computed here."""
    status = row["status"]
    waited_from = row["sent_at"] if status == "sent" else row["created_at"]
    if status in ("queued", "sent") and now - float(waited_from) >= timeout:
        status = "expired"
    return {
        "id": row["id"], "device": row["device"], "action": row["action"], "status": status,
        "ok": None if row["ok"] is None else bool(row["ok"]), "result": row["result"],
        "requested_by": row["requested_by"], "created_at": row["created_at"],
        "sent_at": row["sent_at"], "finished_at": row["finished_at"],
    }


def queue_action(db: Database, device: str, action: str, *, actor: str, now: float,
                 timeout: float) -> dict[str, Any]:
    """Queue ``action`` for ``device`` (audited); NotFound for an unknown device,
    ValidationError for an action its kind cannot do."""
    if not isinstance(action, str) or not action:
        raise ValidationError("missing_field", field="action")
    with write_tx(db) as conn:
        row = conn.execute("SELECT kind FROM devices WHERE name = ?", (device,)).fetchone()
        if row is None:
            raise NotFound("device_not_found", name=device)
        allowed = ACTIONS.get(row["kind"], ())
        if action not in allowed:
            raise ValidationError("bad_device_action", kind=row["kind"], action=action[:40],
                                  allowed=", ".join(allowed))
        cur = conn.execute(
            "INSERT INTO device_actions (device, action, requested_by, created_at) VALUES (?, ?, ?, ?)",
            (device, action, actor, now))
        action_id = int(cur.lastrowid or 0)
        append(conn, DeviceActionRequested(device=device, action=action, action_id=action_id),
               actor=actor, ts=now)
        out = conn.execute("SELECT * FROM device_actions WHERE id = ?", (action_id,)).fetchone()
    return action_dict(out, now, timeout)


def deliver(conn: sqlite3.Connection, device: str, now: float, timeout: float) -> list[dict[str, Any]]:
    """Inside the heartbeat's transaction: the device's queued actions, marked ``sent``
    (oldest first); queued ones older than ``timeout`` are expired instead."""
    conn.execute(
        "UPDATE device_actions SET status = 'expired', finished_at = ?, "
        "result = 'not carried out in time / 未及时执行' "
        "WHERE device = ? AND status = 'queued' AND created_at <= ?", (now, device, now - timeout))
    rows = conn.execute(
        "SELECT id, action, created_at FROM device_actions WHERE device = ? AND status = 'queued' "
        "ORDER BY id", (device,)).fetchall()
    if rows:
        conn.execute("UPDATE device_actions SET status = 'sent', sent_at = ? "
                     "WHERE device = ? AND status = 'queued'", (now, device))
    return [{"id": r["id"], "action": r["action"], "created_at": r["created_at"]} for r in rows]


def post_result(db: Database, device: str, action_id: int, ok: bool, detail: str, *,
                now: float, timeout: float) -> dict[str, Any]:
    """The device's result of one of its actions: ``done`` (ok) or ``failed``. An action
    that already has a result (or expired) is a Conflict."""
    if len(detail) > MAX_RESULT:
        detail = detail[:MAX_RESULT - 1] + "…"
    with write_tx(db) as conn:
        row = conn.execute("SELECT * FROM device_actions WHERE id = ? AND device = ?",
                           (action_id, device)).fetchone()
        if row is None:
            raise NotFound("device_action_not_found", name=device, action_id=action_id)
        if row["status"] not in ("queued", "sent"):
            raise Conflict("device_action_closed", action_id=action_id)
        conn.execute(
            "UPDATE device_actions SET status = ?, ok = ?, result = ?, finished_at = ?, "
            "sent_at = COALESCE(sent_at, ?) WHERE id = ?",
            ("done" if ok else "failed", int(ok), detail, now, now, action_id))
        out = conn.execute("SELECT * FROM device_actions WHERE id = ?", (action_id,)).fetchone()
    return action_dict(out, now, timeout)


def get_action(db: Database | sqlite3.Connection, device: str, action_id: int, *, now: float,
               timeout: float) -> dict[str, Any]:
    row = _conn(db).execute("SELECT * FROM device_actions WHERE id = ? AND device = ?",
                            (action_id, device)).fetchone()
    if row is None:
        raise NotFound("device_action_not_found", name=device, action_id=action_id)
    return action_dict(row, now, timeout)


def list_actions(db: Database | sqlite3.Connection, device: str, *, now: float, timeout: float,
                 limit: int = 20) -> list[dict[str, Any]]:
    """The device's newest actions first."""
    rows = _conn(db).execute("SELECT * FROM device_actions WHERE device = ? ORDER BY id DESC LIMIT ?",
                             (device, limit)).fetchall()
    return [action_dict(r, now, timeout) for r in rows]


def recent_actions(db: Database | sqlite3.Connection, *, now: float, timeout: float,
                   per_device: int = 3) -> dict[str, list[dict[str, Any]]]:
    """Every device's ``per_device`` newest actions, in one query (the /tech overview)."""
    rows = _conn(db).execute(
        "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY device ORDER BY id DESC) AS n "
        "FROM device_actions) WHERE n <= ? ORDER BY device, id DESC",
        (per_device,)).fetchall()
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["device"], []).append(action_dict(r, now, timeout))
    return out
