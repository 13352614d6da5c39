"""Every error the kiosk shows, with a stable code and a Chinese + English message.

Screens never format exceptions themselves: they show ``err.message(lang)`` and, where
there is one, ``err.advice(lang)`` — the way forward (DESIGN §5: never a dead end).
"""

from __future__ import annotations


class KioskError(Exception):
    """Base class. ``code`` is stable (logs, tests); ``zh``/``en`` are for people."""

    code = "kiosk_error"
    zh = "系统出现问题，请联系工作人员。"
    en = "Something went wrong. Please ask a member of staff."
    advice_zh = ""
    advice_en = ""
    #: True when retrying the same request later may succeed (server down, timeout).
    retryable = False

    def __init__(self, detail: str = "", *, zh: str | None = None, en: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(detail or (en or self.en))
        self.detail = detail
        if zh is not None:
            self.zh = zh
        if en is not None:
            self.en = en
        if code is not None:
            self.code = code

    def message(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def advice(self, lang: str) -> str:
        return self.advice_zh if lang == "zh" else self.advice_en

    def __str__(self) -> str:
        return f"{self.code}: {self.detail or self.en}"


class ConfigError(KioskError):
    code = "config_invalid"
    zh = "自助机配置有误，请联系技术人员。"
    en = "The kiosk configuration is invalid. Please call a technician."


class ServerUnavailable(KioskError):
    """Connection refused, DNS failure, timeout or a 5xx: the server may come back."""

    code = "server_unavailable"
    zh = "暂时无法连接排队服务器，正在自动重试…"
    en = "Cannot reach the queue server. Retrying automatically…"
    advice_zh = "请稍候，或到咨询台人工取号。"
    advice_en = "Please wait, or ask at the information desk for a number."
    retryable = True


class ServerRejected(KioskError):
    """A 4xx with the server's ``{"error": {"code", "message"}}``; ``code`` is the server's."""

    code = "server_rejected"
    zh = "请求未被受理，请咨询工作人员。"
    en = "The request was not accepted. Please ask a member of staff."
    advice_zh = "请到咨询台或综合窗口咨询。"
    advice_en = "Please ask at the information desk or a universal window."

    def __init__(self, code: str, server_message: str, status: int,
                 server_message_en: str = "") -> None:
        super().__init__(f"HTTP {status}: {server_message_en or server_message}", code=code)
        self.status = status
        self.server_message = server_message
        known = _SERVER_CODES.get(code)
        if known:
            self.zh, self.en = known
        elif server_message:
            # The server's messages are already for people ("message" is Chinese,
            # "message_en" English); show them.
            self.zh = server_message
            self.en = server_message_en or server_message


class NotFound(ServerRejected):
    code = "not_found"


class AuthFailed(ServerRejected):
    """401/403: the kiosk token is wrong or revoked — a technician problem. The citizen
    sees the kiosk's own wording, never the server's message about tokens."""

    code = "unauthorized"

    def __init__(self, code: str, server_message: str, status: int,
                 server_message_en: str = "") -> None:
        super().__init__(code, server_message, status, server_message_en)
        self.zh, self.en = _SERVER_CODES["unauthorized"]
        self.advice_zh = "请到咨询台人工取号。"
        self.advice_en = "Please ask at the information desk for a number."


class InputInvalid(KioskError):
    """What the citizen typed or scanned is not valid (checked before any request)."""

    code = "input_invalid"
    zh = "输入有误，请检查后重新输入。"
    en = "That input is not valid. Please check and try again."


class PrintFailed(KioskError):
    """The ticket exists on the server, only the paper copy failed."""

    code = "print_failed"
    zh = "小票打印失败，您的号码已生效。"
    en = "The ticket could not be printed, but your number is valid."
    advice_zh = "请记下屏幕上的号码，或用手机扫描二维码查看排队进度。"
    advice_en = "Please note the number on screen, or scan the QR code with your phone."


# Server error codes the kiosk expects, with wording tuned for a citizen at a kiosk.
# Codes not listed here show the server's own message.
_SERVER_CODES: dict[str, tuple[str, str]] = {
    "unauthorized": ("自助机未获授权，请联系技术人员。",
                     "This kiosk is not authorised. Please call a technician."),
    "forbidden": ("自助机未获授权，请联系技术人员。",
                  "This kiosk is not authorised. Please call a technician."),
    "service_not_found": ("该事项暂不可办理，请选择其他事项。",
                          "This service is not available. Please choose another one."),
    "daily_limit": ("该证件今日取号次数已达上限。",
                    "This ID card has reached today's ticket limit for this service."),
    "limit_reached": ("该证件今日取号次数已达上限。",
                      "This ID card has reached today's ticket limit for this service."),
    "hall_closed": ("当前不在办理时间，请在办公时间内取号。",
                    "The hall is closed now. Please come back during opening hours."),
    "appointment_not_found": ("未找到预约，请核对预约码或身份证号。",
                              "No appointment found. Please check the code or ID number."),
    "appointment_not_today": ("该预约不是今天的，请在预约日期前来。",
                              "This appointment is not for today."),
    "already_checked_in": ("该预约已签到。", "This appointment has already been checked in."),
    "appointment_cancelled": ("该预约已取消。", "This appointment was cancelled."),
    "ticket_not_found": ("未找到该号码，请核对后重新输入。",
                         "No ticket with that number today. Please check it."),
}
