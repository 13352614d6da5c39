"""Opening and reading kiosk cases; references for printed documents.

Every writer takes the caller's connection inside its write transaction, so a case opens,
changes and links to its ticket together with the change that causes it.
"""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from queue_server.errors import NotFound, ValidationError

#: Case kinds and the prefix of their numbers.
KIND_PREFIXES = {"approval": "SP", "licence_show": "LZ", "licence_print": "DZ"}

_FIELDS = "number, kind, item, item_name, kiosk, status, ticket_id, day, created_at, updated_at"


def _row(r: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    keys = [k.strip() for k in _FIELDS.split(",")]
    return dict(zip(keys, tuple(r), strict=True))


def _conn(db: Database | sqlite3.Connection) -> sqlite3.Connection:
    return db.conn if isinstance(db, Database) else db


def open_case(conn: sqlite3.Connection, kind: str, item: str, item_name: str, *, kiosk: str, day: str,
              now: float | None = None, status: str = "open") -> dict[str, Any]:
    """Open a case in the caller's write transaction; its number is ``<prefix><YYYYMMDD><6 digits>``."""
    prefix = KIND_PREFIXES.get(kind)
    if prefix is None:
        raise ValueError(f"unknown case kind {kind!r}")
    t = time.time() if now is None else now
    seq = conn.execute(
        "INSERT INTO case_counters (day, prefix, last) VALUES (?, ?, 1) "
        "ON CONFLICT (day, prefix) DO UPDATE SET last = last + 1 RETURNING last",
        (day, prefix),
    ).fetchone()[0]
    number = f"{prefix}{day.replace('-', '')}{seq:06d}"
    conn.execute(
        "INSERT INTO cases (number, kind, item, item_name, kiosk, status, day, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (number, kind, item, item_name, kiosk, status, day, t, t),
    )
    return get_case(conn, number)


def get_case(db: Database | sqlite3.Connection, number: str) -> dict[str, Any]:
    """One case by number; ``case_not_found`` (404) when there is none."""
    if not isinstance(number, str) or not 4 <= len(number) <= 32:
        raise ValidationError("bad_case_number")
    row = _conn(db).execute(f"SELECT {_FIELDS} FROM cases WHERE number = ?", (number.strip().upper(),)).fetchone()
    if row is None:
        raise NotFound("case_not_found", case=number)
    return _row(row)


def find_case_by_ticket(db: Database | sqlite3.Connection, ticket_id: int) -> dict[str, Any] | None:
    """The case a window ticket was issued for (a 秒批 referral), if any."""
    row = _conn(db).execute(f"SELECT {_FIELDS} FROM cases WHERE ticket_id = ? ORDER BY id DESC LIMIT 1",
                            (ticket_id,)).fetchone()
    return _row(row) if row else None


def set_case_status(conn: sqlite3.Connection, number: str, status: str, now: float | None = None) -> None:
    cur = conn.execute("UPDATE cases SET status = ?, updated_at = ? WHERE number = ?",
                       (status, time.time() if now is None else now, number))
    if cur.rowcount != 1:
        raise NotFound("case_not_found", case=number)


def link_ticket(conn: sqlite3.Connection, number: str, ticket_id: int) -> None:
    """Record the window ticket a case was referred to."""
    cur = conn.execute("UPDATE cases SET ticket_id = ? WHERE number = ?", (ticket_id, number))
    if cur.rowcount != 1:
        raise NotFound("case_not_found", case=number)


def new_verify_ref(conn: sqlite3.Connection, case_number: str, summary: dict[str, Any],
                   now: float | None = None) -> str:
    """A reference for a printed document's QR (``/v/<ref>``): 16 random bytes, base32 upper
    case (26 characters, fits QR version 3). ``summary`` is what the page shows and must be
    holder-safe: item name, result, masked holder, time — never a full name or ID number."""
    ref = base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")
    conn.execute("INSERT INTO verify_refs (ref, case_number, summary, created_at) VALUES (?, ?, ?, ?)",
                 (ref, case_number, json.dumps(summary, ensure_ascii=False), time.time() if now is None else now))
    return ref


#: A document kind's check of what it vouches for *now* (a licence copy: the licence's status
#: today), registered by the capability that prints it: ``fn(conn, ref) -> {"status", "zh",
#: "en", "tone"}`` or None. The page shows it instead of the case's status.
RefCheck = Callable[[sqlite3.Connection, str], "dict[str, Any] | None"]
_ref_checks: dict[str, RefCheck] = {}


def ref_check(kind: str) -> Callable[[RefCheck], RefCheck]:
    """Register the current-status check of the documents whose summary has ``kind``."""

    def register(fn: RefCheck) -> RefCheck:
        _ref_checks[kind] = fn
        return fn

    return register


def resolve_ref(db: Database | sqlite3.Connection, ref: str) -> dict[str, Any]:
    """What ``/v/<ref>`` shows: the summary printed with the document, the case as it is now
    and, for a kind with a registered :func:`ref_check`, what the document vouches for now
    (``current``)."""
    if not isinstance(ref, str) or not 16 <= len(ref) <= 32 or not ref.isalnum():
        raise NotFound("verify_ref_not_found")
    row = _conn(db).execute("SELECT case_number, summary, created_at FROM verify_refs WHERE ref = ?",
                            (ref.upper(),)).fetchone()
    if row is None:
        raise NotFound("verify_ref_not_found")
    out = {"ref": ref.upper(), "case": get_case(db, row[0]), "summary": json.loads(row[1]), "issued_at": row[2]}
    check = _ref_checks.get(str(out["summary"].get("kind") or ""))
    current = check(_conn(db), ref.upper()) if check is not None else None
    if current is not None:
        out["current"] = current
    return out
