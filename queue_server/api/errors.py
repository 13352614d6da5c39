"""JSON errors for the API: engine errors and HTTP errors become ``{"error": {...}}``.

Every :class:`~queue_server.errors.QueueError` gets its body from
:meth:`~yichuang.errors.AppError.as_dict` and its registered status, wherever it is raised.
Paths under ``/api`` never answer with HTML: 404, 405, 413 and even an unexpected 500 get
the project's error shape. Other paths keep Flask's defaults (the web pages own them).
"""

from __future__ import annotations

import logging
import sqlite3

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from queue_server.errors import QueueError
from queue_server.storage import FaultLog, fault_code
from yichuang.errors import body_for

log = logging.getLogger("queue_server.api")

#: HTTP errors raised by Flask/werkzeug itself, by status → registered code.
_HTTP_CODES = {
    400: "bad_request",
    401: "auth_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}


def _is_api() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def _respond(body: dict, status: int) -> Response:  # type: ignore[type-arg]
    resp = jsonify(body)
    resp.status_code = status
    return resp


def register(app: Flask) -> None:
    """Install the handlers on the app (not only the blueprint: 404/405 have no blueprint)."""

    @app.errorhandler(QueueError)
    def _queue_error(e: QueueError) -> Response:
        resp = _respond(e.as_dict(), e.status)
        retry = e.details.get("retry_after")
        if retry is not None:
            resp.headers["Retry-After"] = str(retry)
        return resp

    faults = app.extensions.setdefault("yichuang.storage_faults", FaultLog())

    @app.errorhandler(sqlite3.Error)
    def _storage_error(e: sqlite3.Error) -> Response:
        code = fault_code(e)
        if code is None:
            log.exception("database error on %s %s", request.method, request.path)
            return _respond(body_for("internal_error"), 500)
        log.warning("storage fault on %s %s: %s (%s)", request.method, request.path, code, e)
        faults.record(code, str(e))
        resp = _respond(body_for(code), 503)
        resp.headers["Retry-After"] = "10"
        return resp

    @app.errorhandler(OverflowError)
    def _overflow(e: OverflowError) -> Response:
        # A query parameter read with ``type=int`` can be any size; SQLite cannot bind one
        # outside int64 ("Python int too large to convert to SQLite INTEGER"). Bodies are
        # bounded when parsed (api.common.body) and path ids by the int converter.
        if not _is_api():
            raise e
        log.info("number out of range on %s %s: %s", request.method, request.path, e)
        return _respond(body_for("number_out_of_range"), 422)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Response | HTTPException:
        if not _is_api():
            return e
        status = e.code or 500
        code = _HTTP_CODES.get(status, "bad_request" if status < 500 else "internal_error")
        resp = _respond(body_for(code), status)
        valid = getattr(e, "valid_methods", None)
        if status == 405 and valid:
            resp.headers["Allow"] = ", ".join(valid)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> Response | HTTPException:
        if isinstance(e, HTTPException):
            return e
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(body_for("internal_error"), 500)
