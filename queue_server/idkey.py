"""Keyed digests of ID numbers: how the hall matches an ID later without storing it.

A masked ID (``3701**********123X``) next to an unkeyed SHA-256 of the number gives the
number back in minutes (the birth date and a 3-digit sequence are all that is hidden).
What is stored to match an ID — check-in by card, the per-ID daily limit, data-source
lookups — is therefore an HMAC-SHA256 under a key that is **not in the database**:

* the environment variable ``YICHUANG_ID_KEY`` (64 hex characters), or
* a key file, ``YICHUANG_ID_KEY_FILE`` or else ``<database>.idkey`` beside the hall
  database, created with mode 0600 the first time it is needed (``queue-server init-db``
  creates it).

The key file is a small key ring (JSON ``{"current": "k1", "keys": {"k1": "<hex>"}}``):
digests are stored as ``k1:<hex>`` so that after a rotation (a new current key) the old
key still matches what was stored under it until those rows are purged. With the database
file alone nobody can test a guess. ``docs/privacy.md`` has the rotation procedure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from hardware.idnumber import normalize_id_number
from queue_server.db import db_path


@dataclass(frozen=True)
class KeyRing:
    current: str
    keys: dict[str, bytes]


_rings: dict[str, KeyRing] = {}
_lock = threading.Lock()


def key_file_for(database_path: str) -> Path:
    """Where the key ring of the hall database at ``database_path`` lives."""
    env = os.environ.get("YICHUANG_ID_KEY_FILE")
    return Path(env) if env else Path(database_path + ".idkey")


def _read(path: Path) -> KeyRing:
    data = json.loads(path.read_text(encoding="utf-8"))
    return KeyRing(str(data["current"]), {k: bytes.fromhex(v) for k, v in data["keys"].items()})


def _write(path: Path, ring: KeyRing) -> None:
    text = json.dumps({"current": ring.current, "keys": {k: v.hex() for k, v in ring.keys.items()}})
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def ensure_key(database_path: str | os.PathLike[str]) -> Path | None:
    """Create the key file of a hall database if it has none (mode 0600); its path, or
    None when the key comes from the environment."""
    if os.environ.get("YICHUANG_ID_KEY"):
        return None
    path = key_file_for(os.path.abspath(str(database_path)))
    with _lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _write(path, KeyRing("k1", {"k1": secrets.token_bytes(32)}))
    return path


def key_ring(database_path: str) -> KeyRing:
    env = os.environ.get("YICHUANG_ID_KEY")
    if env:
        return KeyRing("e1", {"e1": bytes.fromhex(env)})
    with _lock:
        ring = _rings.get(database_path)
        if ring is None and database_path == ":memory:":  # a throw-away database, a throw-away key
            ring = _rings[database_path] = KeyRing("m1", {"m1": secrets.token_bytes(32)})
    if ring is not None:
        return ring
    path = key_file_for(database_path)
    if not path.exists():
        ensure_key(database_path)
    ring = _read(path)
    with _lock:
        _rings[database_path] = ring
    return ring


def rotate(database_path: str | os.PathLike[str]) -> str:
    """Add a new current key to the ring (old keys keep matching what they stored); its id."""
    path = key_file_for(os.path.abspath(str(database_path)))
    ensure_key(database_path)
    ring = _read(path)
    n = max(int(k[1:]) for k in ring.keys if k[1:].isdigit()) + 1
    new = f"k{n}"
    _write(path, KeyRing(new, {**ring.keys, new: secrets.token_bytes(32)}))
    forget()
    return new


def forget() -> None:
    """Drop cached key rings (after a rotation, or in tests)."""
    with _lock:
        _rings.clear()


def _digest(key_id: str, key: bytes, id_number: str) -> str:
    mac = hmac.new(key, normalize_id_number(id_number).encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{key_id}:{mac}"


def id_digest(db: Database, id_number: str) -> str:
    """The keyed digest of ``id_number`` under the current key (what to store)."""
    ring = key_ring(db_path(db))
    return _digest(ring.current, ring.keys[ring.current], id_number)


def id_digests(db: Database, id_number: str) -> list[str]:
    """The digests of ``id_number`` under every key in the ring (what to look up with)."""
    ring = key_ring(db_path(db))
    return [_digest(k, v, id_number) for k, v in ring.keys.items()]


def text_digest(db: Database, text: str) -> str:
    """A keyed digest of a free-text note (``<key id>:<hex>``) for a record that must prove
    what was written without keeping it: the audit chain covers this, the text itself stays
    in its purgeable column. Keyed, so a note that is only an ID number is not a searchable
    hash."""
    ring = key_ring(db_path(db))
    mac = hmac.new(ring.keys[ring.current], b"text\n" + text.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{ring.current}:{mac}"


def json_digest(db: Database, value: Any, *, domain: bytes = b"json\n") -> str:
    """A keyed digest (``<key id>:<hex>``, HMAC-SHA256 under the current key) of a JSON value's
    canonical form (keys sorted, no spaces) — for a request body or a group of facts that
    holds an ID number: stored to recognise the same value again, and not reversible by
    trying ID numbers. ``domain`` prefixes the text so digests made for one purpose never
    match another's."""
    ring = key_ring(db_path(db))
    return f"{ring.current}:" + _json_mac(ring.keys[ring.current], value, domain)


def json_digest_matches(db: Database, value: Any, digest: str, *, domain: bytes = b"json\n") -> bool | None:
    """Whether ``digest`` is :func:`json_digest` of ``value`` (None: its key is no longer in the ring)."""
    key_id, _, mac = digest.partition(":")
    key = key_ring(db_path(db)).keys.get(key_id)
    if key is None:
        return None
    return hmac.compare_digest(_json_mac(key, value, domain), mac)


def _json_mac(key: bytes, value: Any, domain: bytes) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, domain + text.encode("utf-8"), hashlib.sha256).hexdigest()
