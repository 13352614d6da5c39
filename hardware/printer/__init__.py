"""Thermal receipt printers (热敏小票打印机): ESC/POS over TCP, USB, serial, device files.

The public API, stable for the kiosk and the server's print queue::

    from hardware.printer import TicketData, open_printer, PaperOut, PrinterError

    printer = open_printer("tcp://192.168.1.50:9100", paper=58)   # or sim://kiosk-01
    status = printer.status()            # PrinterStatus: ok / near_end / paper_out /
                                         # cover_open / offline / error / unknown
    try:
        printer.print_ticket(TicketData(number="A012", hall_name="…", service_name="…"))
    except PaperOut:
        ...                              # show the number on screen, say 打印机缺纸
    except PrinterError as exc:          # exc.code, exc.zh / exc.en (yichuang.errors)
        ...
    printer.close()

    render_ticket(ticket, PrinterOptions(paper=80)) -> bytes      # no printer needed
    health("tcp://192.168.1.50:9100") -> DeviceHealth              # hardware.health record

Simulators: ``sim://NAME`` (in-process, :func:`hardware.printer.sim.get_simulator`) and
:class:`hardware.printer.sim.SimulatedNetworkPrinter` (loopback TCP). See ``docs/printing.md``.
"""

from hardware.printer.builder import ReceiptBuilder
from hardware.printer.driver import ReceiptPrinter, health, open_printer
from hardware.printer.errors import (
    CoverOpen,
    Offline,
    PaperOut,
    PrinterConfigError,
    PrinterError,
    PrinterFault,
    PrinterNotReady,
)
from hardware.printer.options import PrinterOptions, PrinterURL
from hardware.printer.status import PrinterStatus, parse_status
from hardware.printer.ticket import TicketData, render_test_page, render_ticket

__all__ = [
    "CoverOpen",
    "Offline",
    "PaperOut",
    "PrinterConfigError",
    "PrinterError",
    "PrinterFault",
    "PrinterNotReady",
    "PrinterOptions",
    "PrinterStatus",
    "PrinterURL",
    "ReceiptBuilder",
    "ReceiptPrinter",
    "TicketData",
    "health",
    "open_printer",
    "parse_status",
    "render_test_page",
    "render_ticket",
]
