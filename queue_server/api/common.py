"""Request helpers of the API: the caller's role, the JSON body, typed fields."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request

from queue_server.app import get_db
from queue_server.auth import READ_ONLY_ROLES, TOKEN_ROLES, Principal, verify_token
from queue_server.errors import BadRequest, Forbidden, Unauthorized, ValidationError
from queue_server.queue.access import ANYWHERE, Acting
from queue_server.slots import holding

F = TypeVar("F", bound=Callable[..., Any])

ALL_ROLES = TOKEN_ROLES
STAFF = ("clerk", "admin")


def _token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    if request.method == "GET":
        return request.args.get("token") or None
    return None


def principal() -> Principal:
    p: Principal = g.principal
    return p


def authenticate() -> Principal:
    """The caller's principal, or a 401."""
    token = _token()
    if not token:
        raise Unauthorized("auth_required")
    p = verify_token(get_db(), token)
    if request.method == "GET" and not request.headers.get("Authorization") and p.role not in READ_ONLY_ROLES:
        # ?token= is for display pages and EventSource: read-only roles only.
        raise Unauthorized("query_token_not_allowed")
    return p


def roles(*allowed: str) -> Callable[[F], F]:
    """Route decorator: the caller must hold one of ``allowed`` roles (admin always may)."""

    def deco(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with holding(_slots()):
                p = authenticate()
                if p.role != "admin" and p.role not in allowed:
                    raise Forbidden("forbidden", role=p.role)
                g.principal = p
                return fn(*args, **kwargs)

        return cast(F, wrapper)

    return deco


def _slots() -> threading.Semaphore:
    """The app's API work slots (``API_CONCURRENCY``, default 2 per process).

    waitress needs many threads per process because every open display stream holds
    one, but when many API requests run at once their threads fight for the GIL (SQLite
    releases it on every call) and each request costs far more CPU. Only a couple of
    API requests do work at a time; the others wait, blocked, for a slot. Streams are not
    API views and never take a slot.
    """
    sem: threading.Semaphore = current_app.extensions["yichuang.api_slots"]
    return sem


#: SQLite's INTEGER range: a number outside it cannot be stored nor compared in a query.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class _OutOfRange(ValueError):
    pass


def _parse_int(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _OutOfRange(text[:30])
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise _OutOfRange(text[:30])
    return value


def _parse_constant(text: str) -> float:  # NaN, Infinity, -Infinity: not JSON
    raise _OutOfRange(text)


def body() -> dict[str, Any]:
    """The JSON object of the request (empty body = ``{}``); 400 if malformed, 422
    ``number_out_of_range`` for a number no column can hold (an integer outside SQLite's
    int64, 1e999, NaN/Infinity) — wherever it sits in the body, so no route sees one."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except _OutOfRange as exc:
        raise ValidationError("number_out_of_range") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("malformed_json") from exc
    if not isinstance(data, dict):
        raise BadRequest("json_object_required")
    return data


def field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = False,
          max_len: int | None = None) -> Any:
    """A typed field of the body; 422 when required and missing or of the wrong type."""
    value = data.get(name)
    if value is None:
        if required:
            raise ValidationError("missing_field", field=name)
        return None
    if isinstance(value, bool) and kind is not bool and not (isinstance(kind, tuple) and bool in kind):
        raise ValidationError("bad_field", field=name)
    if not isinstance(value, kind):
        raise ValidationError("bad_field", field=name)
    if max_len is not None and isinstance(value, str) and len(value) > max_len:
        raise ValidationError("field_too_long", field=name, max_len=max_len)
    return value


def idempotency_key() -> str | None:
    """``Idempotency-Key`` header, scoped to the caller's token (None when absent); 422
    ``bad_idempotency_key`` over 100 characters."""
    raw = request.headers.get("Idempotency-Key", "").strip()
    if not raw:
        return None
    if len(raw) > 100:
        raise ValidationError("bad_idempotency_key")
    return f"{principal().token_id}:{raw}"


def actor() -> str:
    """Who is acting, as the audit records it: ``user:<id>`` for a login, ``token:<name>``
    for a device token."""
    p = principal()
    return f"user:{p.user_id}" if p.user_id is not None else f"token:{p.name}"


def acting() -> Acting:
    """Who acts at a window, for the window rule (:mod:`queue_server.queue.access`): admins
    anywhere; a logged-in clerk at the windows they have open; a clerk device token at its
    bound window (or, unbound, where no clerk is signed in). Every window action hands this
    to the engine as ``clerk_user_id``."""
    p = principal()
    if p.role == "admin":
        return ANYWHERE
    if p.user_id is not None:
        return Acting(user_id=p.user_id)
    return Acting(bound_window=p.window)


#: The name window routes have always used; it now carries the whole rule, not a user id.
clerk_id = acting
