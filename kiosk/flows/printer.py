"""The kiosk's own receipt printer: print what the server says a ticket says, report how it went.

The kiosk builds no ticket of its own: the queue server answers ``POST /api/tickets`` and
the check-in with the ticket's ``receipt`` — hall name, number, service, people ahead, wait,
issue time in the hall's time zone, the hall's tip and the progress URL, built by the one
builder the server's print queue uses too (``queue_server.printing.jobs.receipt``) — and
this module prints exactly that (``hardware.printer.TicketData.from_dict``), so a kiosk
ticket and a server reprint say the same thing.

The ticket exists on the server before printing starts; printing can only fail to produce
paper. :meth:`KioskPrinter.print_receipt` therefore never raises: it returns a
:class:`PrintOutcome` that the ticket screen shows next to the number (DESIGN §5).
Layout, encoding and transports are ``hardware.printer``'s job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.errors import PrintFailed

log = logging.getLogger(__name__)


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
    """Advice for the citizen: the number is valid; why the paper did not come out (the
    device error's registry text, e.g. 打印机缺纸)."""
    base = PrintFailed()
    reason_zh = str(getattr(err, "zh", "") or "")
    reason_en = str(getattr(err, "en", "") or "")
    reason_en = reason_en[:1].lower() + reason_en[1:]  # inside a sentence: "(printer is out of paper)"
    zh = f"小票未能打印（{reason_zh}），您的号码已生效。" if reason_zh else base.zh
    en = (f"The ticket could not be printed ({reason_en}), but your number is valid."
          if reason_en else base.en)
    code = str(getattr(err, "code", "") or base.code)
    return PrintOutcome("failed", code, zh, en, base.advice_zh, base.advice_en)


class KioskPrinter:
    """Wraps one ``hardware.printer`` driver (the kiosk's ``[printer]`` config); one print
    at a time. Status is checked before each ticket, so paper-out is reported, not lost."""

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.options = {k: v for k, v in (options or {}).items() if k != "url"}
        self._lock = threading.Lock()
        self._printer: Any = None

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> KioskPrinter:
        return cls(str(section.get("url") or ""), section)

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def _open(self) -> Any:
        if self._printer is None:
            from hardware.printer import open_printer

            self._printer = open_printer(self.url, **self.options)
        return self._printer

    def print_receipt(self, receipt: Mapping[str, Any]) -> PrintOutcome:
        """Print ``receipt`` — the ``receipt`` of the server's ticket answer, a
        ``TicketData`` as a dict — exactly as given."""
        if not self.enabled:
            return DISABLED
        number = receipt.get("number", "?")
        try:
            from hardware.printer import TicketData

            data = TicketData.from_dict(dict(receipt))
        except (ImportError, TypeError, ValueError) as exc:  # a broken install or answer
            log.warning("ticket %s not printed: %s", number, exc)
            return _failed(exc)
        with self._lock:
            try:
                self._open().print_ticket(data)
            except Exception as exc:  # every printer fault ends as advice on screen
                log.warning("ticket %s not printed: %s", number, exc)
                self._drop()
                return _failed(exc)
        log.info("ticket %s printed on %s", number, self.url)
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
