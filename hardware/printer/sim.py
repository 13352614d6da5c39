"""Simulated receipt printers that speak ESC/POS, for tests, the demo and benchmarks.

Two simulators share one model of a printer (:class:`SimulatedPrinterState`, a paper roll
that splits the byte stream into receipts at each cut and answers ``DLE EOT n``):

* :class:`SimulatedPrinter` — in-process, behind the URL ``sim://`` or ``sim://NAME``.
  :func:`get_simulator` returns the one for a name, so a test or the kiosk demo can look
  at what was printed and pull the paper out::

      printer = open_printer("sim://kiosk-01")
      printer.print_ticket(ticket)
      sim = get_simulator("kiosk-01")
      assert len(sim.receipts) == 1
      sim.set_state(paper="out")        # next status() says paper_out

* :class:`SimulatedNetworkPrinter` — a loopback TCP "9100" printer on 127.0.0.1 (port 0 =
  any free port). It records bytes, answers DLE EOT on the socket, and can be switched at
  run time; the real :class:`~hardware.printer.driver.ReceiptPrinter` talks to it over TCP::

      with SimulatedNetworkPrinter() as sim:          # listens on sim.url
          p = open_printer(sim.url, paper=58)
          p.print_ticket(ticket)
          sim.wait_for_receipts(1)
          sim.set_state(paper="out")                   # or near_end / cover_open / offline
          sim.run_out_after(3)                         # paper ends during the 4th receipt
          sim.set_state(silent=True)                   # stops answering status: "unknown"
          sim.set_state(unreachable=True)              # resets new connections

* :class:`SimulatedSerialPrinter` — the same printer on a pseudo-terminal, for ``serial://``.

While the printer cannot print (paper out, cover open, offline, error) the receipts it is
sent are lost — counted in :attr:`SimulatedPrinterState.discarded`, never in
:attr:`~SimulatedPrinterState.receipts` — which is the worst case a print queue must survive.
``set_state(buffering=True)`` models the other kind of printer, which holds them and prints
them once it is ready again (the worst case for duplicates).
"""

from __future__ import annotations

import re
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hardware.printer._escpos import escpos_printer
from hardware.printer.status import PrinterStatus, parse_status, status_byte
from hardware.ptysim import PtySimulator

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
_CONTROL = re.compile(rb"[\x10\x1b\x1c\x1d]")


@dataclass
class Receipt:
    """One cut-off receipt: its bytes and when its last byte (the cut) arrived."""

    data: bytes
    at: float
    """``time.time()`` of the cut."""


def _command_length(buf: bytes | bytearray, i: int) -> int | None:
    """Length of the command starting at ``buf[i]`` (1 for a text byte), None if incomplete."""
    n = len(buf) - i
    c = buf[i]
    if c not in (ESC, GS, FS, DLE):
        return 1
    if n < 2:
        return None
    d = buf[i + 1]
    if c == DLE:
        return 3 if d == 0x04 and n >= 3 else (None if d == 0x04 else 1)
    if c == FS:
        return 2 if d in (0x26, 0x2E) else (3 if n >= 3 else None)
    if c == ESC:
        if d in (0x40, 0x32):  # ESC @, ESC 2
            return 2
        if d == 0x2A:  # ESC * m nL nH data
            if n < 5:
                return None
            cols = buf[i + 3] | buf[i + 4] << 8
            size = 5 + cols * (3 if buf[i + 2] in (32, 33) else 1)
            return size if n >= size else None
        return 3 if n >= 3 else None
    # GS
    if d == 0x56:  # GS V m [n]
        if n < 3:
            return None
        size = 4 if buf[i + 2] in (65, 66) else 3
        return size if n >= size else None
    if d == 0x76:  # GS v 0 m xL xH yL yH data
        if n < 8:
            return None
        size = 8 + (buf[i + 4] | buf[i + 5] << 8) * (buf[i + 6] | buf[i + 7] << 8)
        return size if n >= size else None
    if d == 0x28:  # GS ( k / GS ( L pL pH ...
        if n < 5:
            return None
        size = 5 + (buf[i + 3] | buf[i + 4] << 8)
        return size if n >= size else None
    return 3 if n >= 3 else None


