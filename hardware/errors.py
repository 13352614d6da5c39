"""The base of the device errors: a stable ``code`` and a Chinese + English message.

Subclasses set the three class attributes; the kiosk shows ``message_zh`` (or
``message_en``), logs and audit records keep ``code``::

    class NoCard(IdCardError):
        code = "idcard.no_card"
        message_zh = "未检测到身份证，请将身份证放在感应区"
        message_en = "No ID card found; place the card on the reader"
"""

from __future__ import annotations


class DeviceError(Exception):
    code = "device.error"
    message_zh = "设备故障"
    message_en = "Device error"

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(f"{self.code}: {self.message_en}" + (f" ({detail})" if detail else ""))
