"""Tokens, passwords and roles.

* Device tokens (kiosk, display, …) are 32 random bytes, URL-safe; only their SHA-256 is
  stored. High-entropy secrets need a fast hash, not a password hash: checking a token
  costs one SHA-256 and, thanks to a small cache, rarely a query.
* Passwords are hashed with ``hashlib.scrypt`` (n=2**14, r=8, p=1, 16-byte salt) as
  ``scrypt$n$r$p$salt_hex$hash_hex``.
* A clerk's login creates a session token bound to the user, with the user's role, valid
  for ``session_hours``.

Roles (docs/architecture.md): kiosk, display, clerk, technician, admin, supervisor (好差评
rectification, ``queue_server/evaluations``), verifier (licence checkpoints), booking (the
booking platform's connector: ``POST``/``DELETE``/``GET /api/appointments``). Roles are
checked here, in code, against these lists (the tables carry no CHECK since the core's
``m0002_roles_in_code``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server.audit.chain import append
from queue_server.audit.records import LoginUnlocked, TokenCreated, TokenRevoked, UserCreated
from queue_server.db import db_path, write_tx
from queue_server.errors import NotFound, QueueError, Unauthorized, Unavailable, ValidationError
from queue_server.settings import get_setting

TOKEN_ROLES = ("kiosk", "display", "clerk", "admin", "technician", "supervisor", "verifier", "booking")
USER_ROLES = ("admin", "clerk", "technician", "supervisor")
READ_ONLY_ROLES = ("display", "kiosk", "technician")

#: Seconds a verified token is trusted without a query (revocation takes this long).
TOKEN_CACHE_SECONDS = 10.0

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's role and name, and the user for clerk logins."""

    token_id: int
    role: str
    name: str
    user_id: int | None = None
    user_name: str | None = None
    staff_no: str | None = None
    expires_at: float | None = None
    #: The one window a clerk device token acts at (``token create --window N``).
    window: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def create_token(
    db: Database,
    role: str,
    name: str,
    *,
    user_id: int | None = None,
    expires_at: float | None = None,
    window: int | None = None,
    actor: str = "system",
) -> str:
    """Store a new token (hashed) and return the plain token, which is never stored.
    Device tokens are audited; login sessions are not (they are not a change to the hall).
    ``window`` binds a clerk device token to that one window (docs/security.md)."""
    if role not in TOKEN_ROLES:
        raise ValidationError("bad_role", role=role)
    if not name or len(name) > 100:
        raise ValidationError("bad_name")
    if window is not None:
        if role != "clerk" or user_id is not None:
            raise ValidationError("bad_field", field="window")
        if not db.conn.execute("SELECT 1 FROM windows WHERE number = ?", (window,)).fetchone():
            raise NotFound("window_not_found", window=window)
    token = new_token()
    with write_tx(db) as conn:
        cur = conn.execute(
            "INSERT INTO tokens (name, role, token_hash, user_id, created_at, expires_at, window) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, role, hash_token(token), user_id, time.time(), expires_at, window),
        )
        if user_id is None:
            append(conn, TokenCreated(token_id=int(cur.lastrowid or 0), token_name=name, role=role), actor=actor)
    return token


def revoke_token(db: Database, token: str) -> bool:
    h = hash_token(token)
    with write_tx(db) as conn:
        n = conn.execute(
            "UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL", (time.time(), h)
        ).rowcount
    _forget(h)
    return n > 0


