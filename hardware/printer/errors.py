"""Every error the printer layer raises: :class:`~hardware.errors.DeviceError` subclasses whose
code, Chinese and English text and advice are rows of ``yichuang/errors.py``.

==========================  =====================  ===========================================
class                       code                   when
==========================  =====================  ===========================================
:class:`PrinterError`       ``printer_error``      base class
:class:`PrinterConfigError` ``printer_config``     bad URL or option, driver dependency missing
:class:`PrinterNotReady`    ``printer_not_ready``  the status says it cannot print (base)
:class:`PaperOut`           ``paper_out``          out of paper
:class:`CoverOpen`          ``cover_open``         paper cover open
:class:`PrinterFault`       ``printer_fault``      cutter jam, head too hot, other fault
:class:`Offline`            ``printer_offline``    unreachable, or says it is offline
==========================  =====================  ===========================================

The kiosk shows ``zh`` and ``advice_zh`` to the citizen (with the number still on screen,
DESIGN §5); the server stores ``code`` in the print job (``str(exc)`` starts with it) and the
technician reads ``en`` and ``detail`` too::

    try:
        printer.print_ticket(ticket)
    except PaperOut:
        ...  # 打印机缺纸 — the number stays on screen
    except PrinterError as exc:
        log.warning("%s", exc)       # "paper_out: Printer is out of paper (detail)"
"""

from __future__ import annotations

from hardware.errors import DeviceError


class PrinterError(DeviceError):
    """Base class. ``code`` is stable (stored in jobs, returned by APIs)."""

    code = "printer_error"


class PrinterConfigError(PrinterError):
    """The URL or an option is wrong, or the driver's dependency is missing."""

    code = "printer_config"


class PrinterNotReady(PrinterError):
    """The printer answered its status and cannot print now (base of the states below)."""

    code = "printer_not_ready"


class PaperOut(PrinterNotReady):
    code = "paper_out"


class CoverOpen(PrinterNotReady):
    code = "cover_open"


class PrinterFault(PrinterNotReady):
    """Cutter jam, head overheating or another error the printer reports."""

    code = "printer_fault"


class Offline(PrinterError):
    """The printer cannot be reached (connection refused, cable, timeout) or says it is offline."""

    code = "printer_offline"


#: status state -> the error that state raises when printing is attempted.
ERROR_FOR_STATE: dict[str, type[PrinterError]] = {
    "paper_out": PaperOut,
    "cover_open": CoverOpen,
    "error": PrinterFault,
    "offline": Offline,
}
