"""JSON errors for the API: engine errors and HTTP errors become ``{"error": {...}}``.

Paths under ``/api`` never answer with HTML: 404, 405, 413 and even an unexpected 500
get the project's error shape. Other paths keep Flask's defaults (the web pages own them).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from queue_server.errors import QueueError

log = logging.getLogger("queue_server.api")

_HTTP_TEXT = {
    400: ("bad_request", "请求格式错误", "Malformed request"),
    401: ("auth_required", "需要登录或令牌", "Authentication required"),
    403: ("forbidden", "没有权限", "Forbidden"),
    404: ("not_found", "没有这个接口或资源", "Not found"),
    405: ("method_not_allowed", "不支持该请求方法", "Method not allowed"),
    413: ("payload_too_large", "请求内容过大", "Request body too large"),
    415: ("unsupported_media_type", "不支持的内容类型", "Unsupported media type"),
    500: ("internal_error", "服务器内部错误,请稍后重试", "Internal server error"),
}


def error_json(status: int, code: str, message: str, message_en: str = "") -> Response:
    resp = jsonify({"error": {"code": code, "message": message, "message_en": message_en}})
    resp.status_code = status
    return resp


def _is_api() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def register(app: Flask) -> None:
    """Install the handlers on the app (not only the blueprint: 404/405 have no blueprint)."""

    @app.errorhandler(QueueError)
    def _queue_error(e: QueueError) -> Response:
        resp = jsonify(e.as_dict())
        resp.status_code = e.status
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Response | HTTPException:
        if not _is_api():
            return e
        status = e.code or 500
        code, zh, en = _HTTP_TEXT.get(status, ("http_error", "请求失败", e.name))
        resp = error_json(status, code, zh, en)
        valid = getattr(e, "valid_methods", None)
        if status == 405 and valid:
            resp.headers["Allow"] = ", ".join(valid)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> Response | HTTPException:
        if isinstance(e, HTTPException):
            return e
        log.exception("unhandled error on %s %s", request.method, request.path)
        code, zh, en = _HTTP_TEXT[500]
        return error_json(500, code, zh, en)
