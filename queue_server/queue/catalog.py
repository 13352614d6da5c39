"""The hall's catalogue as the API lists it: categories, active services, windows."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.audit.chain import append
from queue_server.db import write_tx
from queue_server.errors import Conflict, NotFound, ValidationError
from queue_server.events import record_event
from queue_server.queue import event_types  # noqa: F401  (declares what this module records)
from queue_server.queue.common import load_windows
from queue_server.queue.hall_config import _CODE, _PREFIX, WINDOW_KINDS, _bad
from queue_server.queue.lifecycle import window_dict
from queue_server.queue.records import CategoryChanged, ServiceChanged, WindowChanged
from queue_server.settings import all_settings


def categories(db: Database) -> list[dict[str, Any]]:
    rows = db.conn.execute("SELECT code, name, name_en, prefix FROM categories ORDER BY sort, code")
    return [{"code": r[0], "name": r[1], "name_en": r[2], "prefix": r[3]} for r in rows]


def services(db: Database) -> list[dict[str, Any]]:
    """Active services in display order, with their category's name."""
    rows = db.conn.execute(
        "SELECT s.code, s.name, s.name_en, s.category, c.name, s.prefix, s.self_service, s.daily_limit_per_id "
        "FROM services s JOIN categories c ON c.code = s.category WHERE s.active = 1 ORDER BY c.sort, s.sort, s.code"
    )
    return [
        {"code": r[0], "name": r[1], "name_en": r[2], "category": r[3], "category_name": r[4], "prefix": r[5],
         "self_service": bool(r[6]), "daily_limit_per_id": r[7], "id_required": r[7] is not None}
        for r in rows
    ]


def ticket_prefixes(db: Database) -> list[str]:
    """Every letter a ticket number of this hall can start with: the categories' and the
    services' prefixes, the on-time appointment prefix (``appointment_prefix``, Y) and the
    green-channel prefix (``green_prefix``, V) — what a progress-lookup keypad must offer."""
    letters = {str(r[0]) for r in db.conn.execute("SELECT prefix FROM categories UNION SELECT prefix FROM services")}
    settings = all_settings(db)
    letters |= {str(settings.get("appointment_prefix") or ""), str(settings.get("green_prefix") or "")}
    return sorted(p for p in letters if p)


def windows(db: Database) -> list[dict[str, Any]]:
    return [window_dict(w) for w in load_windows(db.conn)]


# --- editing (the admin pages, the admin API and the CLI all call these) ------------------
#
# Each function validates its input with the same rules and plain-Chinese messages as
# ``hall import`` (queue_server/queue/hall_config.py), writes in one transaction, records a
# ``hall.configured`` event so screens reload the catalogue, and appends an audit record
# with the item before and after (queue_server/queue/records.py). ``undo_of`` marks a
# change that undoes an earlier record.

WINDOW_STATES = ("open", "paused", "closed")


def category_row(conn: sqlite3.Connection, code: str) -> dict[str, Any] | None:
    r = conn.execute("SELECT code, name, name_en, prefix, sort FROM categories WHERE code = ?", (code,)).fetchone()
    return None if r is None else {"code": r[0], "name": r[1], "name_en": r[2], "prefix": r[3], "sort": r[4]}


def service_row(conn: sqlite3.Connection, code: str) -> dict[str, Any] | None:
    r = conn.execute(
        "SELECT code, name, name_en, category, prefix, self_service, daily_limit_per_id, avg_minutes, active, sort "
        "FROM services WHERE code = ?", (code,)).fetchone()
    if r is None:
        return None
    return {"code": r[0], "name": r[1], "name_en": r[2], "category": r[3], "prefix": r[4],
            "self_service": bool(r[5]), "daily_limit_per_id": r[6], "avg_minutes": r[7], "active": bool(r[8]),
            "sort": r[9]}


