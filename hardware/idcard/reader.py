"""ID-card readers: the interface, the SAM serial driver, and the WLT photo decoder hook."""

from __future__ import annotations

import time
from typing import Any, Protocol

from .card import IdCardData, parse_text
from .errors import (
    CardRemoved,
    FrameError,
    IdCardError,
    NoCard,
    ReaderTimeout,
    SamStatusError,
)
from .protocol import (
    CMD_FIND,
    CMD_READ_BASE,
    CMD_SAM_ID,
    CMD_SAM_STATUS,
    CMD_SELECT,
    SW3_FOUND,
    SW3_MEANING,
    SW3_NO_CARD,
    SW3_OK,
    Frame,
    FrameDecoder,
    encode_request,
    split_base_info,
)


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...
    def read(self, max_bytes: int, timeout: float) -> bytes: ...
    def drain_input(self) -> None: ...
    def close(self) -> None: ...


class WltDecoder(Protocol):
    """Turns the 1024-byte WLT blob into a 102×126 BGR image, or None when it cannot."""

    def decode(self, wlt: bytes) -> Any: ...


class IdCardReader(Protocol):
    """What the kiosk needs from any reader (SAM serial, vendor SDK, simulator)."""

    def card_present(self) -> bool: ...
    def read_card(self) -> IdCardData: ...
    def close(self) -> None: ...


class SamReader:
    """Drives a reader that speaks the SAM protocol on a serial line.

    ``read_card()`` = find → select → read base info → parse + validate → decode the photo
    (when a :class:`WltDecoder` is given). A failure after the card was found is re-checked
    with a find: no card any more → :class:`CardRemoved`.
    """

    def __init__(
        self,
        transport: Transport,
        decoder: WltDecoder | None = None,
        timeout: float = 1.5,
    ) -> None:
        self.transport = transport
        self.decoder = decoder
        self.timeout = timeout
        self._dec = FrameDecoder(head_len=3)

    def command(self, cmd: tuple[int, int], data: bytes = b"") -> Frame:
        """Send one request and wait for its response frame."""
        self.transport.drain_input()
        self._dec.clear()
        self.transport.write(encode_request(cmd, data))
        deadline = time.monotonic() + self.timeout
        while True:
            frame = self._dec.next_frame()  # raises FrameError/ChecksumError
            if frame is not None:
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                if self._dec.pending:
                    raise FrameError(f"truncated response ({self._dec.pending} bytes)")
                raise ReaderTimeout(f"no answer to {cmd[0]:02X} {cmd[1]:02X}")
            self._dec.feed(self.transport.read(4096, min(left, 0.1)))

    @staticmethod
    def _check(frame: Frame, *ok: int) -> Frame:
        if frame.sw3 not in ok:
            sw = (frame.head[0], frame.head[1], frame.head[2])
            raise SamStatusError(sw, SW3_MEANING.get(frame.sw3, "unknown status"))
        return frame

    def sam_ok(self) -> bool:
        return self.command(CMD_SAM_STATUS).sw3 == SW3_OK

    def sam_id(self) -> str:
        """The SAM serial number as the vendor tools print it (hex, for diagnostics)."""
        return self._check(self.command(CMD_SAM_ID), SW3_OK).data.hex().upper()

    def card_present(self) -> bool:
        frame = self.command(CMD_FIND)
        if frame.sw3 == SW3_NO_CARD:
            return False
        self._check(frame, SW3_FOUND, SW3_OK)
        return True

    def read_card(self) -> IdCardData:
        if not self.card_present():
            raise NoCard()
        try:
            self._check(self.command(CMD_SELECT), SW3_OK)
            frame = self._check(self.command(CMD_READ_BASE), SW3_OK)
            text, photo = split_base_info(frame.data)
        except (FrameError, ReaderTimeout, SamStatusError) as e:
            if not self._still_there():
                raise CardRemoved(str(e)) from e
            raise
        card = parse_text(text, photo)
        if self.decoder is not None:
            card.photo = self.decoder.decode(photo)
        return card

    def _still_there(self) -> bool:
        try:
            return self.card_present()
        except IdCardError:
            return False

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> SamReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
