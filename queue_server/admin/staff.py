"""Staff accounts and device tokens, for the admin pages and CLI.

Password hashes never leave this module: listings have the account's fields and whether
its password is a one-time one. A reset sets a new random one-time password, returns it
(shown once, never stored in clear, never audited), ends the account's login sessions and
flags it so the admin pages ask for a new password at the next login. Device tokens are
shown once when created (only their SHA-256 is stored, :mod:`queue_server.auth`).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sqlite_utils import Database

from queue_server.admin.records import PasswordChanged, PasswordReset, UserChanged
from queue_server.audit.chain import append
from queue_server.audit.records import TokenRevoked
from queue_server.auth import (
    TOKEN_ROLES,
    USER_ROLES,
    check_password,
    clear_cache,
    create_token,
    create_user,
    hash_password,
    unlock_login,
)
from queue_server.db import write_tx
from queue_server.errors import Conflict, NotFound, Unauthorized, ValidationError

#: One-time passwords: 10 characters without look-alikes (no 0/O, 1/l/I).
_ALPHABET = "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789"

#: The account fields an audit record may hold (no name).
_AUDITED = ("role", "active", "staff_no")


def one_time_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(10))


def _user(conn: Any, user_id: int, now: float | None = None) -> dict[str, Any]:
    r = conn.execute(
        "SELECT u.id, u.username, u.display_name, u.staff_no, u.role, u.active, u.created_at, "
        "p.user_id IS NOT NULL, (SELECT COUNT(*) FROM tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL "
        "AND (t.expires_at IS NULL OR t.expires_at > ?)) "
        "FROM users u LEFT JOIN admin_password_resets p ON p.user_id = u.id WHERE u.id = ?",
        (time.time(), user_id)).fetchone()
    if r is None:
        raise NotFound("user_not_found")
    lock = conn.execute("SELECT blocked_until, locked FROM login_attempts WHERE key = ? AND blocked_until > ?",
                        (f"user:{r[1]}", time.time() if now is None else now)).fetchone()
    return {"id": r[0], "username": r[1], "display_name": r[2], "staff_no": r[3], "role": r[4],
            "active": bool(r[5]), "created_at": r[6], "one_time_password": bool(r[7]), "sessions": int(r[8]),
            "login_locked": bool(lock and lock[1]), "login_blocked_until": lock[0] if lock else None}


def unlock_user(db: Database, user_id: int, *, actor: str = "system", now: float | None = None) -> dict[str, Any]:
    """Lift the login wait or lock of an account (audited ``login.unlocked``)."""
    user = _user(db.conn, user_id)
    unlock_login(db, user["username"], actor=actor)
    return get_user(db, user_id, now=now)


def list_users(db: Database, *, now: float | None = None) -> list[dict[str, Any]]:
    """Every staff account (never a password hash), with its login wait or lock at ``now``."""
    return [_user(db.conn, r[0], now) for r in db.conn.execute("SELECT id FROM users ORDER BY role, username")]


def get_user(db: Database, user_id: int, *, now: float | None = None) -> dict[str, Any]:
    return _user(db.conn, user_id, now)


def create_staff(db: Database, *, username: str, display_name: str, staff_no: str = "", role: str = "clerk",
                 password: str | None = None, actor: str = "system") -> dict[str, Any]:
    """Create an account (audited ``user.created``). Without ``password`` a one-time
    password is made and returned once as ``password``."""
    if not isinstance(username, str) or not username.strip() or not isinstance(display_name, str):
        raise ValidationError("bad_user")
    if not isinstance(staff_no, str) or len(staff_no) > 20:
        raise ValidationError("bad_user")
    generated = password is None
    pw = one_time_password() if password is None else password
    user_id = create_user(db, username.strip(), pw, display_name=display_name.strip(), staff_no=staff_no.strip(),
                          role=role, actor=actor)
    if generated:
        with write_tx(db) as conn:
            conn.execute("INSERT OR REPLACE INTO admin_password_resets (user_id, reset_at) VALUES (?, ?)",
                         (user_id, time.time()))
    return {"user": get_user(db, user_id), "password": pw if generated else None}


def _end_sessions(conn: Any, user_id: int) -> int:
    n = conn.execute("UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                     (time.time(), user_id)).rowcount
    return int(n)


def update_user(db: Database, user_id: int, changes: dict[str, Any], *, actor: str = "system",
                acting_user_id: int | None = None, undo_of: int | None = None) -> dict[str, Any]:
    """Edit ``display_name``, ``staff_no``, ``role`` or ``active``. Nobody deactivates or
    demotes themselves, and the last active admin stays; deactivating ends the account's
    login sessions. Audited ``user.changed`` (role, active, staff_no before and after)."""
    if not isinstance(changes, dict):
        raise ValidationError("bad_user")
    allowed = {"display_name", "staff_no", "role", "active"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError("bad_field", field=sorted(unknown)[0])
    with write_tx(db) as conn:
        before = _user(conn, user_id)
        after = {**before, **{k: v for k, v in changes.items() if v is not None}}
        if not isinstance(after["display_name"], str) or not after["display_name"].strip() \
                or len(after["display_name"]) > 64:
            raise ValidationError("bad_user")
        if not isinstance(after["staff_no"], str) or len(after["staff_no"]) > 20:
            raise ValidationError("bad_user")
        if after["role"] not in USER_ROLES:
            raise ValidationError("bad_role", role=after["role"])
        if not isinstance(after["active"], bool):
            raise ValidationError("bad_field", field="active")
        losing_admin = before["role"] == "admin" and before["active"] and (
            after["role"] != "admin" or not after["active"])
        if losing_admin and acting_user_id == user_id:
            raise Conflict("cannot_change_self")
        if losing_admin:
            others = conn.execute("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1 AND id != ?",
                                  (user_id,)).fetchone()[0]
            if not others:
                raise Conflict("last_admin")
        fields = [k for k in ("display_name", "staff_no", "role", "active") if after[k] != before[k]]
        if not fields:
            return before
        conn.execute("UPDATE users SET display_name = ?, staff_no = ?, role = ?, active = ? WHERE id = ?",
                     (after["display_name"].strip(), after["staff_no"].strip(), after["role"], int(after["active"]),
                      user_id))
        if not after["active"] or after["role"] != before["role"]:
            _end_sessions(conn, user_id)  # a session keeps the role it was made with
        append(conn, UserChanged(user_id=user_id, before={k: before[k] for k in _AUDITED},
                                 after={k: after[k] for k in _AUDITED}, fields=fields, undo_of=undo_of),
               actor=actor)
        result = _user(conn, user_id)
    clear_cache()
    return result


def reset_password(db: Database, user_id: int, *, actor: str = "system") -> dict[str, Any]:
    """Set a new one-time password; returns ``{"user", "password"}`` (the password only here)."""
    pw = one_time_password()
    digest = hash_password(pw)
    with write_tx(db) as conn:
        _user(conn, user_id)
        conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (digest, user_id))
        conn.execute("INSERT OR REPLACE INTO admin_password_resets (user_id, reset_at) VALUES (?, ?)",
                     (user_id, time.time()))
        ended = _end_sessions(conn, user_id)
        append(conn, PasswordReset(user_id=user_id, sessions_ended=ended), actor=actor)
        user = _user(conn, user_id)
    clear_cache()
    return {"user": user, "password": pw}


def change_password(db: Database, user_id: int, old: str, new: str) -> None:
    """A member of staff replaces their password (the one-time one, or any)."""
    if not isinstance(new, str) or len(new) < 6 or len(new) > 200:
        raise ValidationError("weak_password")
    row = db.conn.execute("SELECT password_hash FROM users WHERE id = ? AND active = 1", (user_id,)).fetchone()
    if row is None or not isinstance(old, str) or not check_password(old, row[0]):
        raise Unauthorized("bad_login")
    if old == new:
        raise ValidationError("weak_password")
    digest = hash_password(new)
    with write_tx(db) as conn:
        conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (digest, user_id))
        conn.execute("DELETE FROM admin_password_resets WHERE user_id = ?", (user_id,))
        append(conn, PasswordChanged(user_id=user_id), actor=f"user:{user_id}")


def must_change_password(db: Database, user_id: int | None) -> bool:
    if user_id is None:
        return False
    return db.conn.execute("SELECT 1 FROM admin_password_resets WHERE user_id = ?", (user_id,)).fetchone() is not None


# --- device tokens ------------------------------------------------------------------------


def list_device_tokens(db: Database, *, include_revoked: bool = True) -> list[dict[str, Any]]:
    """Device tokens (not login sessions): id, name, role, created, revoked, state."""
    now = time.time()
    out = []
    for r in db.conn.execute("SELECT id, name, role, created_at, expires_at, revoked_at, window FROM tokens "
                             "WHERE user_id IS NULL ORDER BY revoked_at IS NOT NULL, name, id"):
        state = "revoked" if r[5] else ("expired" if r[4] and r[4] <= now else "active")
        if state != "active" and not include_revoked:
            continue
        out.append({"id": r[0], "name": r[1], "role": r[2], "created_at": r[3], "expires_at": r[4],
                    "revoked_at": r[5], "state": state, "window": r[6]})
    return out


def create_device_token(db: Database, role: str, name: str, *, window: int | None = None,
                        actor: str = "system") -> dict[str, Any]:
    """A new device token (audited ``token.created``); the token is in the answer only.
    ``window``: a clerk token that acts at that one window only."""
    if role not in TOKEN_ROLES:
        raise ValidationError("bad_role", role=role)
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("bad_name")
    token = create_token(db, role, name.strip(), window=window, actor=actor)
    row = db.conn.execute("SELECT id FROM tokens WHERE user_id IS NULL AND name = ? ORDER BY id DESC LIMIT 1",
                          (name.strip(),)).fetchone()
    return {"id": row[0], "name": name.strip(), "role": role, "window": window, "token": token}


def revoke_device_token(db: Database, token_id: int, *, actor: str = "system") -> dict[str, Any]:
    """Revoke one device token by id (audited ``token.revoked``); servers notice within 10 s."""
    with write_tx(db) as conn:
        r = conn.execute("SELECT name, revoked_at FROM tokens WHERE id = ? AND user_id IS NULL",
                         (token_id,)).fetchone()
        if r is None:
            raise NotFound("token_not_found")
        if r[1] is None:
            conn.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (time.time(), token_id))
            append(conn, TokenRevoked(token_ids=[token_id], token_name=r[0]), actor=actor)
    clear_cache()
    return next(t for t in list_device_tokens(db) if t["id"] == token_id)
