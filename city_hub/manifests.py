"""Manifests the hub publishes to every hall: signed, versioned, content-addressed.

A manifest is ``{"format", "kind", "version", "content_hash", "created_at", "key_id",
"signature", "content"}`` (:func:`yichuang.citylink.sign_manifest`): the hub's Ed25519
signature covers the header, the header's ``content_hash`` covers the content. Kinds are
open; halls apply ``service_catalogue`` (the hall's categories/services/windows as
``queue-server hall export`` writes them), ``licence_trust_list`` (licence keys and
revocations, assembled by :mod:`city_hub.trust`), ``rule_set`` (秒批 items and dated
parameter values) and ``evaluation_reasons`` (the 差评 reason list) — docs/city-hub.md
has their contents — and keep any other kind as stored. Versions of a kind only go up
(``version`` defaults to the last + 1).

Halls read ``GET /manifests`` (the newest of each kind: kind, version, content_hash) and
fetch ``GET /manifests/<content_hash>`` — immutable, so any cache or mirror may serve it;
the signature, not the transport, makes it trustworthy.
"""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg

from yichuang import citylink

KIND_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def publish(conn: psycopg.Connection, private_key: str, kind: str, content: Any,
            version: int | None = None, now: float | None = None) -> dict[str, Any]:
    """Sign ``content`` as the next (or the given) version of ``kind`` and store it."""
    if not kind or len(kind) > 64 or not set(kind) <= KIND_CHARS:
        raise ValueError("kind: lower-case letters, digits and _")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(7170019)")
        last = conn.execute("SELECT COALESCE(MAX(version), 0) FROM manifests WHERE kind = %s", (kind,)).fetchone()
        top = int(last[0]) if last else 0
        v = top + 1 if version is None else int(version)
        if v <= top:
            raise ValueError(f"{kind} version {v} is not above the published {top}")
        m = citylink.sign_manifest(private_key, kind, v, content, time.time() if now is None else now)
        store(conn, m)
    return m


def store(conn: psycopg.Connection, m: dict[str, Any]) -> None:
    """Store a manifest as it is (publish signs; tests and mirrors may store others)."""
    conn.execute("INSERT INTO manifests (content_hash, kind, version, body) VALUES (%s, %s, %s, %s::jsonb)",
                 (m["content_hash"], m["kind"], m["version"], json.dumps(m, ensure_ascii=False)))


def index(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """The newest manifest of every kind."""
    rows = conn.execute(
        "SELECT DISTINCT ON (kind) kind, version, content_hash, published_at FROM manifests "
        "ORDER BY kind, version DESC").fetchall()
    return [{"kind": r[0], "version": r[1], "content_hash": r[2], "published_at": r[3].timestamp()} for r in rows]


def by_hash(conn: psycopg.Connection, content_hash: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT body FROM manifests WHERE content_hash = %s ORDER BY version DESC LIMIT 1",
                       (content_hash,)).fetchone()
    return row[0] if row else None


def reports(conn: psycopg.Connection, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT hall, kind, version, result, reason, at FROM manifest_reports "
                        "ORDER BY at DESC LIMIT %s", (limit,)).fetchall()
    return [{"hall": r[0], "kind": r[1], "version": r[2], "result": r[3], "reason": r[4], "at": r[5]} for r in rows]
