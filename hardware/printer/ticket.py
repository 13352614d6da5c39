"""The queue ticket (排队小票), its reprint (补打) and the printer test page.

A ticket carries no personal data: the hall, the number, the service, the queue position
and wait estimate at issue time, the issue time, the hall's 温馨提示 and a QR code linking to
the public progress page ``<base_url>/t/<progress_code>``::

    data = render_ticket(TicketData(number="A012", hall_name="章丘区政务服务中心",
                                    service_name="企业开办", people_ahead=5, wait_minutes=12,
                                    issued_at=datetime.now(), tip="过号无效，请重新取号",
                                    progress_url="http://hall.example/t/Xk3p9QaZ"),
                         PrinterOptions(paper=58))
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from hardware.printer.builder import ReceiptBuilder
from hardware.printer.options import PrinterOptions

#: Ticket number scale (GS !): 5× on 58 mm (≈15 mm tall), 6× on 80 mm.
NUMBER_SIZE = {58: 5, 80: 6}


@dataclass(frozen=True)
class TicketData:
    """What a ticket shows. Every field but ``number`` may be empty and is then left out."""

    number: str
    """The ticket number, e.g. ``A012``."""
    hall_name: str = ""
    service_name: str = ""
    service_name_en: str = ""
    people_ahead: int | None = None
    """Tickets ahead in the same queue when the ticket was issued."""
    wait_minutes: int | None = None
    """Estimated wait in minutes (people ahead × median service time ÷ open windows)."""
    issued_at: datetime | None = None
    """Issue time in the hall's local time (printed ``YYYY-MM-DD HH:MM``)."""
    tip: str = ""
    """温馨提示 from the hall settings, e.g. ``过号无效，请重新取号``."""
    progress_url: str = ""
    """``<base_url>/t/<progress_code>``; printed as a QR code. No personal data."""
    note: str = ""
    """A line for the citizen, e.g. why a kiosk referred them to a window (转人工)."""
    reprint: bool = False
    """True: a reprint, marked 补打 at the top."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able (``issued_at`` as ISO 8601 with its offset); every field is a scalar, so
        no deep copy is needed (``dataclasses.asdict`` made it 3× slower on the issue path)."""
        d = {name: getattr(self, name) for name in _FIELDS}
        d["issued_at"] = self.issued_at.isoformat() if self.issued_at else None
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TicketData:
        d = dict(data)
        if isinstance(d.get("issued_at"), str):
            d["issued_at"] = datetime.fromisoformat(d["issued_at"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


_FIELDS = tuple(f.name for f in fields(TicketData))


def render_ticket(ticket: TicketData, options: PrinterOptions | None = None) -> bytes:
    """The complete ESC/POS bytes of one ticket, ending with a cut (or a feed, no cutter)."""
    opts = options or PrinterOptions()
    b = ReceiptBuilder(opts)
    if ticket.reprint:
        b.line("【补打 REPRINT】", align="center", bold=True)
    if ticket.hall_name:
        b.title(ticket.hall_name)
    b.feed(1)
    b.line("排队号 Queue No.", align="center")
    b.line(ticket.number, size=NUMBER_SIZE[opts.paper], align="center", bold=True)
    if ticket.service_name:
        b.title(ticket.service_name)
    if ticket.service_name_en:
        b.line(ticket.service_name_en, align="center")
    b.rule()
    if ticket.people_ahead is not None:
        if ticket.people_ahead > 0:
            b.line(f"您前面还有 {ticket.people_ahead} 人等候")
        else:
            b.line("您前面没有人等候，请留意叫号")
    if ticket.wait_minutes is not None and (ticket.people_ahead or 0) > 0:
        b.line(f"预计等候：约 {max(1, ticket.wait_minutes)} 分钟")
    if ticket.issued_at is not None:
        b.line(f"取号时间：{ticket.issued_at:%Y-%m-%d %H:%M}")
    if ticket.note:
        b.line(ticket.note, bold=True)
    if ticket.tip:
        b.rule()
        b.line(f"温馨提示：{ticket.tip}")
    if ticket.progress_url:
        b.feed(1)
        b.qr(ticket.progress_url)
        b.line("扫码查看排队进度", align="center")
        b.line("Scan for queue progress", align="center")
    b.cut()
    return b.getvalue()


def render_test_page(options: PrinterOptions | None = None, *, url: str = "",
                     now: datetime | None = None,
                     qr_payload: str = "https://yichuang.example/t/TEST0001") -> bytes:
    """A technician's test page: Chinese text and punctuation, sizes, the options, a QR, a cut."""
    opts = options or PrinterOptions()
    b = ReceiptBuilder(opts)
    b.title("一窗通 打印测试页")
    b.line("Printer test page", align="center")
    b.rule()
    b.line("中文：政务服务，一窗受理。")
    b.line("标点：，。：；！？（）【】“”")
    b.line("金额：￥12.50 免费办理")
    b.line("English 0123456789 ABC abc")
    b.rule()
    if url:
        b.line(f"URL: {url}")
    b.line(f"纸宽 paper: {opts.paper} mm / {opts.dots} dots")
    b.line(f"中文 chinese: {'on' if opts.chinese else 'off (bitmap)'} {opts.encoding}")
    b.line(f"切刀 cutter: {'yes' if opts.cutter else 'no'}  QR: {opts.qr}")
    if now is not None:
        b.line(f"时间 time: {now:%Y-%m-%d %H:%M:%S}")
    b.line("A001", size=NUMBER_SIZE[opts.paper], align="center", bold=True)
    b.feed(1)
    b.qr(qr_payload)
    b.line("扫码测试 QR test", align="center")
    b.cut()
    return b.getvalue()
