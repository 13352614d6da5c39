"""Undo a change from its audit record: apply the record's ``before`` through the same
engine function that made the change (so the same checks run), which audits the undo as a
new record (``undo_of`` = the record undone, where the kind has that field).

Only a record whose ``after`` is still the item's current state can be undone (otherwise
a later change would be silently lost: ``undo_stale``). A new service is undone by
retiring it (``active`` false: tickets refer to it, it is never deleted); a new category
or window is undone by removing it — only while nothing refers to it (a category without
services or tickets; a window never opened, called at or bound to a device token: 409
``category_in_use`` / ``window_in_use``), and undoing that removal adds it back; an import,
token and password records cannot be undone (``undo_not_supported``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from queue_server.admin import staff
from queue_server.errors import Conflict, NotFound, ValidationError
from queue_server.queue import catalog
from queue_server.queue.state import set_notice
from queue_server.settings import SECRET_SETTINGS, all_settings, set_setting

Undoer = Callable[[Database, int, dict[str, Any], str, "int | None"], dict[str, Any]]
UNDOERS: dict[str, Undoer] = {}


def undoable(kind: str) -> Callable[[Undoer], Undoer]:
    def deco(fn: Undoer) -> Undoer:
        UNDOERS[kind] = fn
        return fn

    return deco


def record(db: Database, record_id: int) -> dict[str, Any]:
    r = db.conn.execute("SELECT id, ts, kind, actor, data FROM audit WHERE id = ?", (record_id,)).fetchone()
    if r is None:
        raise NotFound("audit_record_not_found", record=record_id)
    return {"id": r[0], "ts": r[1], "kind": r[2], "actor": r[3], "data": json.loads(r[4])}


def can_undo(rec: dict[str, Any]) -> bool:
    """Whether the page offers an undo button for this record (the undo may still find it stale)."""
    kind, data = rec["kind"], rec["data"]
    if kind not in UNDOERS:
        return False
    if kind == "setting.changed":
        return data.get("setting") not in SECRET_SETTINGS
    return True


def undo(db: Database, record_id: int, *, actor: str, acting_user_id: int | None = None) -> dict[str, Any]:
    """Undo audit record ``record_id``; returns ``{"undone": id, "kind", "result"}``."""
    rec = record(db, record_id)
    if not can_undo(rec):
        raise ValidationError("undo_not_supported", kind=rec["kind"])
    result = UNDOERS[rec["kind"]](db, rec["id"], rec["data"], actor, acting_user_id)
    return {"undone": rec["id"], "kind": rec["kind"], "result": result}


def _same(current: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    if current is None:
        return False
    return all(current.get(k) == v for k, v in after.items())


@undoable("setting.changed")
def _setting(db: Database, rid: int, data: dict[str, Any], actor: str, _uid: int | None) -> dict[str, Any]:
    name = data["setting"]
    if all_settings(db, fresh=True).get(name) != data["after"]:
        raise Conflict("undo_stale")
    if name == "notice":
        set_notice(db, str(data["before"] or ""), actor=actor)
    else:
        set_setting(db, name, data["before"], actor=actor)
    return {"setting": name, "value": data["before"]}


@undoable("category.changed")
def _category(db: Database, rid: int, data: dict[str, Any], actor: str, _uid: int | None) -> dict[str, Any]:
    current = catalog.category_row(db.conn, data["category"])
    if data["after"] is None:  # a removal: add it back
        if current is not None:
            raise Conflict("undo_stale")
        return catalog.save_category(db, data["before"], create=True, actor=actor, undo_of=rid)
    if not _same(current, data["after"]):
        raise Conflict("undo_stale")
    if data["before"] is None:  # a new category: remove it, if nothing uses it yet
        return catalog.remove_category(db, data["category"], actor=actor, undo_of=rid)
    return catalog.save_category(db, data["before"], create=False, actor=actor, undo_of=rid)


@undoable("service.changed")
def _service(db: Database, rid: int, data: dict[str, Any], actor: str, _uid: int | None) -> dict[str, Any]:
    if not _same(catalog.service_row(db.conn, data["service"]), data["after"]):
        raise Conflict("undo_stale")
    if data["before"] is None:  # a new service: retire it
        return catalog.save_service(db, {"code": data["service"], "active": False}, create=False, actor=actor,
                                    undo_of=rid)
    return catalog.save_service(db, data["before"], create=False, actor=actor, undo_of=rid)


@undoable("window.changed")
def _window(db: Database, rid: int, data: dict[str, Any], actor: str, _uid: int | None) -> dict[str, Any]:
    number = int(data["window"])
    current = catalog.window_row(db.conn, number)
    if data["after"] is None:  # a removal: add it back (closed, as it was)
        if current is not None:
            raise Conflict("undo_stale")
        return catalog.save_window(db, data["before"], create=True, actor=actor, undo_of=rid)
    if not _same(current, data["after"]):
        raise Conflict("undo_stale")
    before = data["before"]
    if before is None:  # a new window: remove it, if it never served
        opened = db.conn.execute("SELECT 1 FROM admin_window_log WHERE window = ? LIMIT 1", (number,)).fetchone()
        if opened is not None:
            raise Conflict("window_in_use", window=number)
        return catalog.remove_window(db, number, actor=actor, undo_of=rid)
    if "status" in before:
        return catalog.set_window_state(db, number, before["status"], before.get("pause_reason"), actor=actor,
                                        undo_of=rid)
    return catalog.save_window(db, before, create=False, actor=actor, undo_of=rid)


@undoable("user.changed")
def _user(db: Database, rid: int, data: dict[str, Any], actor: str, uid: int | None) -> dict[str, Any]:
    try:
        current = staff.get_user(db, int(data["user_id"]))
    except NotFound:
        raise
    if not _same(current, data["after"]):
        raise Conflict("undo_stale")
    return staff.update_user(db, int(data["user_id"]), dict(data["before"]), actor=actor, acting_user_id=uid,
                             undo_of=rid)
