"""The base of every device error: the one error shape of :mod:`yichuang.errors`.

A device error is an :class:`~yichuang.errors.AppError` whose ``code`` is registered in
``yichuang/errors.py`` (origin ``device``, snake_case with the device as prefix:
``idcard_no_card``, ``camera_unavailable``, ``paper_out``); its Chinese and English text and
advice come from that registry, never from the raise site. The kiosk shows ``zh`` (or ``en``)
and ``advice_zh``; logs, print-job rows and audit records keep ``code``; ``detail`` is free text
for technicians::

    class NoCard(IdCardError):
        code = "idcard_no_card"

    raise NoCard("find answered 00 00 80")
    # NoCard.code == "idcard_no_card", .zh == "未检测到身份证，请将身份证放在感应区"

``detail`` is the first positional argument (devices mostly know *what* failed, in words for
a technician); another registered code may be named with ``code=``.
"""

from __future__ import annotations

from typing import Any

from yichuang.errors import AppError


class DeviceError(AppError):
    """Base class of the device errors (``device_error``)."""

    code = "device_error"

    def __init__(self, detail: str = "", *, code: str | None = None, **params: Any) -> None:
        super().__init__(code or type(self).code, detail=detail, **params)