class SimulatedPrinterState:
    """The printer model both simulators share. Thread-safe; read the attributes freely."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._buf = bytearray()
        self._current = bytearray()
        self.receipts: list[Receipt] = []
        """Receipts actually printed and cut, in order."""
        self.discarded: list[bytes] = []
        """Receipts lost because the printer could not print when they arrived."""
        self.received = 0
        """Bytes received (status queries included)."""
        self.status_queries = 0
        self.paper = "ok"
        self.cover_open = False
        self.offline = False
        self.error = False
        self.silent = False
        self.unreachable = False
        self.delay = 0.0
        """Seconds to sleep before answering each status query (a slow printer)."""
        self.buffering = False
        """False: what arrives while the printer cannot print is lost (:attr:`discarded`).
        True: it is held and printed when the printer is ready again, like printers that
        keep their receive buffer over a paper change (:attr:`held` until then)."""
        self.held: list[bytes] = []
        self._paper_left: int | None = None

    # -- control ---------------------------------------------------------------------
    def set_state(self, **changes: Any) -> None:
        """Change any of ``paper`` ("ok"|"near_end"|"out"), ``cover_open``, ``offline``,
        ``error``, ``silent``, ``unreachable``, ``delay``, ``buffering``. ``paper="ok"`` is
        a refill."""
        with self._lock:
            for key, value in changes.items():
                if key not in ("paper", "cover_open", "offline", "error", "silent",
                               "unreachable", "delay", "buffering"):
                    raise TypeError(f"unknown printer state {key!r}")
                setattr(self, key, value)
            if changes.get("paper") == "ok":
                self._paper_left = None
            if self.printable and self.held:  # a buffering printer catches up
                now = time.time()
                self.receipts.extend(Receipt(data, now) for data in self.held)
                self.held.clear()
            self._lock.notify_all()

    def run_out_after(self, receipts: int) -> None:
        """Let ``receipts`` more receipts print; the paper ends during the next one."""
        with self._lock:
            self._paper_left = receipts

    @property
    def printable(self) -> bool:
        return self.paper != "out" and not (self.cover_open or self.offline or self.error)

    def answer(self, n: int) -> int | None:
        """The byte answered to ``DLE EOT n`` now (None when silent)."""
        if self.silent:
            return None
        return status_byte(n, offline=self.offline, cover_open=self.cover_open,
                           paper=self.paper, error=self.error)

    def status(self) -> PrinterStatus:
        """What a status query would report now."""
        return parse_status({n: self.answer(n) for n in (1, 2, 4)})

    # -- the byte stream -------------------------------------------------------------
    def feed(self, data: bytes) -> list[int]:
        """Consume bytes; returns the status bytes the printer sends back."""
        replies: list[int] = []
        with self._lock:
            self.received += len(data)
            self._buf += data
            i = 0
            while i < len(self._buf):
                m = _CONTROL.search(self._buf, i)  # skip a run of text in one step
                if m is None:
                    self._current += self._buf[i:]
                    i = len(self._buf)
                    break
                if m.start() > i:
                    self._current += self._buf[i:m.start()]
                    i = m.start()
                size = _command_length(self._buf, i)
                if size is None:
                    break
                cmd = bytes(self._buf[i:i + size])
                i += size
                if cmd[0] == DLE and len(cmd) == 3:
                    self.status_queries += 1
                    ans = self.answer(cmd[2])
                    if ans is not None:
                        replies.append(ans)
                    continue
                self._current += cmd
                if cmd[0] == GS and cmd[1] == 0x56:
                    self._finish_receipt()
            del self._buf[:i]
            self._lock.notify_all()
        return replies

    def _finish_receipt(self) -> None:
        data = bytes(self._current)
        self._current.clear()
        if self.printable and self._paper_left == 0:
            self.paper = "out"  # the roll ends in the middle of this receipt
            self._paper_left = None
        if not self.printable:
            (self.held if self.buffering else self.discarded).append(data)
            return
        if self._paper_left is not None:
            self._paper_left -= 1
        self.receipts.append(Receipt(data, time.time()))

    def wait_for_receipts(self, count: int, timeout: float = 10.0) -> list[Receipt]:
        """Block until ``count`` receipts were printed; returns them (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.receipts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"printer got {len(self.receipts)} receipts, expected {count}")
                self._lock.wait(left)
            return list(self.receipts)

    def wait_until(self, predicate: Callable[[SimulatedPrinterState], bool],
                   timeout: float = 10.0) -> None:
        """Block until ``predicate(state)`` holds (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("simulated printer: condition not reached in time")
                self._lock.wait(left)

    def clear(self) -> None:
        with self._lock:
            self.receipts.clear()
            self.discarded.clear()
            self._current.clear()
            self._buf.clear()


class _StateConveniences:
    """What every simulator offers over its :class:`SimulatedPrinterState`, so tests read
    naturally (``sim.receipts``, ``sim.set_state(paper="out")``, ``sim.wait_for_receipts(2)``)."""

    state: SimulatedPrinterState

    @property
    def receipts(self) -> list[Receipt]:
        return self.state.receipts

    def set_state(self, **changes: Any) -> None:
        self.state.set_state(**changes)

    def wait_for_receipts(self, count: int, timeout: float = 10.0) -> list[Receipt]:
        return self.state.wait_for_receipts(count, timeout)


class SimulatedPrinter(_StateConveniences, escpos_printer.Dummy):
    """In-process printer for ``sim://NAME``: python-escpos ``Dummy`` plus a paper model."""

    def __init__(self, name: str = "default", state: SimulatedPrinterState | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.state = state or SimulatedPrinterState()
        self._replies: list[int] = []

    def _raw(self, msg: bytes) -> None:
        super()._raw(msg)
        self._replies += self.state.feed(bytes(msg))

    def _read(self) -> bytes:
        out, self._replies = bytes(self._replies[:1]), self._replies[1:]
        return out



_simulators: dict[str, SimulatedPrinter] = {}
_simulators_lock = threading.Lock()


def get_simulator(name: str = "default") -> SimulatedPrinter:
    """The process-wide simulated printer behind ``sim://NAME`` (created on first use)."""
    with _simulators_lock:
        sim = _simulators.get(name)
        if sim is None:
            sim = _simulators[name] = SimulatedPrinter(name)
        return sim


class SimulatedNetworkPrinter(_StateConveniences):
    """A loopback TCP ESC/POS printer (see the module docstring). Use as a context manager
    or call :meth:`start` / :meth:`stop`. ``url`` is ``tcp://127.0.0.1:<port>``."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.state = SimulatedPrinterState()
        self._server = socket.create_server((host, port), reuse_port=False)
        self.host, self.port = self._server.getsockname()[:2]
        self._stop = threading.Event()
        self._accept: threading.Thread | None = None
        self.connections = 0

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    @property
    def discarded(self) -> list[bytes]:
        return self.state.discarded

    def run_out_after(self, receipts: int) -> None:
        self.state.run_out_after(receipts)

    # lifecycle
    def start(self) -> SimulatedNetworkPrinter:
        if self._accept is None:
            self._accept = threading.Thread(target=self._serve, daemon=True,
                                            name=f"sim-printer-{self.port}")
            self._accept.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._accept is not None:
            self._accept.join(timeout=2)
        self._server.close()

    def __enter__(self) -> SimulatedNetworkPrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        """One thread per simulated printer: accepts and serves every connection with a
        selector (like a printer's firmware, no thread per connection)."""
        sel = selectors.DefaultSelector()
        self._server.setblocking(False)
        sel.register(self._server, selectors.EVENT_READ, None)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    if key.data is None:
                        self._accept_one(sel)
                    else:
                        self._read_one(sel, key.fileobj)  # type: ignore[arg-type]
        finally:
            for key in list(sel.get_map().values()):
                if key.data is not None:
                    key.fileobj.close()  # type: ignore[union-attr]
            sel.close()

    def _accept_one(self, sel: selectors.BaseSelector) -> None:
        try:
            conn, _ = self._server.accept()
        except OSError:
            return
        if self.state.unreachable:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            return
        self.connections += 1
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sel.register(conn, selectors.EVENT_READ, "conn")

    def _read_one(self, sel: selectors.BaseSelector, conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            sel.unregister(conn)
            conn.close()
            return
        replies = self.state.feed(data)
        if replies:
            if self.state.delay:
                time.sleep(self.state.delay)
            try:
                conn.setblocking(True)
                conn.sendall(bytes(replies))
                conn.setblocking(False)
            except OSError:
                sel.unregister(conn)
                conn.close()


class SimulatedSerialPrinter(_StateConveniences, PtySimulator):
    """A serial ESC/POS printer on a pseudo-terminal (:class:`hardware.ptysim.PtySimulator`):
    the real ``serial://`` driver (pyserial, python-escpos ``Serial``) talks to it, DLE EOT
    included::

        with SimulatedSerialPrinter() as sim:        # sim.url = serial:///dev/pts/N?baudrate=19200
            open_printer(sim.url, paper=58).print_ticket(ticket)
            sim.wait_for_receipts(1)
    """

    thread_name = "sim-serial-printer"

    def __init__(self, baudrate: int = 19200) -> None:
        super().__init__()
        self.state = SimulatedPrinterState()
        self.path = self.port
        self.baudrate = baudrate

    @property
    def url(self) -> str:
        return f"serial://{self.path}?baudrate={self.baudrate}"


    def stop(self) -> None:
        self.close()

    def received(self, data: bytes) -> None:
        replies = self.state.feed(data)
        if replies:
            if self.state.delay:
                time.sleep(self.state.delay)
            self.send(bytes(replies))