def revoke_tokens_named(db: Database, name: str, *, actor: str = "system") -> int:
    """Revoke every active token called ``name`` (a lost kiosk, a retired display); audited."""
    with write_tx(db) as conn:
        rows = conn.execute(
            "SELECT id, token_hash FROM tokens WHERE name = ? AND revoked_at IS NULL", (name,)
        ).fetchall()
        conn.execute("UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (time.time(), name))
        if rows:
            append(conn, TokenRevoked(token_ids=[r[0] for r in rows], token_name=name), actor=actor)
    for _, h in rows:
        _forget(h)
    return len(rows)


def list_tokens(db: Database) -> list[dict[str, Any]]:
    """Every token's metadata (never the token itself, which is not stored)."""
    rows = db.conn.execute(
        "SELECT id, name, role, user_id, created_at, expires_at, revoked_at, window FROM tokens ORDER BY id"
    ).fetchall()
    return [
        {"id": r[0], "name": r[1], "role": r[2], "user_id": r[3], "created_at": r[4], "expires_at": r[5],
         "revoked_at": r[6], "window": r[7]}
        for r in rows
    ]


_cache: dict[tuple[str, str], tuple[float, Principal]] = {}
_cache_lock = threading.Lock()


def _forget(token_hash: str) -> None:
    with _cache_lock:
        for key in [k for k in _cache if k[1] == token_hash]:
            del _cache[key]


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _not_good(revoked_at: float | None, expires_at: float | None, user_id: int | None, user_active: Any,
              t: float) -> str | None:
    """Why a token row is no longer good at time ``t`` (an error code), or None if it is:
    revoked, a login of a deactivated user, or expired."""
    if revoked_at is not None or (user_id is not None and not user_active):
        return "invalid_token"
    if expires_at is not None and t >= expires_at:
        return "token_expired"
    return None


def verify_token(db: Database, token: str, *, now: float | None = None) -> Principal:
    """The principal behind ``token``; :class:`Unauthorized` if unknown, revoked or expired."""
    if not token or len(token) > 200:
        raise Unauthorized("invalid_token")
    th = hash_token(token)
    key = (db_path(db), th)
    t = time.time() if now is None else now
    mono = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and mono - hit[0] < TOKEN_CACHE_SECONDS:
        p = hit[1]
        if p.expires_at is not None and t >= p.expires_at:
            raise Unauthorized("token_expired")
        return p
    row = db.conn.execute(
        "SELECT t.id, t.role, t.name, t.user_id, t.expires_at, t.revoked_at, u.display_name, u.staff_no, u.active, "
        "t.window "
        "FROM tokens t LEFT JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
        (th,),
    ).fetchone()
    if row is None:
        raise Unauthorized("invalid_token")
    wrong = _not_good(row[5], row[4], row[3], row[8], t)
    if wrong is not None:
        raise Unauthorized(wrong)
    p = Principal(token_id=row[0], role=row[1], name=row[2], user_id=row[3], user_name=row[6],
                  staff_no=row[7], expires_at=row[4], window=row[9])
    with _cache_lock:
        if len(_cache) > 10000:
            _cache.clear()
        _cache[key] = (mono, p)
    return p


def withdrawn_tokens(conn: sqlite3.Connection, token_ids: Iterable[int], *, now: float | None = None) -> set[int]:
    """Of ``token_ids``, the ones no longer good: revoked, expired, deleted, or a login of a
    user who was deactivated. An open event stream authorised by one is closed (the stream
    hub asks every :data:`STREAM_RECHECK_SECONDS`): revoking a stolen call screen's token
    stops what it shows, not only its next request."""
    ids = sorted(set(token_ids))
    t = time.time() if now is None else now
    good: set[int] = set()
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        for tid, expires, revoked, user_id, active in conn.execute(
                "SELECT t.id, t.expires_at, t.revoked_at, t.user_id, u.active FROM tokens t "
                f"LEFT JOIN users u ON u.id = t.user_id WHERE t.id IN ({','.join('?' * len(part))})", part):
            if _not_good(revoked, expires, user_id, active, t) is None:
                good.add(tid)
    return set(ids) - good


#: How often an open event stream's token is checked again (revocation, expiry).
STREAM_RECHECK_SECONDS = 10.0


# --- passwords and users -----------------------------------------------------------------

#: Password hashes computed at once per process. scrypt with n=2**14, r=8 takes 16 MiB of
#: memory per hash: unbounded, 60 concurrent logins took the process from 408 MB to 1.1 GB
#: (each waitress thread's malloc arena kept its 16–32 MiB). Hashes therefore run only on
#: :data:`HASH_SLOTS` dedicated threads, so at most that many arenas ever hold scrypt memory.
HASH_SLOTS = 2
#: How long a login waits for a free hash slot before it is answered 503 ``login_busy``
#: (a hash takes ~50 ms; this lets a few clerks logging in at 08:30 through at once).
HASH_WAIT_SECONDS = 0.5

_hash_pool = ThreadPoolExecutor(max_workers=HASH_SLOTS, thread_name_prefix="pwhash")
_hash_slots = threading.BoundedSemaphore(HASH_SLOTS)


def _new_hash_pool() -> None:
    """A forked child (``serve --workers N``) gets its own pool: the parent's threads do not
    exist in it, and a pool that thinks they do would never run a hash."""
    global _hash_pool, _hash_slots
    _hash_pool = ThreadPoolExecutor(max_workers=HASH_SLOTS, thread_name_prefix="pwhash")
    _hash_slots = threading.BoundedSemaphore(HASH_SLOTS)


os.register_at_fork(after_in_child=_new_hash_pool)


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    """scrypt on one of the hash threads; :class:`Unavailable` ``login_busy`` (503) when
    every slot stays taken for :data:`HASH_WAIT_SECONDS`."""
    if n > 2**17 or r > 16 or p > 4 or dklen > 64:  # never let a stored parameter take more memory
        raise ValueError("scrypt parameters over the work limit")
    if not _hash_slots.acquire(timeout=HASH_WAIT_SECONDS):
        raise Unavailable("login_busy", retry_after=1)
    try:
        return _hash_pool.submit(_scrypt_and_trim, password, salt, n, r, p, dklen).result()
    finally:
        _hash_slots.release()


def _libc_trim() -> Any:
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_malloc_trim = _libc_trim()


def _scrypt_and_trim(password: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    """scrypt, then hand its 16 MiB back to the system (glibc keeps a freed block of that
    size in the thread's arena otherwise)."""
    digest = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=dklen)
    if _malloc_trim is not None:
        _malloc_trim(0)
    return digest


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password.encode("utf-8"), salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, 32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, hash_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = _scrypt(password.encode("utf-8"), bytes.fromhex(salt_hex), int(n), int(r), int(p),
                         len(hash_hex) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), hash_hex)


