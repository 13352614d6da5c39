"""The ID-card swipe step, behind a small interface.

The take-number flow needs a card for priority numbers (and for every number when the
hall turns on anti-scalping, ``kiosk.require_id_swipe``). It only needs the ID number,
the name (to greet, masked) and the birth date; the reader itself (SAM protocol, vendor
SDKs, the pty simulator) is ``hardware.idcard``. :func:`open_card_reader` adapts it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from hardware.idnumber import age_on, mask_name


@dataclass(frozen=True)
class CardData:
    """What the kiosk keeps from a card, in memory, for one session only (DESIGN §11)."""

    id_number: str
    name: str

    def age_on(self, day: dt.date) -> int | None:
        return age_on(self.id_number, day)

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)


class CardReader(Protocol):
    """Anything that can wait for a card and return it (or ``None`` on timeout)."""

    def read_card(self, timeout: float) -> CardData | None: ...

    def close(self) -> None: ...


class NoCardReader:
    """No reader configured: every read fails at once (the screen offers a way forward)."""

    def read_card(self, timeout: float) -> CardData | None:
        return None

    def close(self) -> None:
        pass


class HardwareCardReader:
    """Adapter over ``hardware.idcard``'s reader (SAM serial, vendor SDK or the simulator)."""

    def __init__(self, url: str) -> None:
        from hardware import idcard  # imported lazily: the kiosk runs without it

        opener = getattr(idcard, "open_reader", None)
        if opener is None:
            raise RuntimeError("hardware.idcard has no open_reader()")
        self._reader = opener(url)

    def read_card(self, timeout: float) -> CardData | None:
        reader = self._reader
        card = reader.read_card(timeout=timeout) if hasattr(reader, "read_card") else reader.read(
            timeout=timeout)
        if card is None:
            return None
        return CardData(id_number=str(card.id_number), name=str(card.name))

    def close(self) -> None:
        close = getattr(self._reader, "close", None)
        if close:
            close()


def open_card_reader(url: str) -> CardReader:
    """The reader for ``[idcard] url``; an empty URL gives :class:`NoCardReader`."""
    if not url:
        return NoCardReader()
    return HardwareCardReader(url)
