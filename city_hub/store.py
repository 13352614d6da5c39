"""Connections to the hub's PostgreSQL, the hub's own signing key, and the halls' registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg

from city_hub import schema
from yichuang import citylink

DEFAULT_KEY_FILE = "var/city-hub.key"


def connect(dsn: str, *, migrate: bool = False) -> psycopg.Connection:
    """A connection (autocommit off: use ``with conn.transaction()`` or ``commit``)."""
    conn = psycopg.connect(dsn)
    if migrate:
        schema.migrate(conn)
        conn.commit()
    return conn


def load_or_create_key(path: str | os.PathLike[str]) -> str:
    """The hub's Ed25519 private key (base64) from ``path``, made (mode 0600) when missing.
    The key signs manifests; it never goes into the database."""
    p = Path(path)
    if p.exists():
        text = p.read_text().strip()
        citylink.load_private(text)  # raises on a damaged file
        return text
    p.parent.mkdir(parents=True, exist_ok=True)
    text = citylink.new_private_key()
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
    return text


class HallExists(ValueError):
    pass


def add_hall(conn: psycopg.Connection, code: str, name: str = "", public_key: str | None = None,
             tz: str = "Asia/Shanghai") -> dict[str, Any]:
    """Register a hall. Without ``public_key`` a key pair is made and the private key is
    returned (shown once, never stored); with one, the hall keeps its own private key."""
    if not code or len(code) > 64 or not all(c.isalnum() or c in "-_" for c in code):
        raise ValueError("hall code: letters, digits, - and _ (at most 64)")
    private = None
    if public_key is None:
        private = citylink.new_private_key()
        public_key = citylink.public_of(private)
    else:
        citylink.load_public(public_key)  # raises on a bad key
    with conn.transaction():
        if conn.execute("SELECT 1 FROM halls WHERE code = %s", (code,)).fetchone():
            raise HallExists(f"hall {code} is already registered")
        conn.execute("INSERT INTO halls (code, name, public_key, key_id, tz) VALUES (%s, %s, %s, %s, %s)",
                     (code, name, public_key, citylink.key_id(public_key), tz))
    return {"hall": code, "name": name, "public_key": public_key, "key_id": citylink.key_id(public_key),
            "private_key": private}


def set_hall_key(conn: psycopg.Connection, code: str, public_key: str) -> None:
    """Replace a hall's public key (a new hall server, a leaked key)."""
    citylink.load_public(public_key)
    with conn.transaction():
        n = conn.execute("UPDATE halls SET public_key = %s, key_id = %s WHERE code = %s",
                         (public_key, citylink.key_id(public_key), code)).rowcount
    if not n:
        raise KeyError(code)


def clear_flag(conn: psycopg.Connection, code: str) -> int:
    """An inspector cleared an audit flag (the flags stay in ``audit_flags``)."""
    with conn.transaction():
        return conn.execute("UPDATE halls SET audit_flag = NULL, audit_flagged_at = NULL WHERE code = %s",
                            (code,)).rowcount
