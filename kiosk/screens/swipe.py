"""刷身份证: wait for the ID card (priority numbers, or every number when the hall
requires it), then issue the ticket. No reader or no card → a clear message and a way
forward (a regular number when the hall allows it, or the information desk)."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.errors import CardNotRead, NoReader
from kiosk.flows.swipe import CardData, NoCardReader
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen

#: Seconds one read waits for a card before the screen says so and offers a retry.
READ_TIMEOUT = 20.0


@register("swipe")
class SwipeScreen(KioskScreen):
    say_key = "say.swipe"
    back_target = "service"

    status_text = StringProperty("")
    """Reading / read OK (with the masked name)."""

    can_skip = BooleanProperty(False)
    """A regular number without the card is allowed (priority chosen, hall does not require)."""

    can_simulate = BooleanProperty(False)
    """The reader is the simulator (demo): offer a button that places a synthetic card."""

    def refresh(self) -> None:
        flow = self.kiosk.take_number
        self.can_skip = bool(self.kiosk.session.priority) and not bool(
            self.kiosk.config.get("kiosk", "require_id_swipe")) and not (
            self.kiosk.session.service is not None and self.kiosk.session.service.id_required)
        self.status_text = ""
        self.can_simulate = bool(getattr(self.kiosk.card_reader, "simulated", False))
        if not flow.needs_card():
            return
        self.read()

    def read(self) -> None:
        self.status_text = self.app.tr("swipe.reading")

        def work() -> CardData:
            if isinstance(self.kiosk.card_reader, NoCardReader):
                raise NoReader()
            card = self.kiosk.card_reader.read_card(READ_TIMEOUT)
            if card is None:
                raise CardNotRead()
            return card

        self.run(work, self._card, failed=lambda _e: setattr(self, "status_text", ""),
                 busy_key="swipe.reading")

    def _card(self, card: CardData) -> None:
        notice = self.kiosk.take_number.card_read(card)
        self.status_text = self.app.tr("swipe.read_ok", name=card.name_masked)
        self.run(lambda: self.kiosk.take_number.issue(notice_key=notice), self._issued,
                 busy_key="common.working")

    def place_demo_card(self) -> None:
        """Demo: a synthetic senior's card goes onto the simulated reader; the waiting
        read picks it up through the real SAM protocol."""
        from kiosk.flows.swipe import demo_card

        insert = getattr(self.kiosk.card_reader, "insert_demo_card", None)
        if insert is None:  # only the simulated reader takes demo cards
            return
        card, birth = demo_card(self.kiosk.today())
        insert(card, birth)
        if not self.busy:
            self.read()

    def on_leave(self, *args: object) -> None:
        self.kiosk.card_reader.cancel()
        remove = getattr(self.kiosk.card_reader, "remove_card", None)
        if remove:
            remove()
        super().on_leave(*args)

    def skip(self) -> None:
        """Take a regular number without the card (stops waiting for one)."""
        self.kiosk.take_number.choose_priority(None)
        self.kiosk.card_reader.cancel()
        self._generation += 1   # drop the pending read's result
        self.busy = False
        self.run(self.kiosk.take_number.issue, self._issued, busy_key="common.working")

    def _issued(self, _result: object) -> None:
        self.go("ticket")

    def reset(self) -> None:
        super().reset()
        self.status_text = ""


load_kv(__file__)
