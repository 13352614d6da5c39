"""One check's result, in the registry's words (``yichuang/errors.py``: message and advice in
Chinese and English, so a failure always says what to do)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yichuang.errors import fill, lookup

#: Result states, best first, and how the table marks them.
STATES = ("pass", "skip", "warn", "fail")
MARKS = {"pass": "✔", "skip": "–", "warn": "⚠", "fail": "✖"}

#: Every check's name in both languages, in the order the doctor runs them.
CHECKS: dict[str, tuple[str, str]] = {
    "config": ("配置文件", "configuration"),
    "printer": ("打印机", "printer"),
    "test_page": ("测试页", "test page"),
    "idcard": ("身份证阅读器", "ID-card reader"),
    "camera": ("摄像头", "camera"),
    "scanner": ("扫码器", "QR scanner"),
    "audio": ("语音输出", "audio output"),
    "server": ("排队服务器", "queue server"),
    "clock": ("时钟", "clock"),
}


@dataclass
class Finding:
    """``check`` (a key of :data:`CHECKS`), ``target`` (which device: URL, port, source),
    ``state``, ``code`` (a registered code for warn/fail: message and advice), ``detail``
    (what was seen, for the technician) and ``data`` (figures for ``--json``)."""

    check: str
    state: str
    target: str = ""
    detail: str = ""
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(self.state)
        if self.code:
            lookup(self.code)  # a typo in a code is a programming error: fail loudly

    def _text(self, attr: str) -> str:
        return fill(getattr(lookup(self.code), attr), self.params) if self.code else ""

    @property
    def message(self) -> str:
        return self._text("zh")

    @property
    def message_en(self) -> str:
        return self._text("en")

    @property
    def advice(self) -> str:
        return self._text("advice_zh")

    @property
    def advice_en(self) -> str:
        return self._text("advice_en")

    @property
    def title(self) -> tuple[str, str]:
        return CHECKS[self.check]

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "name": self.title[1], "name_zh": self.title[0], "target": self.target,
                "state": self.state, "code": self.code or None, "message": self.message,
                "message_en": self.message_en, "advice": self.advice, "advice_en": self.advice_en,
                "detail": self.detail, **({"data": self.data} if self.data else {})}
