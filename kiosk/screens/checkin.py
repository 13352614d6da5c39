"""预约签到: swipe the ID card (the screen waits for one while it is shown), scan the
appointment QR (the scanner types it, ending with Enter), or type the appointment code or
the ID number on the keypad (which has X for the last digit). A missed slot goes to
``checkin_late``, where the citizen chooses; too early and cancelled show the server's
message (too early: from what time check-in opens)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, StringProperty

from kiosk.errors import KioskError
from kiosk.flows.swipe import CardData
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen

log = logging.getLogger(__name__)


@register("checkin")
class CheckInScreen(KioskScreen):
    say_key = "say.checkin"

    mode = StringProperty("code")
    """``code`` or ``id``: what the keypad types."""

    typed = StringProperty("")
    """What has been typed so far."""

    keys = ListProperty([])
    """Keypad keys for the mode."""

    can_swipe = BooleanProperty(False)
    """This kiosk has an ID-card reader: the screen invites a swipe and waits for a card."""

    _card_stop: threading.Event | None = None

    def refresh(self) -> None:
        self.set_mode(self.kiosk.checkin.input.kind if self.kiosk.checkin.input.kind in (
            "code", "id") else "code")
        self.can_swipe = self.kiosk.checkin.can_read_cards()
        self._watch_card()

    def _watch_card(self) -> None:
        """Wait for a card in a worker thread while the screen is shown."""
        self._stop_card()
        if not self.can_swipe:
            return
        stop = self._card_stop = threading.Event()
        generation = self._generation

        def worker() -> None:
            try:
                card = self.kiosk.checkin.wait_for_card(stop)
            except Exception:  # a failing reader: typing and scanning still work
                log.warning("check-in: the card reader failed", exc_info=True)
                return
            if card is not None and not stop.is_set():
                Clock.schedule_once(lambda _dt: self._card(card, generation))

        threading.Thread(target=worker, daemon=True, name="checkin-card").start()

    def _stop_card(self) -> None:
        if self._card_stop is not None:
            self._card_stop.set()
            self._card_stop = None
            self.kiosk.checkin.stop_waiting_for_card()

    def _card(self, card: CardData, generation: int) -> None:
        if generation != self._generation or self.manager is None or self.manager.current != self.name:
            return
        self.run(lambda: self.kiosk.checkin.submit_card(card), self._done, self._failed,
                 busy_key="common.working")

    def set_mode(self, mode: str) -> None:
        self.kiosk.checkin.set_mode(mode)
        self.mode = mode
        self.typed = ""
        self.keys = self.kiosk.checkin.input.keys()
        self.ids.keypad.rebuild()
        self.clear_error()

    def key(self, key: str) -> None:
        self.typed = self.kiosk.checkin.input.key(key)

    def submit(self) -> None:
        self.run(self.kiosk.checkin.submit, self._done, self._failed, busy_key="common.working")

    def on_scan(self, payload: str) -> None:
        self.run(lambda: self.kiosk.checkin.submit_scan(payload), self._done, self._failed,
                 busy_key="common.working")

    def _done(self, _result: object) -> None:
        self.go("ticket")

    def _failed(self, err: KioskError) -> None:
        if err.code == "appointment_late" and self.kiosk.checkin.late is not None:
            self.go("checkin_late")

    def on_leave(self, *args: Any) -> None:
        self._stop_card()
        super().on_leave(*args)

    def reset(self) -> None:
        self._stop_card()
        super().reset()
        self.typed = ""


load_kv(__file__)
