"""What the web pages' routes need from the rest of the server: tokens, databases, state.

Kept in one place so the display and console routes stay thin, and so the one function
that reads the hall state for the event stream (:func:`snapshot`) reads it consistently.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from flask import Response, g, jsonify, request
from flask import abort as flask_abort
from sqlite_utils import Database

from queue_server.auth import Principal, verify_token
from queue_server.db import connect, db_path
from queue_server.errors import QueueError


def error_response(status: int, code: str, message: str, message_en: str = "") -> Response:
    resp = jsonify({"error": {"code": code, "message": message, "message_en": message_en}})
    resp.status_code = status
    return resp


def abort(status: int, code: str, message: str, message_en: str = "") -> NoReturn:
    """Stop the request with the project's JSON error body."""
    flask_abort(error_response(status, code, message, message_en))


def request_db() -> Database:
    """The request's database connection (the app's ``get_db``)."""
    from queue_server import get_db

    return get_db()


def stream_db() -> Database:
    """A connection of its own for a long-lived stream (closed by the stream)."""
    return connect(db_path(request_db()))


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def require(roles: Iterable[str], allow_query_token: bool = False) -> Principal:
    """The caller if its token's role is one of ``roles``; else a 401 or 403 JSON error.

    ``allow_query_token`` accepts ``?token=`` (EventSource and ``<audio>`` cannot set
    headers); only read-only routes pass it.
    """
    token = _bearer() or (request.args.get("token") if allow_query_token else None)
    if not token:
        abort(401, "auth_required", "需要登录或令牌", "A token is required")
    try:
        principal = verify_token(request_db(), token)
    except QueueError as e:
        abort(e.status, e.code, e.message, e.message_en)
    if principal.role not in tuple(roles):
        abort(403, "forbidden", "没有权限", "This role may not do that")
    g.yichuang_principal = principal
    return principal


def snapshot(db: Database) -> dict[str, Any]:
    """The hall state for displays (the engine's ``hall_state``).

    ``hall_state`` reads everything inside one read transaction, so ``last_event_id``
    and the rest describe the same moment: that is what lets a stream resume exactly after it.
    """
    from queue_server.queue import hall_state

    return hall_state(db)
