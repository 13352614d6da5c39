"""A small ESC/POS decoder for tests, and a preview renderer built on it.

:func:`decode` walks the bytes a printer would receive and yields what it would do:
:class:`Text` lines (decoded GB18030/GBK after ``FS &``, with the size, alignment and bold in
force), :class:`QR` payloads (``GS ( k`` store + print), :class:`Raster` images
(``GS v 0``), :class:`Feed`, :class:`Cut` and :class:`StatusQuery` (``DLE EOT n``). Unknown
commands raise, so a renderer bug cannot hide behind them.

:func:`render_png` draws a receipt from its bytes (text at its ``GS !`` size with a CJK font,
the QR from its payload, rasters as sent), so the committed previews show what the bytes
say — not what the renderer meant::

    python -m tests.support.escpos_decode preview --paper 58 --out docs/ticket-preview-58mm.png
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ESC, GS, FS, DLE, LF = 0x1B, 0x1D, 0x1C, 0x10, 0x0A


@dataclass
class Text:
    text: str
    width: int = 1
    height: int = 1
    align: str = "left"
    bold: bool = False


@dataclass
class QR:
    payload: str
    module: int = 3
    ec: str = "L"
    align: str = "left"


@dataclass
class Raster:
    width: int  # dots
    height: int
    data: bytes = field(repr=False)
    align: str = "left"

    def pixel(self, x: int, y: int) -> bool:
        row = self.width // 8
        return bool(self.data[y * row + x // 8] & (0x80 >> (x % 8)))


@dataclass
class Feed:
    lines: int


@dataclass
class Cut:
    partial: bool


@dataclass
class StatusQuery:
    n: int


Item = Text | QR | Raster | Feed | Cut | StatusQuery
ALIGNS = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}


class DecodeError(ValueError):
    pass


def decode(data: bytes, encoding: str = "gb18030") -> Iterator[Item]:
    """Walk ``data`` and yield what the printer does. Text is decoded with ``encoding``
    once ``FS &`` is seen, as ASCII before it (non-ASCII without ``FS &`` is an error:
    a printer would show mojibake)."""
    i, n = 0, len(data)
    chinese = False
    width = height = 1
    align, bold = "left", False
    line = bytearray()
    qr_store: bytes | None = None
    qr_module, qr_ec = 3, "L"

    def flush() -> Text:
        raw = bytes(line)
        line.clear()
        if chinese:
            text = raw.decode(encoding)
        else:
            try:
                text = raw.decode("ascii")
            except UnicodeDecodeError as exc:
                raise DecodeError(f"non-ASCII text without FS &: {raw!r}") from exc
        return Text(text, width, height, align, bold)

    def need(k: int) -> bytes:
        if i + k > n:
            raise DecodeError(f"truncated command at byte {i}")
        return data[i:i + k]

    while i < n:
        c = data[i]
        if c == LF:
            yield flush()
            i += 1
            continue
        if c not in (ESC, GS, FS, DLE):
            line.append(c)
            i += 1
            continue
        if line:  # a command in the middle of a line: emit what we have
            yield flush()
        cmd = need(2)
        d = cmd[1]
        if c == DLE and d == 0x04:
            yield StatusQuery(need(3)[2])
            i += 3
        elif c == FS and d == 0x26:
            chinese = True
            i += 2
        elif c == FS and d == 0x2E:
            chinese = False
            i += 2
        elif c == ESC and d == 0x40:
            chinese, width, height, align, bold = False, 1, 1, "left", False
            i += 2
        elif c == ESC and d == 0x61:
            align = ALIGNS[need(3)[2]]
            i += 3
        elif c == ESC and d == 0x45:
            bold = bool(need(3)[2] & 1)
            i += 3
        elif c == ESC and d == 0x64:
            yield Feed(need(3)[2])
            i += 3
        elif c == ESC and d == 0x21:
            m = need(3)[2]
            width, height = (2 if m & 0x20 else 1), (2 if m & 0x10 else 1)
            i += 3
        elif c == ESC and d in (0x2D, 0x4D, 0x74, 0x33, 0x20, 0x7B, 0x47):
            i += 3
        elif c == ESC and d == 0x32:
            i += 2
        elif c == GS and d == 0x21:
            m = need(3)[2]
            width, height = (m >> 4) + 1, (m & 0x0F) + 1
            i += 3
        elif c == GS and d == 0x56:
            m = need(3)[2]
            yield Cut(partial=m in (1, 49, 66))
            i += 4 if m in (65, 66) else 3
        elif c == GS and d == 0x76:
            head = need(8)
            w_bytes = head[4] | head[5] << 8
            h = head[6] | head[7] << 8
            body = need(8 + w_bytes * h)[8:]
            yield Raster(w_bytes * 8, h, body, align)
            i += 8 + w_bytes * h
        elif c == GS and d == 0x28:
            head = need(5)
            size = head[3] | head[4] << 8
            body = need(5 + size)[5:]
            i += 5 + size
            if head[2] != ord("k"):
                raise DecodeError(f"unsupported GS ( {chr(head[2])}")
            cn, fn = body[0], body[1]
            if cn != ord("1"):
                raise DecodeError("only QR (cn=49) 2D codes are expected")
            if fn == ord("C"):
                qr_module = body[2]
            elif fn == ord("E"):
                qr_ec = "LMQH"[body[2] - 48]
            elif fn == ord("P"):
                qr_store = body[3:]
            elif fn == ord("Q"):
                if qr_store is None:
                    raise DecodeError("QR print without stored data")
                yield QR(qr_store.decode("utf-8"), qr_module, qr_ec, align)
                qr_store = None
        elif c == GS and d in (0x42, 0x48, 0x66, 0x68, 0x77):
            i += 3
        else:
            raise DecodeError(f"unknown command {data[i:i + 3]!r} at byte {i}")
    if line:
        yield flush()


def text_lines(data: bytes, encoding: str = "gb18030") -> list[str]:
    """Just the non-empty text lines, in order."""
    return [it.text for it in decode(data, encoding) if isinstance(it, Text) and it.text]


def render_png(data: bytes, dots: int, out: str | Path, encoding: str = "gb18030",
               scale: int = 1) -> Path:
    """Draw the receipt the bytes describe on a white strip ``dots`` wide."""
    import qrcode
    from PIL import Image, ImageDraw, ImageFont

    font_path = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
    bold_path = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
    pieces: list[Image.Image] = []

    def place(img: Image.Image, align: str) -> None:
        strip = Image.new("L", (dots, img.height), 255)
        x = {"left": 0, "center": (dots - img.width) // 2, "right": dots - img.width}[align]
        strip.paste(img, (max(0, x), 0))
        pieces.append(strip)

    for item in decode(data, encoding):
        if isinstance(item, Text):
            h = 24 * item.height
            if not item.text:
                pieces.append(Image.new("L", (dots, h + 6), 255))
                continue
            font = ImageFont.truetype(bold_path if item.bold else font_path, h, index=2)
            # font A's half-width cells: a monospaced face, so "m" fits its 12 dots
            mono = ImageFont.truetype(font_path, h, index=7)
            # font A cell: 12 × 24 dots per column, hanzi two columns
            cols = sum(2 if ord(ch) > 0x7F else 1 for ch in item.text)
            img = Image.new("L", (max(1, 12 * item.width * cols), h + 6), 255)
            draw = ImageDraw.Draw(img)
            x = 0
            for ch in item.text:
                cw = 24 if ord(ch) > 0x7F else 12
                glyph = Image.new("L", (cw * item.height, h + 6), 255)
                ImageDraw.Draw(glyph).text((cw * item.height // 2, h // 2 + 3), ch,
                                           font=font if cw == 24 else mono, fill=0, anchor="mm",
                                           stroke_width=item.height if item.bold and cw == 12 else 0)
                glyph = glyph.resize((cw * item.width, h + 6))
                img.paste(glyph, (x, 0))
                x += cw * item.width
            del draw
            place(img, item.align)
        elif isinstance(item, QR):
            code = qrcode.QRCode(box_size=item.module, border=0,
                                 error_correction=getattr(qrcode.constants, f"ERROR_CORRECT_{item.ec}"))
            code.add_data(item.payload)
            code.make(fit=True)
            place(code.make_image().get_image().convert("L"), item.align)
        elif isinstance(item, Raster):
            img = Image.frombytes("1", (item.width, item.height), item.data)
            img = img.convert("L").point(lambda v: 255 - v)  # ESC/POS: 1 bit = black
            place(img.crop((0, 0, min(item.width, dots), item.height)), item.align)
        elif isinstance(item, Feed):
            pieces.append(Image.new("L", (dots, 30 * item.lines), 255))
        elif isinstance(item, Cut):
            cut = Image.new("L", (dots, 12), 255)
            ImageDraw.Draw(cut).line([(0, 6), (dots, 6)], fill=0, width=1)
            for x in range(0, dots, 16):
                ImageDraw.Draw(cut).line([(x, 6), (x + 8, 6)], fill=255, width=1)
            pieces.append(cut)
    margin = 24
    total = sum(p.height for p in pieces) + 2 * margin
    page = Image.new("L", (dots + 2 * margin, total), 255)
    y = margin
    for p in pieces:
        page.paste(p, (margin, y))
        y += p.height
    ImageDraw.Draw(page).rectangle([0, 0, page.width - 1, page.height - 1], outline=160)
    if scale != 1:
        page = page.resize((page.width * scale, page.height * scale), Image.Resampling.NEAREST)
    out = Path(out)
    page.save(out)
    return out


def sample_ticket(paper: int, chinese: bool = True) -> bytes:
    """The ticket the docs preview shows (fixed data, no clock)."""
    from datetime import datetime

    from hardware.printer import PrinterOptions, TicketData, render_ticket

    ticket = TicketData(
        number="A012", hall_name="章丘区政务服务中心", service_name="企业开办",
        service_name_en="Business registration", people_ahead=5, wait_minutes=12,
        issued_at=datetime(2026, 11, 23, 9, 15), tip="过号无效，请重新取号。本大厅办事不收费（￥0）。",
        progress_url="http://192.168.1.10:8080/t/Xk3p9QaZ2m")
    return render_ticket(ticket, PrinterOptions(paper=paper, chinese=chinese))


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["preview", "dump"])
    ap.add_argument("--paper", type=int, default=58)
    ap.add_argument("--bitmap", action="store_true", help="render with chinese=off")
    ap.add_argument("--file", help="decode this file instead of the sample ticket")
    ap.add_argument("--out", default="ticket-preview.png")
    args = ap.parse_args()
    raw = Path(args.file).read_bytes() if args.file else sample_ticket(args.paper, not args.bitmap)
    if args.command == "dump":
        for it in decode(raw):
            print(it)
    else:
        print(render_png(raw, 384 if args.paper == 58 else 576, args.out), len(raw), "bytes")
