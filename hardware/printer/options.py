"""Printer URLs and options, as a technician types them in the hardware config (TOML).

A printer is named by a URL::

    tcp://192.168.1.50:9100            network printer (raw port 9100)
    usb://0416:5011                    USB (vendor:product, hex); ?in_ep=0x81&out_ep=0x03
    serial:///dev/ttyUSB0?baudrate=19200
    file:///dev/usb/lp0                device file (usblp); cannot report status
    sim://  sim://kiosk-01             in-process simulated printer (tests, demo)

and its options live next to it (``[printer]`` in ``kiosk.toml``, or the ``options`` JSON of a
server printer)::

    [printer]
    url = "tcp://192.168.1.50:9100"
    paper = 80            # 58 or 80 (mm): 384 or 576 dots
    chinese = true        # the printer has a Chinese font: FS & + GB18030 bytes; false = bitmaps
    encoding = "gb18030"  # or "gbk" for older firmware
    cutter = true         # false: feed only (tear-off bar)
    qr = "native"         # or "image" when the firmware has no QR command
    profile = "default"   # python-escpos capability profile name
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from hardware.printer.errors import PrinterConfigError

SCHEMES = ("tcp", "usb", "serial", "file", "sim")

#: Printable width in dots (203 dpi heads) and columns of font A (12 × 24 dots).
PAPER_DOTS = {58: 384, 80: 576}


@dataclass(frozen=True)
class PrinterOptions:
    """How to talk to one printer. Every field has a safe default for a Chinese 80 mm printer."""

    paper: int = 80
    """Paper width in mm: 58 or 80."""
    chinese: bool = True
    """True: the printer has a hanzi font (``FS &`` + GB18030/GBK). False: text as bitmaps."""
    encoding: str = "gb18030"
    """``gb18030`` or ``gbk`` (older firmware). Characters GBK lacks are printed as a bitmap."""
    cutter: bool = True
    """True: cut after each ticket. False: feed to the tear-off bar only."""
    qr: str = "native"
    """``native`` (GS ( k, ~60 bytes) or ``image`` (raster, for firmware without QR)."""
    profile: str = "default"
    """python-escpos capability profile."""
    timeout: float = 5.0
    """Seconds for connecting and writing."""
    status_timeout: float = 0.5
    """Seconds to wait for each DLE EOT answer; silence means status "unknown"."""

    def __post_init__(self) -> None:
        if self.paper not in PAPER_DOTS:
            raise PrinterConfigError(f"paper must be 58 or 80, not {self.paper!r}")
        if self.encoding not in ("gb18030", "gbk"):
            raise PrinterConfigError(f"encoding must be gb18030 or gbk, not {self.encoding!r}")
        if self.qr not in ("native", "image"):
            raise PrinterConfigError(f"qr must be native or image, not {self.qr!r}")

    @property
    def dots(self) -> int:
        """Printable width in dots (384 for 58 mm, 576 for 80 mm)."""
        return PAPER_DOTS[self.paper]

    @property
    def columns(self) -> int:
        """Half-width columns of font A (a hanzi takes two)."""
        return self.dots // 12

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PrinterOptions:
        """Build from a config mapping; unknown keys (``url``, …) are ignored, values coerced."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue
            if key in ("chinese", "cutter"):
                value = _as_bool(key, value)
            elif key == "paper":
                try:
                    value = int(str(value).removesuffix("mm"))
                except ValueError:
                    raise PrinterConfigError(f"paper must be 58 or 80, not {value!r}") from None
            elif key in ("timeout", "status_timeout"):
                value = float(value)
            else:
                value = str(value).lower() if key != "profile" else str(value)
            kwargs[key] = value
        return cls(**kwargs)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise PrinterConfigError(f"{key} must be yes or no, not {value!r}")


@dataclass(frozen=True)
class PrinterURL:
    """A parsed printer URL (see the module docstring for the forms)."""

    scheme: str
    host: str = ""
    port: int = 9100
    path: str = ""
    vendor_id: int = 0
    product_id: int = 0
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @classmethod
    def parse(cls, url: str) -> PrinterURL:
        text = url.strip()
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise PrinterConfigError(
                f"unknown printer URL {url!r}: use tcp://host:9100, usb://VID:PID, "
                "serial:///dev/ttyUSB0?baudrate=19200, file:///dev/usb/lp0 or sim://"
            )
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if scheme == "tcp":
            if not parts.hostname:
                raise PrinterConfigError(f"{url!r} has no host (tcp://host:9100)")
            try:
                port = parts.port or 9100
            except ValueError:
                raise PrinterConfigError(f"{url!r} has a bad port") from None
            return cls(scheme, host=parts.hostname, port=port, params=params, text=text)
        if scheme == "usb":
            ids = parts.netloc or parts.path.strip("/")
            try:
                vid, pid = (int(x, 16) for x in ids.split(":"))
            except ValueError:
                raise PrinterConfigError(f"{url!r}: write usb://VID:PID in hex, e.g. usb://0416:5011") from None
            return cls(scheme, vendor_id=vid, product_id=pid, params=params, text=text)
        if scheme in ("serial", "file"):
            path = unquote(parts.netloc + parts.path)
            if not path:
                raise PrinterConfigError(f"{url!r} has no device path")
            return cls(scheme, path=path, params=params, text=text)
        return cls("sim", host=parts.netloc or parts.path.strip("/") or "default", params=params, text=text)
