"""QR scanner in virtual-serial (USB CDC) mode: one scan per line, read in a thread.

DESIGN §6: prefer the scanner's serial mode — keyboard-wedge mode needs focus and is
eaten by Chinese input methods. Keyboard-wedge mode is still supported by the app root
(characters then Enter, ``[scanner] mode = "keyboard"``). No Kivy here: ``on_scan`` is
called from the reader thread and the app hops to the UI thread itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Longest scan accepted; a QR payload is a code or a URL.
MAX_SCAN = 512


class SerialScanner:
    """Reads ``\\r``/``\\n``-terminated scans from ``port`` and calls ``on_scan(text)``."""

    def __init__(self, port: str, on_scan: Callable[[str], None], baudrate: int = 9600) -> None:
        from hardware.idcard.transport import SerialTransport  # termios, no pyserial

        self.port = port
        self.on_scan = on_scan
        self._transport = SerialTransport(port, baudrate)
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
            except OSError as exc:
                log.warning("scanner %s: %s", self.port, exc)
                self._stop.wait(1.0)
                continue
            for byte in chunk:
                if byte in (10, 13):
                    if buf:
                        text = buf.decode("utf-8", errors="replace").strip()
                        buf.clear()
                        if text:
                            self.on_scan(text)
                elif len(buf) < MAX_SCAN:
                    buf.append(byte)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._transport.close()