def window_row(conn: sqlite3.Connection, number: int) -> dict[str, Any] | None:
    r = conn.execute("SELECT number, name, services, kind, status, pause_reason FROM windows WHERE number = ?",
                     (number,)).fetchone()
    if r is None:
        return None
    return {"number": r[0], "name": r[1], "services": json.loads(r[2]), "kind": r[3], "status": r[4],
            "pause_reason": r[5]}


def catalogue(db: Database) -> dict[str, Any]:
    """Every category, service (inactive ones too) and window, as the admin pages edit them."""
    conn = db.conn
    return {
        "categories": [category_row(conn, r[0]) for r in
                       conn.execute("SELECT code FROM categories ORDER BY sort, code").fetchall()],
        "services": [service_row(conn, r[0]) for r in conn.execute(
            "SELECT s.code FROM services s LEFT JOIN categories c ON c.code = s.category "
            "ORDER BY c.sort, s.sort, s.code").fetchall()],
        "windows": [window_row(conn, r[0]) for r in conn.execute("SELECT number FROM windows ORDER BY number")],
    }


def _str(data: dict[str, Any], key: str, label: str, label_en: str, *, required: bool, max_len: int = 100) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value.strip()) > max_len:
        raise _bad(f"{label}（必填，{max_len} 字以内）" if required else f"{label}（{max_len} 字以内）",
                   f"{label_en}: {'required, ' if required else ''}at most {max_len} characters")
    return value.strip()


def _configured(conn: sqlite3.Connection, *, categories: int = 0, services: int = 0, windows: int = 0,
                now: float | None = None) -> None:
    record_event(conn, "hall.configured", {"categories": categories, "services": services, "windows": windows},
                 ts=now)


def save_category(db: Database, data: dict[str, Any], *, create: bool, actor: str = "system",
                  undo_of: int | None = None, clock: clk.Clock | None = None) -> dict[str, Any]:
    """Add (``create``) or edit a category. ``data``: code, name, name_en, prefix, sort; an
    edit may leave out what it keeps. When the prefix changes, the category's services that
    used the old prefix take the new one."""
    if not isinstance(data, dict):
        raise _bad("应为 JSON 对象", "a JSON object is required")
    code = data.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise _bad("业务类别代码（字母、数字、- 或 _，32 位以内）", "category code: letters, digits, - or _")
    with write_tx(db) as conn:
        before = category_row(conn, code)
        if create and before is not None:
            raise Conflict("category_exists", category=code)
        if not create and before is None:
            raise NotFound("category_not_found", category=code)
        merged = {**(before or {"name_en": "", "sort": None}), **{k: v for k, v in data.items() if v is not None}}
        name = _str(merged, "name", "业务类别名称", "category name", required=True)
        name_en = _str(merged, "name_en", "英文名称", "English name", required=False)
        prefix = merged.get("prefix")
        if not isinstance(prefix, str) or not _PREFIX.match(prefix):
            raise _bad("号码前缀（一个大写字母）", "prefix: one capital letter")
        other = conn.execute("SELECT name FROM categories WHERE prefix = ? AND code != ?", (prefix, code)).fetchone()
        if other is not None:
            raise ValidationError("prefix_taken", prefix=prefix, other=other[0])
        sort = merged.get("sort")
        if sort is None:
            sort = int(conn.execute("SELECT COALESCE(MAX(sort), -1) + 1 FROM categories").fetchone()[0])
        if isinstance(sort, bool) or not isinstance(sort, int):
            raise _bad("排序（整数）", "sort: an integer")
        conn.execute(
            "INSERT INTO categories (code, name, name_en, prefix, sort) VALUES (?, ?, ?, ?, ?) ON CONFLICT (code) "
            "DO UPDATE SET name = excluded.name, name_en = excluded.name_en, prefix = excluded.prefix, "
            "sort = excluded.sort", (code, name, name_en, prefix, sort))
        moved = 0
        if before is not None and before["prefix"] != prefix:
            moved = conn.execute("UPDATE services SET prefix = ? WHERE category = ? AND prefix = ?",
                                 (prefix, code, before["prefix"])).rowcount
        after = category_row(conn, code) or {}
        _configured(conn, categories=1, services=moved, now=clk.now(clock))
        append(conn, CategoryChanged(category=code, before=before, after=after, undo_of=undo_of), actor=actor)
    return after


