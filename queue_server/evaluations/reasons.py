"""The 差评 reason list: fixed, versioned, kept as data (``evaluation_reasons``).

The hall starts with ``reasons.json`` (version ``2026.1``); a new list (the province's,
sent down with the city hub's manifests, or typed by an admin) is imported as a new
version and becomes current. Every evaluation stores the version its reason codes belong
to, so old evaluations keep their meaning after a change.
"""

from __future__ import annotations

import re
import sqlite3
import time
from typing import Any

from sqlite_utils import Database

from queue_server.audit import append
from queue_server.db import write_tx
from queue_server.errors import ValidationError
from queue_server.evaluations.records import ReasonListImported

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _conn(db: Database | sqlite3.Connection) -> sqlite3.Connection:
    return db.conn if isinstance(db, Database) else db


def current_version(db: Database | sqlite3.Connection) -> str:
    row = _conn(db).execute("SELECT version FROM evaluation_reason_versions WHERE current = 1").fetchone()
    return str(row[0]) if row else ""


def reason_list(db: Database | sqlite3.Connection, version: str | None = None) -> dict[str, Any]:
    """``{"version", "reasons": [{"code", "name", "name_en"}]}`` — the current list by default."""
    conn = _conn(db)
    v = version or current_version(conn)
    rows = conn.execute("SELECT code, name, name_en FROM evaluation_reasons WHERE version = ? ORDER BY sort",
                        (v,)).fetchall()
    return {"version": v, "reasons": [{"code": r[0], "name": r[1], "name_en": r[2]} for r in rows]}


def reason_names(db: Database | sqlite3.Connection) -> dict[tuple[str, str], tuple[str, str]]:
    """``(version, code) → (name, name_en)`` of every version (old evaluations keep their words)."""
    rows = _conn(db).execute("SELECT version, code, name, name_en FROM evaluation_reasons").fetchall()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def check_reasons(conn: sqlite3.Connection, level: int, reasons: list[str]) -> str | None:
    """Validate ``reasons`` for ``level``: a 差评 needs at least one code of the current list,
    other levels none. Returns the list's version (None when no reasons)."""
    if level <= 2:
        if not reasons:
            raise ValidationError("evaluation_reason_required")
    elif reasons:
        raise ValidationError("reasons_not_allowed")
    if not reasons:
        return None
    version = current_version(conn)
    known = {r[0] for r in conn.execute("SELECT code FROM evaluation_reasons WHERE version = ?", (version,))}
    for code in reasons:
        if code not in known:
            raise ValidationError("unknown_reason", reason=str(code)[:40])
    return version


def import_reasons(db: Database, data: Any, *, actor: str = "cli") -> dict[str, Any]:
    """Add a reason list version (``{"version", "source"?, "reasons": [{"code", "name",
    "name_en"}]}``) and make it current; audited. A version that exists is refused."""

    def bad(what: str) -> ValidationError:
        return ValidationError("bad_reason_list", what=what, what_en=what)

    if not isinstance(data, dict) or not isinstance(data.get("reasons"), list) or not data["reasons"]:
        raise bad("需要 version 和非空的 reasons")
    version = data.get("version")
    if not isinstance(version, str) or not 0 < len(version) <= 40:
        raise bad("version")
    seen: set[str] = set()
    rows = []
    for i, r in enumerate(data["reasons"]):
        if not isinstance(r, dict):
            raise bad(f"reasons[{i}]")
        code, name, name_en = r.get("code"), r.get("name"), r.get("name_en")
        if not isinstance(code, str) or not _CODE.match(code) or code in seen:
            raise bad(f"reasons[{i}].code")
        if not isinstance(name, str) or not name.strip() or not isinstance(name_en, str) or not name_en.strip():
            raise bad(f"reasons[{i}].name")
        seen.add(code)
        rows.append((version, code, name.strip(), name_en.strip(), i))
    with write_tx(db) as conn:
        if conn.execute("SELECT 1 FROM evaluation_reason_versions WHERE version = ?", (version,)).fetchone():
            raise bad(f"版本 {version} 已存在")
        previous = current_version(conn) or None
        conn.execute("UPDATE evaluation_reason_versions SET current = 0 WHERE current = 1")
        conn.execute("INSERT INTO evaluation_reason_versions (version, source, current, created_at) VALUES (?, ?, 1, ?)",
                     (version, str(data.get("source", ""))[:500], time.time()))
        conn.executemany("INSERT INTO evaluation_reasons (version, code, name, name_en, sort) VALUES (?, ?, ?, ?, ?)",
                         rows)
        append(conn, ReasonListImported(version=version, codes=[r[1] for r in rows], previous=previous), actor=actor)
    return reason_list(db, version)
