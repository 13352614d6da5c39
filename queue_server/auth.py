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
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server.audit.chain import append
from queue_server.audit.records import TokenCreated, TokenRevoked, UserCreated
from queue_server.db import db_path, write_tx
from queue_server.errors import Unauthorized, ValidationError
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
    actor: str = "system",
) -> str:
    """Store a new token (hashed) and return the plain token, which is never stored.
    Device tokens are audited; login sessions are not (they are not a change to the hall)."""
    if role not in TOKEN_ROLES:
        raise ValidationError("bad_role", role=role)
    if not name or len(name) > 100:
        raise ValidationError("bad_name")
    token = new_token()
    with write_tx(db) as conn:
        cur = conn.execute(
            "INSERT INTO tokens (name, role, token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (name, role, hash_token(token), user_id, time.time(), expires_at),
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
        "SELECT id, name, role, user_id, created_at, expires_at, revoked_at FROM tokens ORDER BY id"
    ).fetchall()
    return [
        {"id": r[0], "name": r[1], "role": r[2], "user_id": r[3], "created_at": r[4], "expires_at": r[5],
         "revoked_at": r[6]}
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
        "SELECT t.id, t.role, t.name, t.user_id, t.expires_at, t.revoked_at, u.display_name, u.staff_no, u.active "
        "FROM tokens t LEFT JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
        (th,),
    ).fetchone()
    if row is None or row[5] is not None or (row[3] is not None and not row[8]):
        raise Unauthorized("invalid_token")
    if row[4] is not None and t >= row[4]:
        raise Unauthorized("token_expired")
    p = Principal(token_id=row[0], role=row[1], name=row[2], user_id=row[3], user_name=row[6],
                  staff_no=row[7], expires_at=row[4])
    with _cache_lock:
        if len(_cache) > 10000:
            _cache.clear()
        _cache[key] = (mono, p)
    return p


# --- passwords and users -----------------------------------------------------------------


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, hash_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode("utf-8"), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p),
            dklen=len(hash_hex) // 2,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), hash_hex)


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


def login(db: Database, username: str, password: str, *, now: float | None = None) -> dict[str, Any]:
    """Check the password and create a session token with the user's role."""
    bad = Unauthorized("bad_login")
    if not isinstance(username, str) or not isinstance(password, str) or len(password) > 200:
        raise bad
    row = db.conn.execute(
        "SELECT id, display_name, staff_no, role, password_hash, active FROM users WHERE username = ?",
        (username,),
    ).fetchone()
    if row is None:
        check_password(password, hash_password("timing-equaliser"))
        raise bad
    if not row[5] or not check_password(password, row[4]):
        raise bad
    t = time.time() if now is None else now
    hours = float(get_setting(db, "session_hours") or 12)
    token = create_token(db, row[3], f"login:{username}", user_id=row[0], expires_at=t + hours * 3600)
    return {
        "token": token,
        "expires_at": t + hours * 3600,
        "user": {"id": row[0], "username": username, "name": row[1], "staff_no": row[2], "role": row[3]},
    }
