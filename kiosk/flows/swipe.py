"""The ID-card swipe step, behind a small interface.

The take-number flow needs a card for priority numbers (and for every number when the
hall turns on anti-scalping, ``kiosk.require_id_swipe``). It only needs the ID number,
the name (to greet, masked) and the birth date; the reader itself (SAM protocol, vendor
SDKs, the pty simulator) is ``hardware.idcard``. :func:`open_card_reader` adapts it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hardware.idnumber import MaskedIdentity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CardData(MaskedIdentity):
    """What the kiosk keeps from a card, in memory, for one session only (DESIGN §11)."""

    id_number: str
    name: str



class CardReader(Protocol):
    """Anything that can wait for a card and return it (or ``None`` on timeout)."""

    def read_card(self, timeout: float) -> CardData | None: ...

    def cancel(self) -> None:
        """Make a ``read_card`` running in another thread return ``None`` soon."""

    def close(self) -> None: ...


class NoCardReader:
    """No reader configured: every read fails at once (the screen offers a way forward)."""

    simulated = False

    def health(self, busy: bool = False) -> None:
        """No reader, no health record."""
        return None

    def read_card(self, timeout: float) -> CardData | None:
        return None

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


class HardwareCardReader:
    """Adapter over ``hardware.idcard`` (SAM serial, vendor SDKs, or the pty simulator).

    ``read_card`` polls ``card_present()`` until a card reads cleanly or the time is up;
    read errors while the citizen is still placing the card (no card, removed, bad frame)
    just mean "try again". Only the ID number and name leave this class.
    """

    POLL_SECONDS = 0.2

    def __init__(self, config: Mapping[str, Any]) -> None:
        from hardware.idcard import open_reader, open_reader_url

        url = str(config.get("url") or "")
        #: How the reader is named in its health record: its URL, or driver:port.
        self.name = url or f"{config.get('driver', 'sam')}:{config.get('port', '')}"
        self._reader: Any = open_reader_url(url) if url else open_reader(config)
        self._cancel = threading.Event()
        self._lock = threading.Lock()

    @property
    def simulated(self) -> bool:
        return hasattr(self._reader, "insert")

    @property
    def device(self) -> Any:
        """The ``hardware.idcard`` reader, to share with the identity check (one serial
        port cannot be opened twice)."""
        return self._reader

    def read_card(self, timeout: float) -> CardData | None:
        from hardware.idcard import IdCardError

        self._cancel.clear()
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self._cancel.is_set():
            with self._lock:
                try:
                    if self._reader.card_present():
                        card = self._reader.read_card()
                        data = CardData(id_number=str(card.id_number), name=str(card.name))
                        wipe = getattr(card, "wipe", None)
                        if wipe:
                            wipe()
                        return data
                except IdCardError as exc:
                    log.debug("card read retry: %s", exc)
            self._cancel.wait(self.POLL_SECONDS)
        return None

    def health(self, busy: bool = False) -> Any:
        """The reader's device health record (``hardware.health.DeviceHealth``): the SAM
        module answers "ok" (SAM readers) and the reader can look for a card — the same as
        ``hardware.idcard.health`` but on the open reader, between the swipe step's polls.
        No card is read. ``busy``: the identity check is polling the reader now; None (ask
        again later) rather than talk over it. Never raises."""
        from hardware.health import DeviceHealth
        from hardware.idcard import IdCardError

        if busy:
            return None
        with self._lock:
            try:
                sam_ok = getattr(self._reader, "sam_ok", None)
                sam_id = ""
                if sam_ok is not None:
                    if not sam_ok():
                        return DeviceHealth("idcard", self.name, "error",
                                            "身份证安全模块报告错误 / SAM module reports a fault")
                    sam_id = str(self._reader.sam_id())
                present = self._reader.card_present()
            except IdCardError as exc:
                return DeviceHealth("idcard", self.name, "error", f"{exc.zh} / {exc.en}: {exc.detail}")
            except OSError as exc:
                return DeviceHealth("idcard", self.name, "error", f"身份证阅读器未连接 / reader not connected: {exc}")
        card = "读卡区有卡 / a card on the reader" if present else "读卡区无卡 / no card"
        return DeviceHealth("idcard", self.name, "ok", (f"SAM {sam_id}, " if sam_id else "") + card)

    def insert_demo_card(self, card: CardData, birth: str) -> None:
        """Demo only: put a synthetic card on the simulated reader."""
        from hardware.idcard import SimCard

        self._reader.insert(SimCard(name=card.name, id_number=card.id_number, birth=birth))

    def remove_card(self) -> None:
        if self.simulated:
            self._reader.remove()

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self.cancel()
        with self._lock:
            self._reader.close()


def open_card_reader(config: Mapping[str, Any]) -> CardReader:
    """The reader for the ``[idcard]`` table (``url``, or ``driver`` + keys); neither gives
    :class:`NoCardReader`."""
    if not config.get("driver") and not config.get("url"):
        return NoCardReader()
    return HardwareCardReader({k: v for k, v in config.items() if v != ""})


def demo_card(today: dt.date) -> tuple[CardData, str]:
    """A synthetic senior's card (born 1950) for the demo's simulated reader."""
    from hardware.idnumber import id_check_digit

    birth = "19500312"
    first17 = f"370181{birth}123"
    card = CardData(id_number=first17 + id_check_digit(first17), name="王秀兰")
    return card, birth
