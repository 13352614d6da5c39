"""QR scanners (扫码器) in virtual-serial (USB CDC) mode: one scan per line, read in a thread.

DESIGN §6: prefer the scanner's serial mode — keyboard-wedge mode needs focus and is eaten
by Chinese input methods. (Keyboard-wedge mode is the kiosk app's business: characters then
Enter, ``[scanner] mode = "keyboard"``; nothing to open here.) No Kivy: ``on_scan`` is
called from the reader thread and the app hops to its UI thread itself::

    scanner = SerialScanner("/dev/ttyACM0", on_scan=print).start()
    ...
    scanner.close()

Tests and the demo use :class:`hardware.scanner.sim.SimulatedScanner`, a scanner on a pty
(``sim.scan("YY123456")`` sends a line), through this same reader.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from hardware.errors import DeviceError
from hardware.health import DeviceHealth
from hardware.serialport import SerialPort

log = logging.getLogger(__name__)

#: Longest scan accepted; a QR payload is a code or a URL.
MAX_SCAN = 512

__all__ = ["MAX_SCAN", "ScannerPort", "ScannerUnavailable", "SerialScanner", "health", "split_scans"]


class ScannerUnavailable(DeviceError):
    """The scanner's port cannot be opened or went away (``scanner_unavailable``)."""

    code = "scanner_unavailable"


class ScannerPort(SerialPort):
    """The scanner's serial line (scanners default to 9600 baud)."""

    unavailable = ScannerUnavailable


def split_scans(buffer: bytearray, chunk: bytes) -> list[str]:
    """Add ``chunk`` to ``buffer``; return the scans it completed (``\\r``/``\\n``-terminated,
    UTF-8, stripped, empty lines dropped, each at most :data:`MAX_SCAN` bytes)."""
    scans = []
    for byte in chunk:
        if byte in (10, 13):
            if buffer:
                text = buffer.decode("utf-8", errors="replace").strip()
                buffer.clear()
                if text:
                    scans.append(text)
        elif len(buffer) < MAX_SCAN:
            buffer.append(byte)
    return scans


class SerialScanner:
    """Reads scans from ``port`` and calls ``on_scan(text)`` for each (reader thread)."""

    def __init__(self, port: str, on_scan: Callable[[str], None], baudrate: int = 9600) -> None:
        self.port = port
        self.on_scan = on_scan
        self._transport = ScannerPort(port, baudrate)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="qr-scanner")

    def start(self) -> SerialScanner:
        self._thread.start()
        return self

    def _run(self) -> None:
        buf = bytearray()
        while not self._stop.is_set():
            try:
                chunk = self._transport.read(256, 0.2)
            except (OSError, DeviceError) as exc:
                log.warning("scanner %s: %s", self.port, exc)
                self._stop.wait(1.0)
                continue
            for text in split_scans(buf, chunk):
                self.on_scan(text)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._transport.close()


def health(port: str, baudrate: int = 9600, mode: str = "serial") -> DeviceHealth:
    """The scanner's health record: its serial port opens (``ok``) or not (``error``). A
    keyboard-wedge scanner (``mode="keyboard"``) types into the app and cannot be asked:
    ``unknown``."""
    if mode == "keyboard":
        return DeviceHealth("scanner", "keyboard", "unknown",
                            "keyboard-wedge mode: scans arrive as typed text; nothing to probe")
    try:
        ScannerPort(port, baudrate).close()
    except DeviceError as exc:
        return DeviceHealth("scanner", port, "error", f"{exc.zh} / {exc.en}: {exc.detail}")
    return DeviceHealth("scanner", port, "ok", f"port opens at {baudrate} baud")
