"""Every error the kiosk shows: the one error shape of :mod:`yichuang.errors`.

A :class:`KioskError` is an :class:`~yichuang.errors.AppError`: a stable ``code`` registered in
``yichuang/errors.py`` (origin ``kiosk``), a Chinese and an English message and advice — the
way forward (DESIGN §5: never a dead end) — from that registry. Screens never format
exceptions themselves: they show ``err.message(lang)`` and ``err.advice(lang)``.

Errors from the queue server keep the server's code (:class:`ServerRejected`); for the codes
citizens meet at a kiosk, :data:`_SERVER_CODES` holds wording tuned for the kiosk (every one
of them is a code the server really raises — ``tests/test_errors.py`` checks it); any other
code shows the server's own message.
"""

from __future__ import annotations

from typing import Any

from yichuang.errors import AppError


class KioskError(AppError):
    """Base class (``kiosk_error``). ``detail`` (first argument) is for logs; ``code=`` names
    another registered code."""

    code = "kiosk_error"
    #: True when retrying the same request later may succeed (server down, timeout).
    retryable = False

    def __init__(self, detail: str = "", *, code: str | None = None, **params: Any) -> None:
        super().__init__(code or type(self).code, detail=detail, **params)


class ConfigError(KioskError):
    code = "config_invalid"


class ServerUnavailable(KioskError):
    """Connection refused, DNS failure, timeout or a 5xx: the server may come back."""

    code = "server_unavailable"
    retryable = True


class ServerRejected(KioskError):
    """A 4xx with the server's ``{"error": {"code", "message", "message_en", "advice"…}}``;
    ``code`` is the server's. The text is the kiosk's tuned wording for that code, else the
    server's own message; the advice is the server's, else the kiosk's general one."""

    code = "server_rejected"

    def __init__(self, code: str, server_message: str, status: int, server_message_en: str = "",
                 advice: str = "", advice_en: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(f"HTTP {status}: {server_message_en or server_message}")
        self.code = code  # type: ignore[misc]  # the server's code, not necessarily registered here
        self.status = status
        self.server_message = server_message
        #: The error's ``details`` (e.g. ``opens_at``, ``minutes_late``), as the server sent them.
        self.details = dict(details or {})
        known = _SERVER_CODES.get(code)
        if known:
            self.zh, self.en = known
        elif server_message:
            # The server's messages are already for people ("message" is Chinese,
            # "message_en" English); show them.
            self.zh = server_message
            self.en = server_message_en or server_message
        if advice or advice_en:
            self.advice_zh = advice or advice_en
            self.advice_en = advice_en or advice


class NotFound(ServerRejected):
    pass


class AuthFailed(ServerRejected):
    """401/403: the kiosk token is wrong or revoked — a technician problem. The citizen
    sees the kiosk's own wording (``kiosk_unauthorized``), never the server's message about
    tokens; ``code`` stays the server's (``invalid_token``, ``forbidden`` …) for the log."""

    def __init__(self, code: str, server_message: str, status: int, server_message_en: str = "",
                 advice: str = "", advice_en: str = "") -> None:
        super().__init__(code, server_message, status, server_message_en)
        own = AppError("kiosk_unauthorized")
        self.zh, self.en = own.zh, own.en
        self.advice_zh, self.advice_en = own.advice_zh, own.advice_en


class InputInvalid(KioskError):
    """What the citizen typed or scanned is not valid (checked before any request); the
    raise site names the precise code (``id_number_invalid``, ``scan_not_ticket`` …)."""

    code = "input_invalid"


class PrintFailed(KioskError):
    """The ticket exists on the server, only the paper copy failed."""

    code = "print_failed"


class CardNotRead(KioskError):
    """No card arrived on the reader in time (the swipe step)."""

    code = "card_not_read"


class NoReader(KioskError):
    """This kiosk has no ID-card reader configured."""

    code = "card_reader_missing"


# Server error codes citizens meet at a kiosk, with wording tuned for the kiosk. Every key
# is a code the server raises (tests/test_errors.py); codes not listed here show the
# server's own message.
_SERVER_CODES: dict[str, tuple[str, str]] = {
    "daily_limit": ("该证件今日取号次数已达上限。",
                    "This ID card has reached today's ticket limit for this service."),
    "hall_closed": ("当前不在办理时间，请在办公时间内取号。",
                    "The hall is closed now. Please come back during opening hours."),
    "appointment_not_found": ("未找到预约，请核对预约码或身份证号。",
                              "No appointment found. Please check the code or ID number."),
    "appointment_not_today": ("该预约不是今天的，请在预约日期前来。",
                              "This appointment is not for today."),
    "already_checked_in": ("该预约已签到。", "This appointment has already been checked in."),
    "appointment_not_active": ("该预约已取消或已失效。", "This appointment was cancelled or has expired."),
    "ticket_not_found": ("未找到该号码，请核对后重新输入。",
                         "No ticket with that number today. Please check it."),
}