#: A hash of no one's password (of a random one, thrown away), checked for an unknown or
#: inactive user so that a login costs the same one hash whether or not the account exists.
_DUMMY_HASH = ("scrypt$16384$8$1$69fa44602e8f59133856bf52c16f08cf$"
               "72216e212d665c37f83b37be87cdd48ad2f2b4bf82d8d91dcaa7a9461aead83f")




def create_user(
    db: Database, username: str, password: str, *, display_name: str, staff_no: str = "", role: str = "clerk",
    password_hash: str | None = None, actor: str = "system",
) -> int:
    """Add a user (admin, clerk or technician); returns the user id.

    ``password_hash`` (from :func:`hash_password` of ``password``) skips hashing again;
    the demo hall uses it to seed its well-known demo passwords quickly.
    """
    if role not in USER_ROLES:
        raise ValidationError("bad_role", role=role)
    if not username or len(username) > 64 or not display_name:
        raise ValidationError("bad_user")
    if len(password) < 6:
        raise ValidationError("weak_password")
    pw = password_hash if password_hash is not None else hash_password(password)
    with write_tx(db) as conn:
        exists = conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
        if exists:
            raise ValidationError("user_exists", username=username)
        cur = conn.execute(
            "INSERT INTO users (username, display_name, staff_no, role, password_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (username, display_name, staff_no, role, pw, time.time()),
        )
        user_id = int(cur.lastrowid or 0)
        append(conn, UserCreated(user_id=user_id, role=role), actor=actor)
    return user_id


# --- login throttling ---------------------------------------------------------------------
#
# Every failed login counts against the account (``user:<username>``, whether or not it
# exists) and the client address (``addr:<keyed digest>``). Past ``free`` failures each one
# makes the next try wait 1, 2, 4 … seconds (at most LOGIN_MAX_WAIT); at ``lock_after``
# failures the key is locked for LOGIN_LOCK_SECONDS, until then or until an admin unlocks
# it (``queue-server user unlock``, ``POST /api/admin/users/<id>/unlock``). A refused try
# is answered at once (429 with Retry-After) before any hashing, and does not count.
# Failures are forgotten LOGIN_FORGET_SECONDS after the last one; a good login clears the
# account's count (not the address's).

#: kind → (failures allowed without a wait, failures that lock).
LOGIN_LIMITS = {"user": (3, 10), "addr": (10, 30)}
LOGIN_MAX_WAIT = 60
LOGIN_LOCK_SECONDS = 15 * 60
LOGIN_FORGET_SECONDS = 3600


def address_key(db: Database, address: str) -> str:
    """The stored key of a client address: a keyed digest (the address is not stored)."""
    from queue_server.idkey import key_ring

    ring = key_ring(db_path(db))
    mac = hmac.new(ring.keys[ring.current], b"login|" + address.encode("utf-8"), hashlib.sha256)
    return "addr:" + mac.hexdigest()[:32]


def _login_keys(db: Database, username: str, address: str | None) -> list[str]:
    keys = [f"user:{username}"]
    if address:
        keys.append(address_key(db, address))
    return keys


