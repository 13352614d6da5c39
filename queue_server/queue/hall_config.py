"""A hall's catalogue as data: categories, services and windows, exported to and imported
from JSON (``queue-server hall export`` / ``hall import``).

::

    {"categories": [{"code": "qiye", "name": "企业开办", "name_en": "…", "prefix": "A"}],
     "services":   [{"code": "QY01", "name": "企业设立登记", "name_en": "…", "category": "qiye",
                     "self_service": false, "daily_limit_per_id": null, "avg_minutes": 20}],
     "windows":    [{"number": 1, "name": "1号窗口 综合窗口", "services": ["*"], "kind": "universal"}]}

Import upserts by code (categories, services) and number (windows) in one transaction;
it never deletes, so tickets keep their service. A service left out of the file keeps
existing; set ``"active": false`` to retire it. Window status and clerk are left alone.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from sqlite_utils import Database

from queue_server.audit.chain import append
from queue_server.audit.records import HallImported
from queue_server.db import write_tx
from queue_server.errors import ValidationError
from queue_server.events import record_event
from queue_server.queue import event_types  # noqa: F401  (declares what this module records)

_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_PREFIX = re.compile(r"^[A-Z]$")
WINDOW_KINDS = ("normal", "universal", "green")


def export_hall(db: Database | sqlite3.Connection) -> dict[str, Any]:
    """The catalogue as ``hall export`` writes it."""
    conn = db.conn if isinstance(db, Database) else db
    return {
        "categories": [
            {"code": r[0], "name": r[1], "name_en": r[2], "prefix": r[3]}
            for r in conn.execute("SELECT code, name, name_en, prefix FROM categories ORDER BY sort, code")
        ],
        "services": [
            {"code": r[0], "name": r[1], "name_en": r[2], "category": r[3], "prefix": r[4],
             "self_service": bool(r[5]), "daily_limit_per_id": r[6], "avg_minutes": r[7], "active": bool(r[8])}
            for r in conn.execute(
                "SELECT code, name, name_en, category, prefix, self_service, daily_limit_per_id, avg_minutes, "
                "active FROM services ORDER BY sort, code"
            )
        ],
        "windows": [
            {"number": r[0], "name": r[1], "services": json.loads(r[2]), "kind": r[3]}
            for r in conn.execute("SELECT number, name, services, kind FROM windows ORDER BY number")
        ],
    }


def _bad(what: str, en: str) -> ValidationError:
    return ValidationError("bad_hall_config", what=what, what_en=en)


def _text(item: dict[str, Any], key: str, where: str, *, required: bool = True, default: str = "") -> str:
    value = item.get(key, None if required else default)
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > 100:
        raise _bad(f"{where} 的 {key}", f"{where}: {key} must be a string of at most 100 characters")
    return value.strip()


def import_hall(db: Database, data: Any, *, actor: str = "system") -> dict[str, int]:
    """Validate and upsert the catalogue; returns how many of each kind were written.
    The change is audited with the catalogue before and after."""
    cats, svcs, wins, known_cats = validate_hall(db.conn, data)
    return _write_hall(db, cats, svcs, wins, known_cats, actor)


def validate_hall(conn: sqlite3.Connection, data: Any) -> tuple[list[Any], list[Any], list[Any], dict[str, str]]:
    """Check a catalogue file against the rules and the hall; raises ``bad_hall_config``."""
    if not isinstance(data, dict):
        raise _bad("应为 JSON 对象", "the file must hold a JSON object")
    cats = data.get("categories", [])
    svcs = data.get("services", [])
    wins = data.get("windows", [])
    if not all(isinstance(x, list) for x in (cats, svcs, wins)):
        raise _bad("categories/services/windows 应为列表", "categories, services and windows must be lists")
    known_cats = {r[0]: r[1] for r in conn.execute("SELECT code, prefix FROM categories")}
    for i, c in enumerate(cats):
        if not isinstance(c, dict):
            raise _bad(f"第 {i + 1} 个业务类别", f"category #{i + 1} must be an object")
        code = _text(c, "code", f"category #{i + 1}")
        if not _CODE.match(code):
            raise _bad(f"业务类别代码 {code}", f"category code {code!r}")
        prefix = _text(c, "prefix", f"category {code}")
        if not _PREFIX.match(prefix):
            raise _bad(f"业务类别 {code} 的号码前缀", f"category {code}: prefix must be one capital letter")
        known_cats[code] = prefix
    prefixes = list(known_cats.values())
    if len(prefixes) != len(set(prefixes)):
        raise _bad("号码前缀重复", "two categories share a prefix")
    known_svcs = {r[0] for r in conn.execute("SELECT code FROM services")}
    for i, s in enumerate(svcs):
        if not isinstance(s, dict):
            raise _bad(f"第 {i + 1} 个事项", f"service #{i + 1} must be an object")
        code = _text(s, "code", f"service #{i + 1}")
        if not _CODE.match(code):
            raise _bad(f"事项代码 {code}", f"service code {code!r}")
        _text(s, "name", f"service {code}")
        if s.get("category") not in known_cats:
            raise _bad(f"事项 {code} 的业务类别", f"service {code}: unknown category {s.get('category')!r}")
        limit = s.get("daily_limit_per_id")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise _bad(f"事项 {code} 的每日限取数", f"service {code}: daily_limit_per_id must be ≥ 1 or null")
        avg = s.get("avg_minutes", 8)
        if isinstance(avg, bool) or not isinstance(avg, int | float) or not 0 < avg <= 480:
            raise _bad(f"事项 {code} 的平均办理时长", f"service {code}: avg_minutes must be in (0, 480]")
        known_svcs.add(code)
    for i, w in enumerate(wins):
        if not isinstance(w, dict):
            raise _bad(f"第 {i + 1} 个窗口", f"window #{i + 1} must be an object")
        number = w.get("number")
        if isinstance(number, bool) or not isinstance(number, int) or not 0 < number < 10000:
            raise _bad(f"第 {i + 1} 个窗口的窗口号", f"window #{i + 1}: number must be 1..9999")
        _text(w, "name", f"window {number}")
        services = w.get("services")
        if not isinstance(services, list) or not all(isinstance(x, str) for x in services):
            raise _bad(f"{number} 号窗口的事项", f"window {number}: services must be a list of codes")
        unknown = [x for x in services if x != "*" and x not in known_svcs]
        if unknown:
            raise _bad(f"{number} 号窗口的未知事项 {unknown}", f"window {number}: unknown services {unknown}")
        if w.get("kind", "normal") not in WINDOW_KINDS:
            raise _bad(f"{number} 号窗口的类型", f"window {number}: kind must be one of {WINDOW_KINDS}")
    return cats, svcs, wins, known_cats


def _write_hall(db: Database, cats: list[Any], svcs: list[Any], wins: list[Any], known_cats: dict[str, str],
                actor: str) -> dict[str, int]:
    with write_tx(db) as c:
        before = export_hall(c)
        for i, cat in enumerate(cats):
            c.execute(
                "INSERT INTO categories (code, name, name_en, prefix, sort) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en, "
                "prefix = excluded.prefix, sort = excluded.sort",
                (cat["code"], _text(cat, "name", cat["code"]), _text(cat, "name_en", cat["code"], required=False),
                 cat["prefix"], i),
            )
        for i, s in enumerate(svcs):
            c.execute(
                "INSERT INTO services (code, name, name_en, category, prefix, self_service, daily_limit_per_id, "
                "avg_minutes, active, sort) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET "
                "name = excluded.name, name_en = excluded.name_en, category = excluded.category, "
                "prefix = excluded.prefix, self_service = excluded.self_service, "
                "daily_limit_per_id = excluded.daily_limit_per_id, avg_minutes = excluded.avg_minutes, "
                "active = excluded.active, sort = excluded.sort",
                (s["code"], s["name"].strip(), str(s.get("name_en") or ""), s["category"],
                 str(s.get("prefix") or known_cats[s["category"]]), int(bool(s.get("self_service"))),
                 s.get("daily_limit_per_id"), float(s.get("avg_minutes", 8)), int(s.get("active", True) is not False),
                 i),
            )
        for w in wins:
            c.execute(
                "INSERT INTO windows (number, name, services, kind) VALUES (?, ?, ?, ?) ON CONFLICT (number) "
                "DO UPDATE SET name = excluded.name, services = excluded.services, kind = excluded.kind",
                (w["number"], w["name"].strip(), json.dumps(w["services"]), w.get("kind", "normal")),
            )
        record_event(c, "hall.configured", {"categories": len(cats), "services": len(svcs), "windows": len(wins)})
        append(c, HallImported(before=before, after=export_hall(c)), actor=actor)
    return {"categories": len(cats), "services": len(svcs), "windows": len(wins)}


def _planned(data: dict[str, Any], known_cats: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """What ``import_hall`` would write for each item of ``data`` (the fields it sets)."""
    return {
        "categories": [{"code": c["code"], "name": c["name"].strip(), "name_en": str(c.get("name_en") or "").strip(),
                        "prefix": c["prefix"]} for c in data.get("categories", [])],
        "services": [{"code": s["code"], "name": s["name"].strip(), "name_en": str(s.get("name_en") or ""),
                      "category": s["category"], "prefix": str(s.get("prefix") or known_cats[s["category"]]),
                      "self_service": bool(s.get("self_service")), "daily_limit_per_id": s.get("daily_limit_per_id"),
                      "avg_minutes": float(s.get("avg_minutes", 8)), "active": s.get("active", True) is not False}
                     for s in data.get("services", [])],
        "windows": [{"number": w["number"], "name": w["name"].strip(), "services": w["services"],
                     "kind": w.get("kind", "normal")} for w in data.get("windows", [])],
    }


def diff_hall(db: Database, data: Any) -> dict[str, Any]:
    """Preview of ``import_hall(db, data)`` without writing: validates exactly as the import
    does, then lists per kind what is ``new``, ``changed`` (with ``{field: [now, after]}``)
    or ``same``, and what the hall has that the file leaves out (``kept``: import never
    deletes). ``changes`` counts the items the import would write differently."""
    conn = db.conn
    _cats, _svcs, _wins, known_cats = validate_hall(conn, data)
    current = export_hall(conn)
    keys = {"categories": "code", "services": "code", "windows": "number"}
    out: dict[str, Any] = {"changes": 0}
    for kind, planned in _planned(data, known_cats).items():
        key = keys[kind]
        now = {item[key]: item for item in current[kind]}
        items = []
        for item in planned:
            old = now.get(item[key])
            if old is None:
                items.append({"key": item[key], "status": "new", "after": item})
                out["changes"] += 1
                continue
            changed = {f: [old.get(f), v] for f, v in item.items()
                       if f != key and old.get(f) != v and not (isinstance(v, float) and old.get(f) == v)}
            status = "changed" if changed else "same"
            out["changes"] += bool(changed)
            items.append({"key": item[key], "status": status, "changes": changed})
        named = {item[key] for item in planned}
        items += [{"key": k, "status": "kept"} for k in now if k not in named]
        out[kind] = items
    return out
