"""Typed errors of the queue server, each with a stable code, an HTTP status and zh + en text.

The engine raises these; the API turns them into ``{"error": {"code", "message",
"message_en"}}`` with :attr:`QueueError.status`. ``message`` is Simplified Chinese because
that is what kiosks and consoles show; ``message_en`` is the English line.

    raise Conflict("ticket_not_called", "该号码当前未被叫号", "The ticket is not called")
"""

from __future__ import annotations

from typing import Any


class QueueError(Exception):
    """Base class: never raised directly, use one of the status classes below."""

    status = 400

    def __init__(self, code: str, message: str, message_en: str = "", **details: Any) -> None:
        super().__init__(f"{code}: {message_en or message}")
        self.code = code
        self.message = message
        self.message_en = message_en
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "message_en": self.message_en,
        }
        if self.details:
            body["details"] = self.details
        return {"error": body}


class BadRequest(QueueError):
    """400: the request could not be read (malformed JSON, wrong content type)."""

    status = 400


class Unauthorized(QueueError):
    """401: no token, or an unknown, expired or revoked one."""

    status = 401


class Forbidden(QueueError):
    """403: the token's role may not do this."""

    status = 403


class NotFound(QueueError):
    """404: no such ticket, window, appointment or path."""

    status = 404


class Conflict(QueueError):
    """409: the request is valid but the hall's state does not allow it now."""

    status = 409


class PayloadTooLarge(QueueError):
    """413: the request body is larger than the server accepts."""

    status = 413


class ValidationError(QueueError):
    """422: well-formed but invalid input (unknown service, bad ID check digit, …)."""

    status = 422


def unknown_service(code: object) -> ValidationError:
    return ValidationError("unknown_service", f"未知的事项:{code}", f"Unknown service: {code}")


def ticket_not_found(ticket_id: object) -> NotFound:
    return NotFound("ticket_not_found", "找不到该号码", f"No ticket {ticket_id}")


def window_not_found(number: object) -> NotFound:
    return NotFound("window_not_found", f"没有 {number} 号窗口", f"No window {number}")
