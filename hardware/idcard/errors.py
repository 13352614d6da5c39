"""Typed errors of the ID-card reader, each with a stable code and a Chinese + English message."""

from __future__ import annotations

from hardware.errors import DeviceError


class IdCardError(DeviceError):
    """Base class. ``code`` is stable (logs, audit, kiosk messages); ``message_zh`` is shown."""

    code = "idcard.error"
    message_zh = "身份证读取失败"
    message_en = "ID card could not be read"


class ReaderUnavailable(IdCardError):
    code = "idcard.reader_unavailable"
    message_zh = "身份证阅读器未连接"
    message_en = "ID card reader is not connected"


class ReaderTimeout(IdCardError):
    code = "idcard.timeout"
    message_zh = "身份证阅读器无响应"
    message_en = "ID card reader did not answer in time"


class FrameError(IdCardError):
    """A response frame that cannot be parsed (bad length, truncated, garbage)."""

    code = "idcard.bad_frame"
    message_zh = "读卡数据有误，请重新放卡"
    message_en = "Corrupted data from the reader; place the card again"


class ChecksumError(FrameError):
    code = "idcard.bad_checksum"


class NoCard(IdCardError):
    code = "idcard.no_card"
    message_zh = "未检测到身份证，请将身份证放在感应区"
    message_en = "No ID card found; place the card on the reader"


class CardRemoved(IdCardError):
    code = "idcard.card_removed"
    message_zh = "读卡过程中身份证被移开，请重新放卡并保持不动"
    message_en = "The card was removed while reading; place it again and hold still"


class SamStatusError(IdCardError):
    """The SAM module answered with a failure status (SW3 other than 0x90/0x9F)."""

    code = "idcard.sam_status"

    def __init__(self, sw: tuple[int, int, int], meaning: str) -> None:
        self.sw = sw
        super().__init__(f"SW={sw[0]:02X} {sw[1]:02X} {sw[2]:02X} {meaning}")


class InvalidCardData(IdCardError):
    code = "idcard.invalid_data"
    message_zh = "身份证信息校验失败，请到窗口办理"
    message_en = "The card data failed validation; please go to a service window"