def _check_throttle(db: Database, keys: list[str], now: float) -> None:
    marks = ",".join("?" * len(keys))
    rows = db.conn.execute(
        f"SELECT key, blocked_until, locked FROM login_attempts WHERE key IN ({marks}) AND blocked_until > ?",
        (*keys, now),
    ).fetchall()
    if not rows:
        return
    until = max(float(r[1]) for r in rows)
    retry = max(1, math.ceil(until - now))
    if any(r[2] for r in rows):
        raise QueueError("login_locked", retry_after=retry, minutes=max(1, math.ceil(retry / 60)))
    raise QueueError("login_throttled", retry_after=retry)


def _record_failure(db: Database, keys: list[str], now: float) -> None:
    with write_tx(db) as conn:
        conn.execute("DELETE FROM login_attempts WHERE last_failure < ? AND blocked_until < ?",
                     (now - LOGIN_FORGET_SECONDS, now))
        for key in keys:
            free, lock_after = LOGIN_LIMITS[key.split(":", 1)[0]]
            row = conn.execute("SELECT failures FROM login_attempts WHERE key = ?", (key,)).fetchone()
            failures = (int(row[0]) if row else 0) + 1
            locked = failures >= lock_after
            if locked:
                blocked = now + LOGIN_LOCK_SECONDS
            elif failures > free:
                blocked = now + min(2 ** (failures - free - 1), LOGIN_MAX_WAIT)
            else:
                blocked = 0.0
            conn.execute(
                "INSERT INTO login_attempts (key, failures, last_failure, blocked_until, locked) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, "
                "last_failure = excluded.last_failure, blocked_until = excluded.blocked_until, "
                "locked = excluded.locked",
                (key, failures, now, blocked, int(locked)),
            )


def unlock_login(db: Database, username: str | None = None, *, address: str | None = None,
                 actor: str = "system") -> int:
    """Lift the waits and locks of an account and/or an address; how many were lifted
    (audited ``login.unlocked``)."""
    keys = ([f"user:{username}"] if username else []) + ([address_key(db, address)] if address else [])
    if not keys:
        raise ValidationError("missing_field", field="username")
    marks = ",".join("?" * len(keys))
    with write_tx(db) as conn:
        n = conn.execute(f"DELETE FROM login_attempts WHERE key IN ({marks})", keys).rowcount
        append(conn, LoginUnlocked(username=username or "", address_given=bool(address), cleared=n), actor=actor)
    return int(n)


def login_locks(db: Database, *, now: float | None = None) -> list[dict[str, Any]]:
    """Accounts that must wait or are locked now (addresses show only as a digest)."""
    t = time.time() if now is None else now
    rows = db.conn.execute(
        "SELECT key, failures, blocked_until, locked FROM login_attempts WHERE blocked_until > ? ORDER BY key",
        (t,),
    ).fetchall()
    return [{"key": r[0], "failures": r[1], "until": r[2], "locked": bool(r[3])} for r in rows]


def login(db: Database, username: str, password: str, *, now: float | None = None,
          address: str | None = None, throttle_now: float | None = None) -> dict[str, Any]:
    """Check the password and create a session token with the user's role.

    Throttled per account and per ``address`` (see above): 429 ``login_throttled`` /
    ``login_locked`` before any hashing; 503 ``login_busy`` when every hash slot is taken.
    An unknown or inactive user costs the same one hash as a known one. ``throttle_now``:
    the time the waits are measured in (default ``now``)."""
    bad = Unauthorized("bad_login")
    if not isinstance(username, str) or not isinstance(password, str) or len(password) > 200 \
            or not username or len(username) > 64:
        raise bad
    t = time.time() if now is None else now
    tt = t if throttle_now is None else throttle_now  # the hall's clock (tests move it)
    keys = _login_keys(db, username, address)
    _check_throttle(db, keys, tt)
    row = db.conn.execute(
        "SELECT id, display_name, staff_no, role, password_hash, active FROM users WHERE username = ?",
        (username,),
    ).fetchone()
    ok = check_password(password, row[4] if row is not None else _DUMMY_HASH)
    if row is None or not row[5] or not ok:
        _record_failure(db, keys, tt)
        raise bad
    if db.conn.execute("SELECT 1 FROM login_attempts WHERE key = ?", (keys[0],)).fetchone():
        with write_tx(db) as conn:
            conn.execute("DELETE FROM login_attempts WHERE key = ?", (keys[0],))
    hours = float(get_setting(db, "session_hours") or 12)
    token = create_token(db, row[3], f"login:{username}", user_id=row[0], expires_at=t + hours * 3600)
    return {
        "token": token,
        "expires_at": t + hours * 3600,
        "user": {"id": row[0], "username": username, "name": row[1], "staff_no": row[2], "role": row[3]},
    }
