"""One receipt-printer interface over python-escpos transports.

:func:`open_printer` turns a URL (see :mod:`hardware.printer.options`) into a
:class:`ReceiptPrinter`. The transport is a python-escpos printer class — ``Network``,
``Usb``, ``Serial``, ``File`` — or the in-process simulator for ``sim://``; the bytes come
from :mod:`hardware.printer.ticket` / :mod:`hardware.printer.builder`, never from
python-escpos's ``text()`` (DESIGN §6)::

    printer = open_printer("tcp://192.168.1.50:9100", paper=58)
    try:
        printer.print_ticket(ticket)      # raises PaperOut, CoverOpen, Offline, ...
    finally:
        printer.close()

The connection opens lazily and is re-opened after an error, so one object can live as
long as the kiosk. Not thread-safe: one thread per printer.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from hardware.health import DeviceHealth
from hardware.printer._escpos import Escpos, escpos_printer
from hardware.printer.errors import ERROR_FOR_STATE, Offline, PrinterConfigError, PrinterError
from hardware.printer.options import PrinterOptions, PrinterURL
from hardware.printer.sim import get_simulator
from hardware.printer.status import DLE_EOT, PrinterStatus, parse_status
from hardware.printer.ticket import TicketData, render_test_page, render_ticket
from hardware.waitio import readable

#: DLE EOT functions asked for a status: printer, offline cause, paper sensor.
STATUS_QUERIES = (1, 2, 4)


def open_printer(url: str, options: PrinterOptions | None = None, **option_values: Any) -> ReceiptPrinter:
    """A :class:`ReceiptPrinter` for ``url``; options as an object or keywords
    (``open_printer(url, paper=58, chinese=False)``). Raises :class:`PrinterConfigError`
    for a bad URL or option; connecting happens on first use."""
    if options is None:
        options = PrinterOptions.from_dict(option_values)
    elif option_values:
        options = PrinterOptions.from_dict({**options.as_dict(), **option_values})
    return ReceiptPrinter(url, options)


def health(url: str, options: PrinterOptions | None = None, **option_values: Any) -> DeviceHealth:
    """The printer's device health record, from its DLE EOT status (see
    :meth:`PrinterStatus.health`); a bad URL or option is an ``error`` record, not a raise."""
    try:
        printer = open_printer(url, options, **option_values)
    except PrinterError as exc:
        return DeviceHealth("printer", url, "error", f"{exc.zh} / {exc.en}: {exc.detail}")
    try:
        return printer.status().health(url)
    finally:
        printer.close()


class ReceiptPrinter:
    """A thermal receipt printer: print tickets and raw ESC/POS, read its status."""

    def __init__(self, url: str, options: PrinterOptions | None = None) -> None:
        self.url = url
        self.target = PrinterURL.parse(url)
        self.options = options or PrinterOptions()
        self._device: Escpos | None = None

    # -- connection --------------------------------------------------------------
    def _make_device(self) -> Escpos:
        t, o = self.target, self.options
        if t.scheme == "sim":
            return get_simulator(t.host)
        if t.scheme == "tcp":
            return escpos_printer.Network(t.host, t.port, timeout=o.timeout, profile=o.profile)
        if t.scheme == "file":
            return escpos_printer.File(t.path, profile=o.profile)
        if t.scheme == "usb":
            if not escpos_printer.Usb.is_usable():
                raise PrinterConfigError("USB printers need pyusb (pip install pyusb)")
            kw = {k: int(v, 0) for k, v in t.params.items() if k in ("in_ep", "out_ep")}
            return escpos_printer.Usb(t.vendor_id, t.product_id, timeout=int(o.timeout * 1000),
                                      profile=o.profile, **kw)
        if t.scheme == "serial":
            if not escpos_printer.Serial.is_usable():
                raise PrinterConfigError("serial printers need pyserial (pip install pyserial)")
            baud = int(t.params.get("baudrate", "9600"))
            return escpos_printer.Serial(t.path, baudrate=baud, timeout=o.status_timeout,
                                         profile=o.profile)
        raise PrinterConfigError(f"unsupported printer URL {self.url!r}")

    def open(self) -> None:
        """Connect now (otherwise the first print or status connects). Raises :class:`Offline`."""
        if self._device is not None:
            return
        device = self._make_device()
        try:
            device.open()  # the sim's open() is a no-op
            _ = device.device  # python-escpos opens lazily through this property
        except PrinterError:
            raise
        except Exception as exc:  # DeviceNotFoundError, OSError, USBError, SerialException
            raise Offline(f"{self.url}: {exc}".replace("\n", " ")) from exc
        if self.target.scheme != "sim" and not device._device:
            raise Offline(self.url)
        sock = getattr(device, "_device", None)
        if isinstance(sock, socket.socket):
            # small writes (DLE EOT) and their answers must not wait for Nagle/delayed ACK
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._device = device

    def close(self) -> None:
        """Close the connection (safe to call twice); the next use reconnects."""
        device, self._device = self._device, None
        if device is not None and self.target.scheme != "sim":
            try:
                device.close()
            except Exception:
                pass

    def __enter__(self) -> ReceiptPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- output ------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Send raw bytes. Raises :class:`Offline` when the connection fails (and closes it)."""
        self.open()
        assert self._device is not None
        try:
            self._device._raw(data)
        except Exception as exc:
            self.close()
            raise Offline(f"{self.url}: write failed: {exc}") from exc

    def print_bytes(self, data: bytes, check_status: bool = True) -> PrinterStatus | None:
        """Send a rendered receipt. With ``check_status`` the printer is asked first and a
        printer that says it cannot print raises (PaperOut, CoverOpen, PrinterFault,
        Offline); "unknown" prints anyway. Returns the status read before printing."""
        status = self.check_ready() if check_status else None
        self.write(data)
        return status

    def print_ticket(self, ticket: TicketData, check_status: bool = True) -> PrinterStatus | None:
        """Render and print one ticket (see :func:`~hardware.printer.ticket.render_ticket`)."""
        return self.print_bytes(render_ticket(ticket, self.options), check_status)

    def print_test_page(self, check_status: bool = True) -> PrinterStatus | None:
        return self.print_bytes(
            render_test_page(self.options, url=self.url, now=_local_now()), check_status)

    # -- status ------------------------------------------------------------------
    def check_ready(self) -> PrinterStatus:
        """The status, raising the matching :class:`PrinterError` if it cannot print."""
        status = self.status()
        if not status.can_print:
            raise ERROR_FOR_STATE.get(status.state, PrinterError)(status.detail or status.label_en)
        return status

    def status(self) -> PrinterStatus:
        """Ask DLE EOT 1, 2, 4. Unreachable → ``offline``; no answer in
        ``options.status_timeout`` → ``unknown`` (never ``ok``)."""
        try:
            self.open()
        except Offline as exc:
            return PrinterStatus.offline(exc.detail)
        except PrinterConfigError as exc:  # e.g. pyserial missing: we cannot reach it either
            return PrinterStatus.offline(str(exc))
        if self.target.scheme == "file":
            return PrinterStatus.unknown("a device file cannot report status")
        answers: dict[int, int | None] = {}
        sock = getattr(self._device, "_device", None)
        if isinstance(sock, socket.socket):
            try:
                return parse_status(self._query_socket_pipelined(sock))
            except Offline as exc:
                return PrinterStatus.offline(exc.detail)
        if self.target.scheme == "serial":
            try:
                return parse_status(self._query_serial_pipelined())
            except Offline as exc:
                return PrinterStatus.offline(exc.detail)
        for n in STATUS_QUERIES:
            try:
                answers[n] = self._query(n)
            except Offline as exc:
                return PrinterStatus.offline(exc.detail)
            if answers[n] is None:
                break  # a silent printer stays silent: do not wait three times
        return parse_status(answers)

    def _query(self, n: int) -> int | None:
        """One DLE EOT over a USB or simulated device; None on silence."""
        device = self._device
        assert device is not None
        timeout = self.options.status_timeout
        try:
            device._raw(DLE_EOT + bytes([n]))
        except Exception as exc:
            self.close()
            raise Offline(f"{self.url}: {exc}") from exc
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.target.scheme == "usb":  # python-escpos reads with pyusb's 1 s default
                    usb = device.device
                    data = bytes(usb.read(device.in_ep, 16, max(1, int(timeout * 1000))))
                else:
                    data = device._read()
            except Exception:  # a timeout or a driver without reads: silence
                return None
            if data:
                return data[-1]
            if self.target.scheme == "sim" or time.monotonic() >= deadline:
                return None
            time.sleep(0.01)

    def _query_serial_pipelined(self) -> dict[int, int | None]:
        """The status queries in one write over pyserial; ``read(n)`` returns as soon as the
        answers are in (python-escpos's ``_read`` asks for 16 bytes and so always waits for
        the whole timeout)."""
        ser = self._device.device  # type: ignore[union-attr]
        try:
            ser.reset_input_buffer()  # drop stale bytes (late answers, ASB)
            ser.write(b"".join(DLE_EOT + bytes([n]) for n in STATUS_QUERIES))
            ser.timeout = self.options.status_timeout
            got = bytes(ser.read(len(STATUS_QUERIES)))
        except Exception as exc:  # SerialException: the adapter was unplugged
            self.close()
            raise Offline(f"{self.url}: {exc}") from exc
        return {n: (got[i] if i < len(got) else None) for i, n in enumerate(STATUS_QUERIES)}

    def _query_socket_pipelined(self, sock: socket.socket) -> dict[int, int | None]:
        """All :data:`STATUS_QUERIES` in one write; the printer answers them in order, so a
        network status costs one round trip. Missing answers (silence) are None."""
        try:
            while readable(sock, 0):  # drop stale bytes (late answers, ASB)
                if not sock.recv(64):
                    raise Offline(f"{self.url}: connection closed by printer")
            sock.sendall(b"".join(DLE_EOT + bytes([n]) for n in STATUS_QUERIES))
        except Offline:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise Offline(f"{self.url}: {exc}") from exc
        got = b""
        deadline = time.monotonic() + self.options.status_timeout
        while len(got) < len(STATUS_QUERIES):
            left = deadline - time.monotonic()
            if left <= 0 or not readable(sock, left):
                break
            try:
                chunk = sock.recv(len(STATUS_QUERIES) - len(got))
            except OSError as exc:  # reset by the printer: it is gone, not silent
                self.close()
                raise Offline(f"{self.url}: {exc}") from exc
            if not chunk:
                self.close()
                raise Offline(f"{self.url}: connection closed by printer")
            got += chunk
        return {n: (got[i] if i < len(got) else None) for i, n in enumerate(STATUS_QUERIES)}


def _local_now() -> Any:
    from datetime import datetime

    return datetime.now().astimezone()
