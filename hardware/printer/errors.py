"""Every error the printer layer raises, each with a stable code and a zh + en message.

The kiosk shows ``message_zh`` to the citizen (with the number still on screen, DESIGN §5);
the server stores ``code`` in the print job and the technician reads ``message_en`` too::

    try:
        printer.print_ticket(ticket)
    except PaperOut:
        ...  # 打印机缺纸 — the number stays on screen
    except PrinterError as exc:
        log.warning("%s: %s", exc.code, exc)
"""

from __future__ import annotations


class PrinterError(Exception):
    """Base class. ``code`` is stable (stored in jobs, returned by APIs)."""

    code = "printer_error"
    message_zh = "打印机故障"
    message_en = "printer error"

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        text = f"{self.message_zh} / {self.message_en}"
        super().__init__(f"{text}: {detail}" if detail else text)

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": str(self)}


class PrinterConfigError(PrinterError):
    """The URL or an option is wrong, or the driver's dependency is missing."""

    code = "printer_config"
    message_zh = "打印机配置错误"
    message_en = "printer configuration error"


class PrinterNotReady(PrinterError):
    """The printer answered its status and cannot print now (base of the states below)."""

    code = "printer_not_ready"
    message_zh = "打印机暂不可用"
    message_en = "printer not ready"


class PaperOut(PrinterNotReady):
    code = "paper_out"
    message_zh = "打印机缺纸"
    message_en = "printer is out of paper"


class CoverOpen(PrinterNotReady):
    code = "cover_open"
    message_zh = "打印机纸仓盖未关"
    message_en = "printer cover is open"


class PrinterFault(PrinterNotReady):
    """Cutter jam, head overheating or another error the printer reports."""

    code = "printer_fault"
    message_zh = "打印机报告故障"
    message_en = "printer reports an error"


class Offline(PrinterError):
    """The printer cannot be reached (connection refused, cable, timeout) or says it is offline."""

    code = "printer_offline"
    message_zh = "打印机离线"
    message_en = "printer is offline"


#: status state -> the error that state raises when printing is attempted.
ERROR_FOR_STATE: dict[str, type[PrinterError]] = {
    "paper_out": PaperOut,
    "cover_open": CoverOpen,
    "error": PrinterFault,
    "offline": Offline,
}
