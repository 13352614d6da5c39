"""Printed documents other than queue tickets: an approval certificate, a 一次性告知单, a
licence copy. A document is data — a title and a list of blocks — so the server's print
queue can store it as a job payload and render it for each printer's options::

    doc = DocumentData(title="高龄津贴核准通知", hall_name="章丘区政务服务中心", blocks=(
        Block.field("办件编号", "SP20261202000001"),
        Block.field("申请人", "王*兰"),
        Block.rule(),
        Block.qr("https://hall.example/v/ABC…", "扫码核验", "Scan to verify"),
    ))
    data = render_document(doc, PrinterOptions(paper=58))

Rendering reuses :class:`~hardware.printer.builder.ReceiptBuilder` (Chinese text path,
``GS !`` sizes, native QR, bitmap fallback, cut), like the ticket.

Block kinds:

* ``heading`` — bold, double height; ``text`` — wrapped (``bold``, ``align``);
* ``field`` — ``label：value`` on one wrapped line;
* ``big`` — a large centred value (a queue number) with an optional label above it;
* ``bullets`` — numbered (``numbered``) or dotted lines;
* ``rule`` — a dashed line; ``feed`` — blank lines;
* ``qr`` — a centred QR code of ``payload`` with a caption (and English caption) below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hardware.printer.builder import ReceiptBuilder
from hardware.printer.options import PrinterOptions
from hardware.printer.ticket import NUMBER_SIZE

BLOCK_KINDS = ("heading", "text", "field", "big", "bullets", "rule", "feed", "qr")


@dataclass(frozen=True)
class Block:
    kind: str
    text: str = ""
    label: str = ""
    items: tuple[str, ...] = ()
    payload: str = ""
    caption: str = ""
    caption_en: str = ""
    bold: bool = False
    align: str = "left"
    numbered: bool = False
    lines: int = 1

    @classmethod
    def heading(cls, text: str) -> Block:
        return cls("heading", text=text)

    @classmethod
    def text_(cls, text: str, *, bold: bool = False, align: str = "left") -> Block:
        return cls("text", text=text, bold=bold, align=align)

    @classmethod
    def field(cls, label: str, value: str) -> Block:
        return cls("field", label=label, text=value)

    @classmethod
    def big(cls, value: str, label: str = "") -> Block:
        return cls("big", text=value, label=label)

    @classmethod
    def bullets(cls, items: list[str] | tuple[str, ...], *, numbered: bool = False) -> Block:
        return cls("bullets", items=tuple(items), numbered=numbered)

    @classmethod
    def rule(cls) -> Block:
        return cls("rule")

    @classmethod
    def feed(cls, lines: int = 1) -> Block:
        return cls("feed", lines=lines)

    @classmethod
    def qr(cls, payload: str, caption: str = "", caption_en: str = "") -> Block:
        return cls("qr", payload=payload, caption=caption, caption_en=caption_en)

    def as_dict(self) -> dict[str, Any]:
        defaults = Block(self.kind)
        d: dict[str, Any] = {"kind": self.kind}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name != "kind" and value != getattr(defaults, name):
                d[name] = list(value) if isinstance(value, tuple) else value
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Block:
        known = set(cls.__dataclass_fields__)
        d = {k: v for k, v in data.items() if k in known}
        if "items" in d:
            d["items"] = tuple(str(i) for i in d["items"])
        if d.get("kind") not in BLOCK_KINDS:
            raise ValueError(f"unknown block kind {d.get('kind')!r}")
        return cls(**d)


@dataclass(frozen=True)
class DocumentData:
    """A printed document: ``title`` (and ``title_en``) under the hall's name, then blocks,
    then the issue time. ``reprint`` marks it 补打 at the top."""

    title: str
    hall_name: str = ""
    title_en: str = ""
    blocks: tuple[Block, ...] = field(default=())
    issued_at: datetime | None = None
    reprint: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "hall_name": self.hall_name, "title_en": self.title_en,
                "blocks": [b.as_dict() for b in self.blocks],
                "issued_at": self.issued_at.isoformat() if self.issued_at else None,
                "reprint": self.reprint}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentData:
        issued = data.get("issued_at")
        return cls(title=str(data.get("title", "")), hall_name=str(data.get("hall_name", "")),
                   title_en=str(data.get("title_en", "")),
                   blocks=tuple(Block.from_dict(b) for b in data.get("blocks", [])),
                   issued_at=datetime.fromisoformat(issued) if isinstance(issued, str) else None,
                   reprint=bool(data.get("reprint", False)))


def _block(b: ReceiptBuilder, block: Block, paper: int) -> None:
    if block.kind == "heading":
        b.line(block.text, size=(1, 2), align=block.align, bold=True)
    elif block.kind == "text":
        b.line(block.text, align=block.align, bold=block.bold)
    elif block.kind == "field":
        b.line(f"{block.label}：{block.text}" if block.label else block.text, bold=block.bold)
    elif block.kind == "big":
        if block.label:
            b.line(block.label, align="center")
        b.line(block.text, size=NUMBER_SIZE[paper] - 1, align="center", bold=True)
    elif block.kind == "bullets":
        for i, item in enumerate(block.items, 1):
            b.line(f"{i}. {item}" if block.numbered else f"· {item}")
    elif block.kind == "rule":
        b.rule()
    elif block.kind == "feed":
        b.feed(block.lines)
    elif block.kind == "qr":
        b.feed(1)
        b.qr(block.payload)
        if block.caption:
            b.line(block.caption, align="center")
        if block.caption_en:
            b.line(block.caption_en, align="center")


def render_document(doc: DocumentData, options: PrinterOptions | None = None) -> bytes:
    """The complete ESC/POS bytes of a document, ending with a cut (or a feed, no cutter)."""
    opts = options or PrinterOptions()
    b = ReceiptBuilder(opts)
    if doc.reprint:
        b.line("【补打 REPRINT】", align="center", bold=True)
    if doc.hall_name:
        b.title(doc.hall_name)
    b.title(doc.title)
    if doc.title_en:
        b.line(doc.title_en, align="center")
    b.rule()
    for block in doc.blocks:
        _block(b, block, opts.paper)
    if doc.issued_at is not None:
        b.rule()
        b.line(f"打印时间：{doc.issued_at:%Y-%m-%d %H:%M}")
    b.cut()
    return b.getvalue()
