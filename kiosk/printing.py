"""The kiosk's own receipt printer: print a ticket, report what happened.

The ticket exists on the server before printing starts; printing can only fail to
produce paper. :meth:`KioskPrinter.print_ticket` therefore never raises: it returns a
:class:`PrintOutcome` that the ticket screen shows next to the number (DESIGN §5).
Layout, encoding and transports are ``hardware.printer``'s job.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.client import Ticket
from kiosk.errors import PrintFailed

log = logging.getLogger(__name__)

HALL_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class PrintOutcome:
    """``status``: ``printed``, ``failed`` or ``disabled`` (no printer configured)."""

    status: str
    code: str = ""
    zh: str = ""
    en: str = ""
    advice_zh: str = ""
    advice_en: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "printed"

    def message(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def advice(self, lang: str) -> str:
        return self.advice_zh if lang == "zh" else self.advice_en


PRINTED = PrintOutcome("printed", "printed", "请取走小票", "Please take your ticket")
DISABLED = PrintOutcome("disabled", "no_printer", "本机未配置打印机，请记下号码或扫码",
                        "No printer here: note the number or scan the QR code")


def _failed(err: BaseException) -> PrintOutcome:
    """Advice for the citizen: the number is valid; why the paper did not come out."""
    base = PrintFailed()
    reason_zh = str(getattr(err, "message_zh", "") or "")
    reason_en = str(getattr(err, "message_en", "") or "")
    zh = f"小票未能打印（{reason_zh}），您的号码已生效。" if reason_zh else base.zh
    en = (f"The ticket could not be printed ({reason_en}), but your number is valid."
          if reason_en else base.en)
    code = str(getattr(err, "code", "") or base.code)
    return PrintOutcome("failed", code, zh, en, base.advice_zh, base.advice_en)


#: [printer] keys that are not driver options.
_NOT_OPTIONS = ("url", "tip")


class KioskPrinter:
    """Wraps one ``hardware.printer`` driver (the kiosk's ``[printer]`` config); one print
    at a time. Status is checked before each ticket, so paper-out is reported, not lost."""

    def __init__(self, url: str, options: dict[str, Any] | None = None, tip: str = "") -> None:
        self.url = url
        self.options = {k: v for k, v in (options or {}).items() if k not in _NOT_OPTIONS}
        self.tip = tip
        self._lock = threading.Lock()
        self._printer: Any = None

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> KioskPrinter:
        return cls(str(section.get("url") or ""), section, str(section.get("tip") or ""))

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def _open(self) -> Any:
        if self._printer is None:
            from hardware.printer import open_printer

            self._printer = open_printer(self.url, **self.options)
        return self._printer

    def print_ticket(self, ticket: Ticket, *, hall_name: str, progress_url: str,
                     service_name: str, service_name_en: str = "", note: str = "",
                     lang: str = "zh") -> PrintOutcome:
        if not self.enabled:
            return DISABLED
        try:
            from hardware.printer import TicketData
        except ImportError as exc:  # a broken install must not stop the ticket
            return _failed(exc)
        issued = (dt.datetime.fromtimestamp(float(ticket.issued_at), HALL_TZ).replace(tzinfo=None)
                  if ticket.issued_at else None)
        wait = ticket.estimated_wait_minutes
        data = TicketData(
            number=ticket.number, hall_name=hall_name, service_name=service_name,
            service_name_en=service_name_en, people_ahead=ticket.waiting_ahead,
            wait_minutes=None if wait is None else int(round(wait)), issued_at=issued,
            tip=self.tip, progress_url=progress_url, note=note)
        with self._lock:
            try:
                self._open().print_ticket(data)
            except Exception as exc:  # every printer fault ends as advice on screen
                log.warning("ticket %s not printed: %s", ticket.number, exc)
                self._drop()
                return _failed(exc)
        log.info("ticket %s printed on %s", ticket.number, self.url)
        return PRINTED

    def _drop(self) -> None:
        printer, self._printer = self._printer, None
        close = getattr(printer, "close", None)
        if close:
            try:
                close()
            except Exception:  # closing a broken printer must not hide the first error
                log.debug("printer close failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._drop()
