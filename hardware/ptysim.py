"""A simulated serial device on a pseudo-terminal pair — the plumbing every pty simulator shares.

The driver under test opens :attr:`PtySimulator.port` (the pty's slave, ``/dev/pts/N``)
exactly as it would open ``/dev/ttyUSB0``; the simulator owns the master end and answers in
a thread of its own. Subclasses say what the device does with what it is sent
(:meth:`received`) and push what it sends on its own (:meth:`send`)::

    class Echo(PtySimulator):
        def received(self, data: bytes) -> None:
            self.send(data)

    with Echo() as sim:                   # the thread runs until close()
        port = SerialPort(sim.port)       # the real driver, on the slave end

Used by the ID-card reader (``hardware.idcard.simulator.SamSimulator``: the SAM protocol),
the QR scanner (``hardware.scanner.sim.SimulatedScanner``: a line per scan) and the serial
receipt printer (``hardware.printer.sim.SimulatedSerialPrinter``: ESC/POS and DLE EOT).
"""

from __future__ import annotations

import os
import threading
import tty
from typing import Self

from hardware.waitio import readable, writable


class PtySimulator:
    """One simulated device on a pty pair, served by one daemon thread."""

    #: Thread name prefix (the port path is appended).
    thread_name = "pty-sim"

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._send_lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=f"{self.thread_name} {self.port}",
                                        daemon=True)

    # -- what a device does ------------------------------------------------------------------
    def received(self, data: bytes) -> None:
        """Bytes the driver wrote to the port (default: ignored). Runs in the serving thread."""

    def send(self, data: bytes) -> None:
        """Bytes from the device to the driver (an answer, a scan). Any thread."""
        view = memoryview(data)
        with self._send_lock:
            while view:
                try:
                    n = os.write(self.master, view)
                except BlockingIOError:
                    writable(self.master, 0.05)
                    continue
                except OSError:  # closed underneath us
                    return
                view = view[n:]

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                ready = readable(self.master, 0.05)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if chunk:
                self.received(chunk)

    def close(self) -> None:
        """Stop the thread and close both ends (the driver then reads EIO or nothing)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
