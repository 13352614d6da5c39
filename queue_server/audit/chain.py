"""Writing and checking the audit chain.

:func:`append` runs inside the transaction of the change it records (the caller's
``write_tx``), so a change and its record commit together or not at all, and the
``BEGIN IMMEDIATE`` of that transaction is what keeps the chain in one order across threads
and processes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server.audit.records import RECORD_TYPES, AuditRecord

GENESIS = "0" * 64


def canonical(data: dict[str, Any]) -> str:
    """The one JSON text of a record's data that its hash covers."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def row_hash(prev: str, row_id: int, ts: float, kind: str, actor: str, data: str) -> str:
    text = "\n".join((prev, str(row_id), repr(float(ts)), kind, actor, data))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append(conn: sqlite3.Connection, record: AuditRecord, *, actor: str, ts: float | None = None) -> int:
    """Add ``record`` to the chain inside the caller's open write transaction; its row id."""
    if not conn.in_transaction:
        raise RuntimeError("audit.append must run inside the change's write transaction")
    if RECORD_TYPES.get(record.kind) is not type(record):
        raise ValueError(f"unregistered audit record kind {record.kind!r}")
    t = time.time() if ts is None else float(ts)
    data = canonical(record.data())
    last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev, row_id = (last[1], last[0] + 1) if last else (GENESIS, 1)
    h = row_hash(prev, row_id, t, record.kind, actor, data)
    conn.execute(
        "INSERT INTO audit (id, ts, kind, actor, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (row_id, t, record.kind, actor, data, prev, h),
    )
    return row_id


@dataclass(frozen=True)
class ChainHead:
    """The newest row: anchor ``(id, hash)`` somewhere the hall's owner cannot rewrite."""

    id: int
    hash: str
    ts: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "hash": self.hash, "ts": self.ts}


def head(db: Database | sqlite3.Connection) -> ChainHead:
    conn = db.conn if isinstance(db, Database) else db
    row = conn.execute("SELECT id, hash, ts FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return ChainHead(row[0], row[1], row[2]) if row else ChainHead(0, GENESIS, None)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    head: ChainHead
    #: The first row that does not match (None when ok) and why.
    bad_id: int | None = None
    problem: str = ""


def _rows(conn: sqlite3.Connection, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
    last = 0
    while True:
        rows = conn.execute(
            "SELECT id, ts, kind, actor, data, prev, hash FROM audit WHERE id > ? ORDER BY id LIMIT ?",
            (last, batch),
        ).fetchall()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def verify(db: Database | sqlite3.Connection) -> VerifyResult:
    """Walk the chain from the first row; stop at the first row that does not match."""
    conn = db.conn if isinstance(db, Database) else db
    prev, expected_id, n = GENESIS, 1, 0
    last = ChainHead(0, GENESIS, None)
    for row_id, ts, kind, actor, data, stored_prev, stored_hash in _rows(conn):
        if row_id != expected_id:
            return VerifyResult(False, n, last, expected_id, f"row {expected_id} is missing")
        if stored_prev != prev:
            return VerifyResult(False, n, last, row_id, "prev does not match the row before")
        if row_hash(prev, row_id, ts, kind, actor, data) != stored_hash:
            return VerifyResult(False, n, last, row_id, "hash does not match the row's content")
        prev, expected_id, n = stored_hash, row_id + 1, n + 1
        last = ChainHead(row_id, stored_hash, ts)
    return VerifyResult(True, n, last)


def recent(db: Database, *, kind: str | None = None, limit: int = 100, before_id: int | None = None
           ) -> list[dict[str, Any]]:
    """Newest records first (the admin's audit view)."""
    sql = "SELECT id, ts, kind, actor, data, hash FROM audit WHERE 1"
    args: list[Any] = []
    if kind:
        sql += " AND kind = ?"
        args.append(kind)
    if before_id:
        sql += " AND id < ?"
        args.append(before_id)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    return [{"id": r[0], "ts": r[1], "kind": r[2], "actor": r[3], "data": json.loads(r[4]), "hash": r[5]}
            for r in db.conn.execute(sql, args)]
