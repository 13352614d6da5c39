"""Real-time printer status (``DLE EOT n``) and what it means.

ESC/POS answers each ``10 04 n`` with one byte whose bits 1 and 4 are always 1 and bits 0
and 7 always 0 (``byte & 0x93 == 0x12``):

====  ==================  =====================================================
 n    status of           bits we read
====  ==================  =====================================================
 1    printer             0x08 offline
 2    offline cause       0x04 cover open, 0x20 stopped at paper end, 0x40 error
 3    error cause         0x08 cutter error, 0x20 unrecoverable, 0x40 auto-recoverable
 4    roll paper sensor   0x0C paper near end, 0x60 paper end
====  ==================  =====================================================

A printer that does not answer in time (a file device, a firmware with real-time commands
off, a cable that lost its read line) is **unknown**, never "ok" — python-escpos reads
silence as "paper adequate" (DESIGN §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hardware.health import DeviceHealth

DLE_EOT = b"\x10\x04"

#: Ordered from worst to best; ``state`` is the first that applies.
STATES = ("offline", "cover_open", "paper_out", "error", "unknown", "near_end", "ok")

#: Chinese + English labels for screens and the technician page.
STATE_LABELS = {
    "ok": ("正常", "ready"),
    "near_end": ("纸将用完", "paper near end"),
    "paper_out": ("缺纸", "out of paper"),
    "cover_open": ("纸仓盖打开", "cover open"),
    "offline": ("离线", "offline"),
    "error": ("故障", "error"),
    "unknown": ("状态未知", "status unknown"),
}


def is_status_byte(value: int) -> bool:
    """True when ``value`` has the fixed bits of a DLE EOT answer."""
    return value & 0x93 == 0x12


@dataclass(frozen=True)
class PrinterStatus:
    """A snapshot of the printer. ``None`` fields were not answered."""

    state: str
    """One of :data:`STATES`."""
    online: bool | None = None
    paper: str | None = None
    """``ok``, ``near_end``, ``out`` or None (no answer)."""
    cover_open: bool | None = None
    error: bool | None = None
    detail: str = ""
    raw: dict[int, int] = field(default_factory=dict)
    """DLE EOT n → answer byte."""

    @property
    def ok(self) -> bool:
        """Known good: ready (possibly near end). ``unknown`` is not ok."""
        return self.state in ("ok", "near_end")

    @property
    def can_print(self) -> bool:
        """Worth sending a job: ready, near end, or unknown (we cannot tell, so we try)."""
        return self.state in ("ok", "near_end", "unknown")

    @property
    def label_zh(self) -> str:
        return STATE_LABELS[self.state][0]

    @property
    def label_en(self) -> str:
        return STATE_LABELS[self.state][1]

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "online": self.online, "paper": self.paper,
                "cover_open": self.cover_open, "error": self.error, "detail": self.detail,
                "label": f"{self.label_zh} / {self.label_en}"}

    def health(self, name: str) -> DeviceHealth:
        """This status as the device health record of printer ``name``: ready → ``ok``;
        near end → ``warning``; no answer → ``unknown``; offline, cover open, paper out or a
        fault → ``error``."""
        state = {"ok": "ok", "near_end": "warning", "unknown": "unknown"}.get(self.state, "error")
        detail = f"{self.label_zh} / {self.label_en}" + (f" — {self.detail}" if self.detail else "")
        return DeviceHealth("printer", name, state, detail)

    @classmethod
    def unknown(cls, detail: str = "no answer to DLE EOT") -> PrinterStatus:
        return cls("unknown", detail=detail)

    @classmethod
    def offline(cls, detail: str) -> PrinterStatus:
        return cls("offline", online=False, detail=detail)


def parse_status(answers: dict[int, int | None]) -> PrinterStatus:
    """Turn DLE EOT answers (``{1: 0x12, 2: 0x12, 4: 0x12}``; None = silence) into a status.

    Bytes without the fixed bits count as silence (line noise, an ASB frame).
    """
    raw = {n: b for n, b in answers.items() if b is not None and is_status_byte(b)}
    if not raw:
        return PrinterStatus.unknown()
    online = None if 1 not in raw else not raw[1] & 0x08
    cover = None if 2 not in raw else bool(raw[2] & 0x04)
    error = None
    if 2 in raw:
        error = bool(raw[2] & 0x40)
    if 3 in raw:
        error = bool(error) or bool(raw[3] & 0x68)
    paper = None
    if 4 in raw:
        paper = "out" if raw[4] & 0x60 else "near_end" if raw[4] & 0x0C else "ok"
    if 2 in raw and raw[2] & 0x20:
        paper = "out"
    if cover:
        state = "cover_open"
    elif paper == "out":
        state = "paper_out"
    elif error:
        state = "error"
    elif online is False:
        state = "offline"
    elif paper is None or online is None:
        state = "unknown"  # partial answers: do not claim "ok"
    elif paper == "near_end":
        state = "near_end"
    else:
        state = "ok"
    return PrinterStatus(state, online=online, paper=paper, cover_open=cover, error=error,
                         raw=raw)


def status_byte(n: int, *, offline: bool = False, cover_open: bool = False,
                paper: str = "ok", error: bool = False) -> int:
    """The answer a printer in this condition gives to ``DLE EOT n`` (used by simulators)."""
    b = 0x12
    if n == 1 and (offline or cover_open or paper == "out" or error):
        b |= 0x08
    elif n == 2:
        b |= (0x04 if cover_open else 0) | (0x20 if paper == "out" else 0) | (0x40 if error else 0)
    elif n == 3 and error:
        b |= 0x40
    elif n == 4:
        b |= 0x60 if paper == "out" else 0x0C if paper == "near_end" else 0
    return b
