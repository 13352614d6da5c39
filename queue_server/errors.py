"""Typed errors of the queue server: the one error shape of :mod:`yichuang.errors` plus an
HTTP status.

Every code and its Chinese and English text live in the registry (``yichuang.errors.CODES``);
a raise site names the code and fills the placeholders::

    raise Conflict("window_closed", window=3)

The API turns any :class:`QueueError` into ``{"error": {"code", "message", "message_en",
"advice"?, "advice_en"?, "details"?}}`` with the registry's status. The classes below exist
so callers can catch a family (``except NotFound``); each checks that its code's registered
status is its own.
"""

from __future__ import annotations

from typing import Any, ClassVar

from yichuang.errors import AppError


class QueueError(AppError):
    """Base class of the server's errors; ``status`` is the code's registered HTTP status."""

    #: The HTTP status this class stands for (None: any).
    family_status: ClassVar[int | None] = None

    def __init__(self, code: str | None = None, *, detail: str = "", **params: Any) -> None:
        super().__init__(code, detail=detail, **params)
        if self.spec.origin != "server":
            raise ValueError(f"{self.code} is a {self.spec.origin} code, not a server code")
        if self.family_status is not None and self.spec.status != self.family_status:
            raise ValueError(f"{self.code} is registered with status {self.spec.status}, "
                             f"not {self.family_status} ({type(self).__name__})")

    @property
    def status(self) -> int:
        return self.spec.status


class BadRequest(QueueError):
    """400: the request could not be read (malformed JSON, wrong content type)."""

    family_status = 400


class Unauthorized(QueueError):
    """401: no token, or an unknown, expired or revoked one."""

    family_status = 401


class Forbidden(QueueError):
    """403: the token's role may not do this."""

    family_status = 403


class NotFound(QueueError):
    """404: no such ticket, window, appointment or path."""

    family_status = 404


class Conflict(QueueError):
    """409: the request is valid but the hall's state does not allow it now."""

    family_status = 409


class ValidationError(QueueError):
    """422: well-formed but invalid input (unknown service, bad ID check digit, …)."""

    family_status = 422


class Unavailable(QueueError):
    """503: the server cannot do this now (too many streams, storage trouble)."""

    family_status = 503


def unknown_service(code: object) -> ValidationError:
    return ValidationError("unknown_service", service=code)


def ticket_not_found(ticket_id: object) -> NotFound:
    return NotFound("ticket_not_found", ticket=ticket_id)


def window_not_found(number: object) -> NotFound:
    return NotFound("window_not_found", window=number)
