"""A simulated SAM reader on a pseudo-terminal pair: the real parser talks to it like hardware.

The simulator owns the pty master and answers requests in a thread (the shared plumbing of
:class:`hardware.ptysim.PtySimulator`); the reader opens the slave path (``sim.port``)
exactly as it would open ``/dev/ttyUSB0``. Faults can be injected to exercise
the error paths: a corrupted checksum, a card removed in the middle of the base-info answer.

The WLT photo is opaque bytes only the vendor's licensed decoder understands (DESIGN §6). The
simulator therefore cannot carry a real photo over the wire; :class:`DemoPhotoDecoder` stands in
for the licensed decoder in the demo and the tests: it maps the simulated card's WLT blob to an
image file configured next to the card. Real readers without a licensed decoder return
``photo=None`` and the kiosk falls back to a card-only or manual check.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hardware.ptysim import PtySimulator

from .card import encode_text
from .errors import FrameError
from .protocol import (
    CMD_FIND,
    CMD_READ_BASE,
    CMD_SAM_ID,
    CMD_SAM_STATUS,
    CMD_SELECT,
    PHOTO_LEN,
    ChecksumError,
    FrameDecoder,
    encode_response,
    join_base_info,
)


@dataclass
class SimCard:
    """The contents of a simulated card. The defaults are a synthetic citizen (valid check digit)."""

    name: str = "张三"
    sex_code: str = "1"
    nation_code: str = "01"
    birth: str = "19800101"
    address: str = "山东省济南市历下区泉城路1号"
    id_number: str = "370102198001011237"
    authority: str = "济南市公安局历下分局"
    valid_from: str = "20200101"
    valid_to: str = "20400101"
    photo_path: str | None = None  # what DemoPhotoDecoder returns for this card

    def text(self) -> bytes:
        return encode_text(
            self.name, self.sex_code, self.nation_code, self.birth, self.address,
            self.id_number, self.authority, self.valid_from, self.valid_to,
        )

    def wlt(self) -> bytes:
        """1024 pseudo-WLT bytes, stable per card (a digest stream; not a real WLT image)."""
        seed = (self.id_number + (self.photo_path or "")).encode()
        out = b""
        while len(out) < PHOTO_LEN:
            seed = hashlib.sha256(seed).digest()
            out += seed
        return b"WLT" + out[: PHOTO_LEN - 3]


@dataclass
class _Faults:
    corrupt_next: int = 0
    corrupt_command: tuple[int, int] | None = None
    remove_during_read: str | None = None  # "truncate" | "status"
    silent: bool = False
    log: list[tuple[int, int]] = field(default_factory=list)


class SamSimulator(PtySimulator):
    """``with SamSimulator(SimCard()) as sim: reader = SamReader(SerialTransport(sim.port))``.
    Serving starts at construction."""

    thread_name = "sam-sim"

    def __init__(self, card: SimCard | None = None) -> None:
        super().__init__()
        self.card = card
        self.faults = _Faults()
        self._lock = threading.Lock()
        self._decoder = FrameDecoder(head_len=2)
        self.start()

    # --- control (tests, demo) -------------------------------------------------------------
    def insert(self, card: SimCard) -> None:
        with self._lock:
            self.card = card

    def remove(self) -> None:
        with self._lock:
            self.card = None

    def corrupt_next_response(self, count: int = 1, command: tuple[int, int] | None = None) -> None:
        """Flip the checksum byte of the next ``count`` responses (to ``command`` only, if given)."""
        with self._lock:
            self.faults.corrupt_next = count
            self.faults.corrupt_command = command

    def remove_card_during_read(self, mode: str = "truncate") -> None:
        """On the next ``30 01``: 'truncate' sends part of the answer then goes quiet; 'status'
        answers ``00 00 41`` (read failed). Either way the card is gone afterwards."""
        if mode not in ("truncate", "status"):
            raise ValueError(mode)
        with self._lock:
            self.faults.remove_during_read = mode

    @property
    def commands_seen(self) -> list[tuple[int, int]]:
        return list(self.faults.log)

    # --- protocol ----------------------------------------------------------------------------
    def _answer(self, cmd: tuple[int, ...]) -> bytes | None:
        self.faults.log.append((cmd[0], cmd[1]))
        card = self.card
        if cmd == CMD_SAM_STATUS:
            return encode_response((0, 0, 0x90))
        if cmd == CMD_SAM_ID:
            return encode_response((0, 0, 0x90), bytes(range(16)))
        if cmd == CMD_FIND:
            if card is None:
                return encode_response((0, 0, 0x80))
            return encode_response((0, 0, 0x9F), b"\x00\x00\x00\x00")
        if cmd == CMD_SELECT:
            if card is None:
                return encode_response((0, 0, 0x81))
            return encode_response((0, 0, 0x90), bytes(8))
        if cmd == CMD_READ_BASE:
            if card is None:
                return encode_response((0, 0, 0x41))
            full = encode_response((0, 0, 0x90), join_base_info(card.text(), card.wlt()))
            mode = self.faults.remove_during_read
            if mode is not None:
                self.faults.remove_during_read = None
                self.card = None
                if mode == "truncate":
                    return full[: len(full) // 3]
                return encode_response((0, 0, 0x41))
            return full
        return encode_response((0, 0, 0x21))  # unknown command

    def received(self, data: bytes) -> None:
        dec = self._decoder
        dec.feed(data)
        while True:
            try:
                frame = dec.next_frame()
            except ChecksumError:
                self.send(encode_response((0, 0, 0x10)))
                continue
            except FrameError:
                self.send(encode_response((0, 0, 0x11)))
                continue
            if frame is None:
                break
            with self._lock:
                reply = None if self.faults.silent else self._answer(frame.head)
                if (
                    reply is not None
                    and self.faults.corrupt_next > 0
                    and self.faults.corrupt_command in (None, frame.head)
                ):
                    self.faults.corrupt_next -= 1
                    reply = reply[:-1] + bytes([reply[-1] ^ 0xFF])
            if reply is not None:
                self.send(reply)


class DemoPhotoDecoder:
    """Stand-in for the licensed WLT decoder, for simulated cards only (see module docstring)."""

    def __init__(self, cards: list[SimCard] | None = None) -> None:
        self._paths: dict[bytes, str] = {}
        for c in cards or []:
            self.register(c)

    def register(self, card: SimCard) -> None:
        if card.photo_path:
            self._paths[card.wlt()] = card.photo_path

    def decode(self, wlt: bytes) -> Any:
        path = self._paths.get(wlt)
        if path is None or not Path(path).exists():
            return None
        import cv2  # local: keeps the card reader importable without OpenCV

        return cv2.imread(path, cv2.IMREAD_COLOR)
