"""Signing keys of the e-licence tokens: the current key signs, retired keys verify until
their ``not_after``, and the public halves are the keys document anyone can fetch
(``GET /api/licences/keys``).

Private keys never leave the server. They are stored wrapped: AES-GCM under a key derived
(HKDF-SHA256) from the hall's ID key ring (:mod:`queue_server.idkey`), which lives beside
the database and not in it, so a copy of the database alone cannot sign. A process caches
the keys for :data:`CACHE_SECONDS`, so a rotation made by another process (the CLI) is used
within that time.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlite_utils import Database

from queue_server import idkey
from queue_server.audit.chain import append
from queue_server.db import db_path, write_tx
from queue_server.errors import ValidationError
from queue_server.licences.records import LicenceKeyRotated
from queue_server.licences.token import (
    ALG_IDS,
    Ed25519Key,
    Ed25519Signer,
    PublicKey,
    Signer,
    SM2Key,
    SM2Signer,
    b64u,
    key_entry,
    kid_for,
    sm2_available,
)

CACHE_SECONDS = 2.0
#: How long a retired key keeps verifying after a rotation, by default (a day: verifiers
#: that fetched the keys document this morning keep working).
DEFAULT_RETIRE_SECONDS = 86400
_WRAP_INFO = b"yichuang/licences/signing-key-wrap/v1"

#: CLI spellings of the algorithms.
ALGORITHMS = {"ed25519": "EdDSA", "eddsa": "EdDSA", "sm2": "SM2-SM3", "sm2-sm3": "SM2-SM3"}


@dataclass(frozen=True)
class _Keys:
    signer: Signer | None
    public: dict[bytes, PublicKey]
    loaded: float


_cache: dict[str, _Keys] = {}
_lock = threading.Lock()


def forget() -> None:
    """Drop cached keys (after a rotation, or in tests)."""
    with _lock:
        _cache.clear()


def _wrap_key(path: str, key_id: str | None = None) -> tuple[str, bytes]:
    ring = idkey.key_ring(path)
    kid = key_id or ring.current
    if kid not in ring.keys:
        raise RuntimeError(f"the ID key ring has no key {kid!r}: the signing keys cannot be unwrapped")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_WRAP_INFO)
    return kid, hkdf.derive(ring.keys[kid])


def _seal(path: str, kid: bytes, secret: bytes) -> tuple[str, bytes]:
    wrap_id, key = _wrap_key(path)
    nonce = os.urandom(12)
    return wrap_id, nonce + AESGCM(key).encrypt(nonce, secret, kid)


def _unseal(path: str, wrap_id: str, kid: bytes, blob: bytes) -> bytes:
    _, key = _wrap_key(path, wrap_id)
    return AESGCM(key).decrypt(blob[:12], blob[12:], kid)


def _new_signer(alg: str) -> tuple[Signer, bytes, bytes]:
    """(signer, public key bytes, private key bytes) of a fresh key."""
    if alg == "EdDSA":
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        priv = Ed25519PrivateKey.generate()
        ed = Ed25519Signer(priv)
        return ed, ed.public, priv.private_bytes_raw()
    if not sm2_available():
        raise ValidationError("licence_alg_unavailable", alg=alg)
    sm2 = SM2Signer.generate()
    return sm2, sm2.public, sm2.private_value()


def _insert_key(conn: Any, path: str, alg: str, now: float) -> bytes:
    for _ in range(5):
        _, public, private = _new_signer(alg)
        kid = kid_for(public)
        if conn.execute("SELECT 1 FROM licence_keys WHERE kid = ?", (kid,)).fetchone() is None:
            break
    else:  # pragma: no cover - five 32-bit collisions in a row
        raise RuntimeError("could not find a free key id")
    wrap_id, blob = _seal(path, kid, private)
    conn.execute("INSERT INTO licence_keys (kid, alg, public_key, private_key, wrap_key_id, current, created_at) "
                 "VALUES (?, ?, ?, ?, ?, 1, ?)", (kid, alg, public, blob, wrap_id, now))
    return kid


def ensure_key(db: Database, *, now: float | None = None, actor: str = "system") -> None:
    """Create the first signing key (Ed25519) if the hall has none."""
    if db.conn.execute("SELECT 1 FROM licence_keys WHERE current = 1").fetchone():
        return
    t = time.time() if now is None else now
    with write_tx(db) as conn:
        if conn.execute("SELECT 1 FROM licence_keys WHERE current = 1").fetchone():
            return
        kid = _insert_key(conn, db_path(db), "EdDSA", t)
        append(conn, LicenceKeyRotated(kid=b64u(kid), alg="EdDSA"), actor=actor, ts=t)
    forget()


def rotate(db: Database, alg: str = "EdDSA", *, retire_after: float = DEFAULT_RETIRE_SECONDS,
           now: float | None = None, actor: str = "cli") -> dict[str, Any]:
    """Make a new key current; the old current key verifies for ``retire_after`` seconds more."""
    alg = ALGORITHMS.get(alg.lower(), alg) if isinstance(alg, str) else alg
    if alg not in ALG_IDS:
        raise ValidationError("licence_alg_unavailable", alg=alg)
    if retire_after < 0:
        raise ValidationError("bad_field", field="retire_after")
    t = time.time() if now is None else now
    with write_tx(db) as conn:
        old = conn.execute("SELECT kid FROM licence_keys WHERE current = 1").fetchone()
        not_after = None
        if old is not None:
            not_after = t + retire_after
            conn.execute("UPDATE licence_keys SET current = 0, retired_at = ?, not_after = ? WHERE kid = ?",
                         (t, not_after, old[0]))
        kid = _insert_key(conn, db_path(db), alg, t)
        append(conn, LicenceKeyRotated(kid=b64u(kid), alg=alg, retired_kid=b64u(old[0]) if old else None,
                                       not_after=not_after), actor=actor, ts=t)
    forget()
    return {"kid": b64u(kid), "alg": alg, "retired": b64u(old[0]) if old else None, "not_after": not_after}


def _load(db: Database) -> _Keys:
    path = db_path(db)
    mono = time.monotonic()
    with _lock:
        hit = _cache.get(path)
    if hit is not None and mono - hit.loaded < CACHE_SECONDS:
        return hit
    signer: Signer | None = None
    public: dict[bytes, PublicKey] = {}
    for kid, alg, pub, priv, wrap_id, current, not_after in db.conn.execute(
            "SELECT kid, alg, public_key, private_key, wrap_key_id, current, not_after FROM licence_keys"):
        kid = bytes(kid)
        if alg == "EdDSA":
            public[kid] = Ed25519Key(bytes(pub), kid, not_after)
            if current:
                from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

                signer = Ed25519Signer(Ed25519PrivateKey.from_private_bytes(_unseal(path, wrap_id, kid, bytes(priv))))
        elif sm2_available():
            public[kid] = SM2Key(bytes(pub)[:32], bytes(pub)[32:], kid, not_after)
            if current:
                signer = SM2Signer.from_private_value(_unseal(path, wrap_id, kid, bytes(priv)))
    keys = _Keys(signer, public, mono)
    with _lock:
        _cache[path] = keys
    return keys


def current_signer(db: Database) -> Signer:
    """The key that signs now (created on first use)."""
    keys = _load(db)
    if keys.signer is None:
        ensure_key(db)
        keys = _load(db)
    assert keys.signer is not None
    return keys.signer


def public_keys(db: Database) -> dict[bytes, PublicKey]:
    """kid → public key of every key the hall has (the checker applies ``not_after``)."""
    return _load(db).public


def keys_document(db: Database, *, now: float | None = None) -> dict[str, Any]:
    """``{"keys": [...], "generated_at"}``: the current key and the retired keys still within
    their ``not_after``, newest first (what ``GET /api/licences/keys`` answers)."""
    t = time.time() if now is None else now
    current_signer(db)
    order = {bytes(r[0]): i for i, r in enumerate(db.conn.execute(
        "SELECT kid FROM licence_keys ORDER BY current DESC, created_at DESC"))}
    entries = [key_entry(k) for k in sorted(public_keys(db).values(), key=lambda k: order.get(k.kid, 0))
               if k.not_after is None or k.not_after >= t]  # type: ignore[arg-type]
    return {"keys": entries, "generated_at": int(t)}


def list_keys(db: Database) -> list[dict[str, Any]]:
    """Every key's metadata for the CLI (never a private key)."""
    return [{"kid": b64u(bytes(r[0])), "alg": r[1], "current": bool(r[2]), "created_at": r[3],
             "retired_at": r[4], "not_after": r[5]}
            for r in db.conn.execute("SELECT kid, alg, current, created_at, retired_at, not_after FROM licence_keys "
                                     "ORDER BY created_at")]
