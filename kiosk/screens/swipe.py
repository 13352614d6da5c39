"""刷身份证: wait for the ID card (priority numbers, or every number when the hall
requires it), then issue the ticket. No reader or no card → a clear message and a way
forward (a regular number when the hall allows it, or the information desk).

The rules — when the card may be skipped, how long a read waits, what counts as no reader —
are the take-number flow's (``kiosk.flows.take_number``); this screen only shows them."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.flows.swipe import CardData
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen


@register("swipe")
class SwipeScreen(KioskScreen):
    say_key = "say.swipe"
    back_target = "service"

    status_text = StringProperty("")
    """Reading / read OK (with the masked name)."""

    can_skip = BooleanProperty(False)
    """A regular number without the card is allowed (``TakeNumberFlow.can_skip_card``)."""

    can_simulate = BooleanProperty(False)
    """The reader is the simulator (demo): offer a button that places a synthetic card."""

    def refresh(self) -> None:
        flow = self.kiosk.take_number
        self.can_skip = flow.can_skip_card()
        self.status_text = ""
        self.can_simulate = flow.can_place_demo_card
        if not flow.needs_card():
            return
        self.read()

    def read(self) -> None:
        self.status_text = self.app.tr("swipe.reading")
        self.run(self.kiosk.take_number.wait_for_card, self._card,
                 failed=lambda _e: setattr(self, "status_text", ""), busy_key="swipe.reading")

    def _card(self, card: CardData) -> None:
        notice = self.kiosk.take_number.card_read(card)
        self.status_text = self.app.tr("swipe.read_ok", name=card.name_masked)
        self.run(lambda: self.kiosk.take_number.issue(notice_key=notice), self._issued,
                 busy_key="common.working")

    def place_demo_card(self) -> None:
        """Demo: a synthetic senior's card onto the simulated reader; the waiting read (or a
        new one) picks it up."""
        if self.kiosk.take_number.place_demo_card() and not self.busy:
            self.read()

    def on_leave(self, *args: object) -> None:
        self.kiosk.take_number.stop_waiting_for_card()
        super().on_leave(*args)

    def skip(self) -> None:
        """Take a regular number without the card (stops waiting for one)."""
        self.kiosk.take_number.skip_card()
        self._generation += 1   # drop the pending read's result
        self.busy = False
        self.run(self.kiosk.take_number.issue, self._issued, busy_key="common.working")

    def _issued(self, _result: object) -> None:
        self.go("ticket")

    def reset(self) -> None:
        super().reset()
        self.status_text = ""


load_kv(__file__)
