"""A raw serial port through the OS tty layer (termios), no third-party dependency.

Works for USB-serial devices (``/dev/ttyUSB0``, ``/dev/ttyACM0``) and for the simulators'
ptys (:mod:`hardware.ptysim`). The ID-card reader (``hardware.idcard.transport``) and the QR
scanner (``hardware.scanner``) read through it; each names the error an unusable port
raises (``unavailable``), so a missing scanner does not say "card reader".
"""

from __future__ import annotations

import os
import termios
import time
import tty

from hardware.errors import DeviceError
from hardware.waitio import readable, writable

BAUD_RATES = {
    9600: termios.B9600,
    19200: termios.B19200,
    38400: termios.B38400,
    57600: termios.B57600,
    115200: termios.B115200,
}


class SerialPort:
    """8N1, raw mode, no flow control, non-blocking reads with a timeout."""

    #: The error raised when the port cannot be opened or goes away.
    unavailable: type[DeviceError] = DeviceError

    def __init__(self, path: str, baudrate: int = 115200) -> None:
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as e:
            raise self.unavailable(f"{path}: {e.strerror}") from e
        self.path = path
        try:
            tty.setraw(self.fd)
            attrs = termios.tcgetattr(self.fd)
            speed = BAUD_RATES.get(baudrate)
            if speed is None:
                raise self.unavailable(f"unsupported baud rate {baudrate}")
            attrs[4] = attrs[5] = speed
            attrs[2] &= ~(termios.CRTSCTS | termios.PARENB | termios.CSTOPB)
            attrs[2] |= termios.CLOCAL | termios.CREAD | termios.CS8
            termios.tcsetattr(self.fd, termios.TCSANOW, attrs)
        except termios.error as e:
            os.close(self.fd)
            raise self.unavailable(f"{path}: {e}") from e
        except DeviceError:
            os.close(self.fd)
            raise

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                writable(self.fd, 0.05)
                continue
            view = view[n:]

    def read(self, max_bytes: int, timeout: float) -> bytes:
        """Up to ``max_bytes`` bytes, waiting at most ``timeout`` s for the first one."""
        ready = readable(self.fd, max(0.0, timeout))
        if not ready:
            return b""
        try:
            return os.read(self.fd, max_bytes)
        except BlockingIOError:
            return b""
        except OSError as e:  # EIO when the other end of a pty went away
            raise self.unavailable(str(e)) from e

    def drain_input(self) -> None:
        """Discard stale bytes (a late answer to an earlier command)."""
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline and self.read(4096, 0.0):
            pass

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