def save_service(db: Database, data: dict[str, Any], *, create: bool, actor: str = "system",
                 undo_of: int | None = None, clock: clk.Clock | None = None) -> dict[str, Any]:
    """Add (``create``) or edit a service (事项). ``data``: code, name, name_en, category,
    prefix (default: the category's), self_service, daily_limit_per_id (null = none),
    avg_minutes, active, sort; an edit may leave out what it keeps. A service is never
    deleted (tickets refer to it): set ``active`` false to retire it."""
    if not isinstance(data, dict):
        raise _bad("应为 JSON 对象", "a JSON object is required")
    code = data.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise _bad("事项代码（字母、数字、- 或 _，32 位以内）", "service code: letters, digits, - or _")
    with write_tx(db) as conn:
        before = service_row(conn, code)
        if create and before is not None:
            raise Conflict("service_exists", service=code)
        if not create and before is None:
            raise NotFound("service_not_found", service=code)
        base = before or {"name_en": "", "self_service": False, "daily_limit_per_id": None, "avg_minutes": 8,
                          "active": True, "sort": None, "prefix": None}
        merged = {**base, **{k: v for k, v in data.items() if k != "daily_limit_per_id" and v is not None}}
        if "daily_limit_per_id" in data:
            merged["daily_limit_per_id"] = data["daily_limit_per_id"]
        name = _str(merged, "name", f"事项 {code} 的名称", f"service {code}: name", required=True)
        name_en = _str(merged, "name_en", f"事项 {code} 的英文名称", f"service {code}: English name", required=False,
                       max_len=200)
        cat = category_row(conn, str(merged.get("category") or ""))
        if cat is None:
            raise _bad(f"事项 {code} 的业务类别", f"service {code}: unknown category {merged.get('category')!r}")
        prefix = data.get("prefix")
        if prefix is None:
            prefix = cat["prefix"]  # a new service takes its category's prefix
            if before is not None:
                old_cat = category_row(conn, before["category"]) or {}
                if before["category"] == cat["code"] or before["prefix"] != old_cat.get("prefix"):
                    prefix = before["prefix"]  # kept, unless it followed the category it left
        if not isinstance(prefix, str) or not _PREFIX.match(prefix):
            raise _bad(f"事项 {code} 的号码前缀（一个大写字母）", f"service {code}: prefix must be one capital letter")
        limit = merged.get("daily_limit_per_id")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 99):
            raise _bad(f"事项 {code} 的每人每日限取数（1–99，不限则留空）",
                       f"service {code}: daily_limit_per_id must be 1..99 or null")
        avg = merged.get("avg_minutes")
        if isinstance(avg, bool) or not isinstance(avg, int | float) or not 0 < avg <= 480:
            raise _bad(f"事项 {code} 的平均办理时长（1–480 分钟）", f"service {code}: avg_minutes must be in (0, 480]")
        for flag in ("self_service", "active"):
            if not isinstance(merged.get(flag), bool):
                raise _bad(f"事项 {code} 的 {flag}（是/否）", f"service {code}: {flag} must be true or false")
        sort = merged.get("sort")
        if sort is None:
            sort = int(conn.execute("SELECT COALESCE(MAX(sort), -1) + 1 FROM services WHERE category = ?",
                                    (cat["code"],)).fetchone()[0])
        if isinstance(sort, bool) or not isinstance(sort, int):
            raise _bad("排序（整数）", "sort: an integer")
        conn.execute(
            "INSERT INTO services (code, name, name_en, category, prefix, self_service, daily_limit_per_id, "
            "avg_minutes, active, sort) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET "
            "name = excluded.name, name_en = excluded.name_en, category = excluded.category, "
            "prefix = excluded.prefix, self_service = excluded.self_service, "
            "daily_limit_per_id = excluded.daily_limit_per_id, avg_minutes = excluded.avg_minutes, "
            "active = excluded.active, sort = excluded.sort",
            (code, name, name_en, cat["code"], prefix, int(merged["self_service"]), limit, float(avg),
             int(merged["active"]), sort))
        after = service_row(conn, code) or {}
        _configured(conn, services=1, now=clk.now(clock))
        append(conn, ServiceChanged(service=code, before=before, after=after, undo_of=undo_of), actor=actor)
    return after


