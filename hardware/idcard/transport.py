"""The ID-card reader's serial line: :class:`hardware.serialport.SerialPort` (termios, raw,
no third-party dependency) whose failures are :class:`ReaderUnavailable`.

Works for USB-serial readers (/dev/ttyUSB0, /dev/ttyACM0) and for the simulator's pty.
"""

from __future__ import annotations

from hardware.serialport import SerialPort

from .errors import ReaderUnavailable


class SerialTransport(SerialPort):
    """8N1, raw mode, no flow control. SAM readers default to 115200 baud."""

    unavailable = ReaderUnavailable
