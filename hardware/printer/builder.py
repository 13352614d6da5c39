"""Compose ESC/POS bytes for a receipt: Chinese text, sizes, rules, QR codes, bitmaps, cut.

:class:`ReceiptBuilder` is the one place that knows the byte-level facts of DESIGN §6:

* Chinese: ``FS &`` once, then raw GB18030 (or GBK) bytes. python-escpos's ``text()`` is not
  used because it prints ``?`` for chunks such as ``：``, ``，`` and ``￥``.
* Sizes with ``GS !`` (``set(custom_size=True)``), which also scales hanzi on Chinese firmware.
* Native QR (``GS ( k``, ~60 bytes) via ``qr(native=True)`` after ``ESC a 1`` — python-escpos
  raises on ``center=True`` for native codes — and a line feed after it.
* The cut is written explicitly when the printer has a cutter: python-escpos's ``cut()``
  silently only feeds on profiles without one.
* Bitmap fallback (``GS v 0`` rasters rendered with Pillow + Noto Sans CJK) for printers
  without a Chinese font, and for characters GBK cannot encode.

Other receipts (a printed approval certificate, a test page) use the same builder::

    b = ReceiptBuilder(PrinterOptions(paper=58))
    b.line("济南市政务服务中心", size=2, align="center", bold=True)
    b.qr("https://hall.example/t/abc")
    b.cut()
    data = b.getvalue()
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

from hardware.printer._escpos import escpos_printer
from hardware.printer.errors import PrinterConfigError
from hardware.printer.options import PrinterOptions

ESC, GS, FS = b"\x1b", b"\x1d", b"\x1c"
ALIGN = {"left": 0, "center": 1, "right": 2}

#: Where we look for a CJK font for the bitmap fallback (first hit wins).
FONT_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "assets" / "fonts",
    Path("/usr/share/fonts/opentype/noto"),
    Path("/usr/share/fonts/noto-cjk"),
    Path("/usr/share/fonts/truetype/noto"),
)


def char_width(ch: str) -> int:
    """Columns a character takes in font A: 2 for hanzi and full-width forms, else 1."""
    if ch < "\x80":
        return 1
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F", "A") else 1


def text_width(text: str) -> int:
    return sum(char_width(c) for c in text)


def wrap(text: str, columns: int) -> list[str]:
    """Wrap by display columns; breaks ASCII words only at spaces when it can."""
    if len(text) * 2 <= columns and "\n" not in text:
        return [text]  # fits even if every character were double width
    lines: list[str] = []
    for para in text.split("\n"):
        current, width = "", 0
        for ch in para:
            w = char_width(ch)
            if width + w > columns and current:
                cut = current.rfind(" ") if ch != " " and ch.isascii() and ch.isalnum() else -1
                if cut > 0 and current[cut + 1:].isascii():
                    lines.append(current[:cut].rstrip())
                    current = current[cut + 1:]
                    width = text_width(current)
                else:
                    lines.append(current.rstrip())
                    current, width = "", 0
                if ch == " ":
                    continue
            current += ch
            width += w
        lines.append(current.rstrip())
    return lines


@lru_cache(maxsize=4)
def cjk_font(px: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """Noto Sans CJK SC at ``px`` pixels (face index 2 of the .ttc collection)."""
    names: tuple[str, ...] = ("NotoSansCJK-Bold.ttc", "NotoSansCJKsc-Bold.otf") if bold else ()
    names += ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf")
    for folder in FONT_CANDIDATES:
        for name in names:
            path = folder / name
            if path.exists():
                index = 2 if path.suffix == ".ttc" else 0
                return ImageFont.truetype(str(path), px, index=index)
    raise PrinterConfigError("no CJK font found for the bitmap fallback (install fonts-noto-cjk)")


class ReceiptBuilder:
    """Accumulates the bytes of one receipt for the given :class:`PrinterOptions`."""

    def __init__(self, options: PrinterOptions | None = None) -> None:
        self.options = options or PrinterOptions()
        self._p = escpos_printer.Dummy(profile=self.options.profile)
        self._size = (1, 1)
        self._align = "left"
        self._bold = False
        self._p._raw(ESC + b"@")  # initialise: clears sizes, alignment, Chinese mode
        if self.options.chinese:
            self._p._raw(FS + b"&")  # enter Chinese (double-byte) character mode

    # -- low level -------------------------------------------------------------------
    def raw(self, data: bytes) -> None:
        self._p._raw(data)

    def _style(self, size: tuple[int, int], align: str, bold: bool) -> None:
        if size != self._size:
            self._p.set(custom_size=True, width=size[0], height=size[1])
            self._size = size
        if align != self._align:
            self._p.set(align=align)
            self._align = align
        if bold != self._bold:
            self._p.set(bold=bold)
            self._bold = bold

    def _encode(self, text: str) -> bytes | None:
        """The bytes to send for ``text`` as printer text, or None when it must be a bitmap."""
        if text.isascii():
            return text.encode("ascii")
        if not self.options.chinese:
            return None
        try:
            return text.encode(self.options.encoding)
        except UnicodeEncodeError:
            return None  # e.g. a rare hanzi outside GBK

    # -- content ---------------------------------------------------------------------
    def line(self, text: str, size: int | tuple[int, int] = 1, align: str = "left",
             bold: bool = False) -> None:
        """Print ``text`` wrapped to the paper at ``size`` (1–8, or (width, height))."""
        w, h = (size, size) if isinstance(size, int) else size
        if not (1 <= w <= 8 and 1 <= h <= 8):
            raise ValueError("size must be 1..8")
        if align not in ALIGN:
            raise ValueError(f"align must be one of {sorted(ALIGN)}")
        for part in wrap(text, max(2, self.options.columns // w)):
            data = self._encode(part)
            if data is None:
                self.bitmap_text(part, (w, h), align, bold)
            else:
                self._style((w, h), align, bold)
                self._p._raw(data + b"\n")

    def title(self, text: str, align: str = "center") -> None:
        """A heading: double width and height when it fits on one line, else double height."""
        fits = text_width(text) * 2 <= self.options.columns
        self.line(text, size=2 if fits else (1, 2), align=align, bold=True)

    def rule(self, char: str = "-") -> None:
        self.line(char * self.options.columns)

    def feed(self, lines: int = 1) -> None:
        self._p._raw(ESC + b"d" + bytes([max(0, min(lines, 255))]))

    def bitmap_text(self, text: str, size: tuple[int, int] = (1, 1), align: str = "left",
                    bold: bool = False) -> None:
        """Render one line with a CJK font and send it as a ``GS v 0`` raster."""
        w, h = size
        font = cjk_font(24 * h, bold)
        left, top, right, bottom = (int(v) for v in font.getbbox(text))
        _, ref_top, _, ref_bottom = (int(v) for v in font.getbbox("国Ag"))  # same line box for every line
        top, bottom = min(top, ref_top), max(bottom, ref_bottom)
        width = min(self.options.dots, max(1, int((right - left) * w / h)))
        glyphs = Image.new("L", (max(1, right - left), bottom - top + 4), 255)
        ImageDraw.Draw(glyphs).text((-left, 2 - top), text, font=font, fill=0)
        if w != h:
            glyphs = glyphs.resize((width, glyphs.height))
        self.image(glyphs, align=align)

    def image(self, img: Image.Image, align: str = "center") -> None:
        """Send a picture (any mode) as a ``GS v 0`` raster, positioned on the paper width.

        Centred and right-aligned pictures are padded to the full width (some firmware
        ignores ``ESC a`` for rasters); left-aligned ones keep their own width.
        """
        dots = self.options.dots
        if img.width > dots:
            img = img.resize((dots, max(1, img.height * dots // img.width)))
        width = dots if align != "left" else (img.width + 7) // 8 * 8
        canvas = Image.new("L", (width, img.height), 255)
        x = {"left": 0, "center": (dots - img.width) // 2, "right": dots - img.width}[align]
        canvas.paste(img.convert("L"), (x, 0))
        # ESC/POS rasters: 1 bit = black dot, MSB first, rows of width/8 bytes.
        bits = canvas.point(lambda v: 0 if v >= 128 else 255, mode="1")
        self._style(self._size, "left", self._bold)
        header = GS + b"v0\x00" + (width // 8).to_bytes(2, "little") + img.height.to_bytes(2, "little")
        self._p._raw(header + bits.tobytes())

    def qr(self, payload: str, size: int | None = None) -> None:
        """A centred QR code: native ``GS ( k`` or a raster image (``options.qr``)."""
        module = size or (6 if self.options.paper == 58 else 8)
        if self.options.qr == "native":
            # normal size: the line feed after the code must not be a 5×-high line
            self._style((1, 1), "center", self._bold)
            self._p.qr(payload, native=True, size=module)
            self._p._raw(b"\n")
        else:
            code = qrcode.QRCode(box_size=module, border=1,
                                 error_correction=qrcode.constants.ERROR_CORRECT_L)
            code.add_data(payload)
            code.make(fit=True)
            self.image(code.make_image().get_image().convert("L"), align="center")
            self.feed(1)

    def cut(self) -> None:
        """Feed past the tear-off bar and cut (if the printer has a cutter)."""
        self._style((1, 1), "left", False)
        self.feed(4)
        if self.options.cutter:
            self._p._raw(GS + b"V\x00")

    def getvalue(self) -> bytes:
        return bytes(self._p.output)
