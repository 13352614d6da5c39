"""What the web pages' routes need from the rest of the server: errors, databases, state.

Kept in one place so the display and console routes stay thin, and so the one function
that reads the hall state for the event stream (:func:`snapshot`) reads it consistently.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Response, jsonify
from flask import abort as flask_abort
from sqlite_utils import Database

from queue_server.db import connect, db_path


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


def snapshot(db: Database) -> dict[str, Any]:
    """The hall state for displays (the engine's ``hall_state``).

    ``hall_state`` reads everything inside one read transaction, so ``last_event_id``
    and the rest describe the same moment: that is what lets a stream resume exactly after it.
    """
    from queue_server.queue import hall_state

    return hall_state(db)