def _window_config(w: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if w is None else {k: w[k] for k in ("number", "name", "services", "kind")}


def save_window(db: Database, data: dict[str, Any], *, create: bool, actor: str = "system",
                undo_of: int | None = None, clock: clk.Clock | None = None) -> dict[str, Any]:
    """Add (``create``) or reconfigure a window: ``number``, ``name``, ``services`` (service
    codes in priority order — call-next takes them in this order; ``["*"]`` = every
    service), ``kind`` (``normal``, ``universal`` or ``green`` — the green channel also
    takes every priority ticket). Its status (open/paused/closed) is
    :func:`set_window_state`'s."""
    if not isinstance(data, dict):
        raise _bad("应为 JSON 对象", "a JSON object is required")
    number = data.get("number")
    if isinstance(number, bool) or not isinstance(number, int) or not 0 < number < 10000:
        raise _bad("窗口号（1–9999）", "window number must be 1..9999")
    with write_tx(db) as conn:
        current = window_row(conn, number)
        before = _window_config(current)
        if create and before is not None:
            raise Conflict("window_exists", window=number)
        if not create and before is None:
            raise NotFound("window_not_found", window=number)
        merged = {**(before or {"kind": "normal", "services": []}),
                  **{k: v for k, v in data.items() if v is not None}}
        name = _str(merged, "name", f"{number} 号窗口的名称", f"window {number}: name", required=True)
        services = merged.get("services")
        if not isinstance(services, list) or not all(isinstance(x, str) for x in services):
            raise _bad(f"{number} 号窗口的事项（事项代码列表）", f"window {number}: services must be a list of codes")
        if len(set(services)) != len(services):
            raise _bad(f"{number} 号窗口的事项有重复", f"window {number}: a service is listed twice")
        known = {r[0] for r in conn.execute("SELECT code FROM services")}
        unknown = [x for x in services if x != "*" and x not in known]
        if unknown:
            raise _bad(f"{number} 号窗口的未知事项 {'、'.join(unknown)}", f"window {number}: unknown services {unknown}")
        if "*" in services and services != ["*"]:
            raise _bad(f"{number} 号窗口：综合窗口（*）不再另列事项", f"window {number}: '*' stands alone")
        kind = merged.get("kind")
        if kind not in WINDOW_KINDS:
            raise _bad(f"{number} 号窗口的类型（普通、综合、绿色通道）", f"window {number}: kind must be one of {WINDOW_KINDS}")
        if kind == "universal" and services != ["*"]:
            services = ["*"]
        conn.execute(
            "INSERT INTO windows (number, name, services, kind) VALUES (?, ?, ?, ?) ON CONFLICT (number) "
            "DO UPDATE SET name = excluded.name, services = excluded.services, kind = excluded.kind",
            (number, name, json.dumps(services, ensure_ascii=False), kind))
        after = _window_config(window_row(conn, number)) or {}
        _configured(conn, windows=1, now=clk.now(clock))
        append(conn, WindowChanged(window=number, before=before, after=after, undo_of=undo_of), actor=actor)
    return after


def remove_category(db: Database, code: str, *, actor: str = "system", undo_of: int | None = None,
                    clock: clk.Clock | None = None) -> dict[str, Any]:
    """Remove a category nothing refers to (undoing its creation): a category with services
    or tickets stays (409 ``category_in_use``; rename it instead). Audited, ``after`` None."""
    with write_tx(db) as conn:
        before = category_row(conn, code)
        if before is None:
            raise NotFound("category_not_found", category=code)
        used = conn.execute("SELECT (SELECT COUNT(*) FROM services WHERE category = ?) + "
                            "(SELECT COUNT(*) FROM tickets WHERE category = ?)", (code, code)).fetchone()[0]
        if used:
            raise Conflict("category_in_use", category=code)
        conn.execute("DELETE FROM categories WHERE code = ?", (code,))
        _configured(conn, categories=1, now=clk.now(clock))
        append(conn, CategoryChanged(category=code, before=before, after=None, undo_of=undo_of), actor=actor)
    return {"category": code, "removed": True}


def remove_window(db: Database, number: int, *, actor: str = "system", undo_of: int | None = None,
                  clock: clk.Clock | None = None) -> dict[str, Any]:
    """Remove a window that never served (undoing its creation): one that is open or paused,
    or that any ticket was called to, stays (409 ``window_in_use``; close it instead).
    Audited, ``after`` None."""
    with write_tx(db) as conn:
        current = window_row(conn, number)
        if current is None:
            raise NotFound("window_not_found", window=number)
        used = conn.execute("SELECT (SELECT COUNT(*) FROM tickets WHERE window = ? OR transfer_window = ?) + "
                            "(SELECT COUNT(*) FROM call_log WHERE window = ?) + "
                            "(SELECT COUNT(*) FROM tokens WHERE window = ? AND revoked_at IS NULL)",
                            (number, number, number, number)).fetchone()[0]
        if used or current["status"] != "closed":
            raise Conflict("window_in_use", window=number)
        conn.execute("DELETE FROM windows WHERE number = ?", (number,))
        _configured(conn, windows=1, now=clk.now(clock))
        append(conn, WindowChanged(window=number, before=_window_config(current), after=None, undo_of=undo_of),
               actor=actor)
    return {"window": number, "removed": True}


_STATE_EVENTS = {"open": "window.opened", "paused": "window.paused", "closed": "window.closed"}


def set_window_state(db: Database, number: int, status: str, reason: str | None = None, *, actor: str = "system",
                     undo_of: int | None = None, clock: clk.Clock | None = None) -> dict[str, Any]:
    """An admin opens, pauses (with a reason shown on the displays) or closes a window.

    The same transitions and events as the clerk's buttons (``window.opened`` /
    ``window.resumed`` / ``window.paused`` / ``window.closed``): reopening a paused window
    resumes it for the clerk signed in there; closing signs the clerk out and leaves the
    waiting tickets to the other windows. Audited as ``window.changed`` with the status
    before and after. Setting the status it already has changes nothing."""
    if status not in WINDOW_STATES:
        raise ValidationError("bad_window_state")
    if status == "paused":
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 100:
            raise ValidationError("reason_required")
        reason = reason.strip()
    else:
        reason = None
    now = clk.now(clock)
    with write_tx(db) as conn:
        current = window_row(conn, number)
        if current is None:
            raise NotFound("window_not_found", window=number)
        before = {"status": current["status"], "pause_reason": current["pause_reason"]}
        if before == {"status": status, "pause_reason": reason}:
            return current
        if status == "closed":
            conn.execute("UPDATE windows SET status = 'closed', pause_reason = NULL, clerk_user_id = NULL "
                         "WHERE number = ?", (number,))
            event = "window.closed"
        else:
            conn.execute("UPDATE windows SET status = ?, pause_reason = ? WHERE number = ?", (status, reason, number))
            event = "window.resumed" if status == "open" and current["status"] == "paused" else _STATE_EVENTS[status]
        record_event(conn, event, {"window": number, "status": status, "reason": reason}, ts=now)
        after = window_row(conn, number) or {}
        append(conn, WindowChanged(window=number, before=before,
                                   after={"status": after["status"], "pause_reason": after["pause_reason"]},
                                   undo_of=undo_of), actor=actor, ts=now if clock is not None else None)
    return after
