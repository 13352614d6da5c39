"""A simulated QR scanner in virtual-serial mode, on a pty (:class:`hardware.ptysim.PtySimulator`).

The kiosk's :class:`~hardware.scanner.SerialScanner` opens ``sim.port`` as it would open
``/dev/ttyACM0``; :meth:`SimulatedScanner.scan` sends what a real scanner sends for one QR
code: its payload as UTF-8 and the line terminator (``\\r\\n`` by default; scanners can be set
to ``\\r`` or ``\\n``)::

    with SimulatedScanner() as sim:
        scanner = SerialScanner(sim.port, on_scan=seen.append).start()
        sim.scan("YY123456")
"""

from __future__ import annotations

from hardware.ptysim import PtySimulator


class SimulatedScanner(PtySimulator):
    """A scanner that "reads" the payloads it is given. What the host writes to it (a
    configuration command) is kept in :attr:`commands` and otherwise ignored."""

    thread_name = "sim-scanner"

    def __init__(self, terminator: bytes = b"\r\n") -> None:
        super().__init__()
        self.terminator = terminator
        self.commands = bytearray()

    def scan(self, payload: str) -> None:
        """One QR code read: ``payload`` then the terminator."""
        self.send(payload.encode("utf-8") + self.terminator)

    def received(self, data: bytes) -> None:
        self.commands += data
