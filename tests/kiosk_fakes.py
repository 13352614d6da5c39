"""Test doubles for kiosk devices that have no loopback simulator yet."""

from __future__ import annotations

from kiosk.flows.swipe import CardData


class FixedCardReader:
    """Returns the same card on every read, after ``delay`` seconds."""

    def __init__(self, id_number: str, name: str, delay: float = 0.1) -> None:
        self.card = CardData(id_number, name)
        self.delay = delay
        self.reads = 0

    def read_card(self, timeout: float) -> CardData | None:
        import time

        time.sleep(min(self.delay, timeout))
        self.reads += 1
        return self.card

    def close(self) -> None:
        pass
