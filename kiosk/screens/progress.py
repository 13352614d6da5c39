"""排队查询: scan the QR code on the ticket or type the number (a letter, then digits)."""

from __future__ import annotations

import threading

from kivy.clock import Clock
from kivy.properties import ListProperty, StringProperty

from kiosk.client import Ticket
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen


@register("progress")
class ProgressScreen(KioskScreen):
    say_key = "say.progress"

    typed = StringProperty("")
    """The number typed so far."""

    keys = ListProperty([])
    """Keypad keys: the hall's ticket letters, then digits."""

    result_number = StringProperty("")
    """The number found."""

    result_status = StringProperty("")
    """Its status in words."""

    result_detail = StringProperty("")
    """People ahead / estimated wait."""

    def refresh(self) -> None:
        self.kiosk.progress.input.clear()
        self.typed = ""
        self._clear_result()
        self._set_letters(self.kiosk.progress.letters())
        generation = self._generation

        def worker() -> None:  # the server's list (Y, V and every prefix) replaces the guess
            try:
                letters = self.kiosk.progress.load_letters()
            except Exception:
                return
            def apply(_dt: float) -> None:
                if generation == self._generation:
                    self._set_letters(letters)

            Clock.schedule_once(apply)

        threading.Thread(target=worker, daemon=True, name="progress-letters").start()

    def _set_letters(self, letters: list[str]) -> None:
        keys = list(letters) + list("1234567890")
        if keys != list(self.keys):
            self.keys = keys
            self.ids.keypad.rebuild()

    def key(self, key: str) -> None:
        self.typed = self.kiosk.progress.input.key(key)
        self._clear_result()

    def submit(self) -> None:
        self.run(self.kiosk.progress.lookup_typed, self._found)

    def on_scan(self, payload: str) -> None:
        self.run(lambda: self.kiosk.progress.lookup_scan(payload), self._found)

    def _found(self, ticket: Ticket) -> None:
        lang = self.kiosk.lang
        tr = self.app.tr
        self.result_number = ticket.number
        self.result_status = self.kiosk.progress.status_text(ticket, lang)
        parts = []
        if ticket.status == "waiting" and ticket.waiting_ahead is not None:
            n = ticket.waiting_ahead
            parts.append(tr("ticket.ahead_zero") if n == 0 else (
                tr("ticket.ahead_one") if n == 1 else tr("ticket.ahead", n=n)))
            if ticket.waiting_ahead and ticket.estimated_wait_minutes is not None:
                parts.append(tr("ticket.wait", m=max(1, int(round(
                    ticket.estimated_wait_minutes)))))
        self.result_detail = "\n".join(parts)

    def _clear_result(self) -> None:
        self.result_number = self.result_status = self.result_detail = ""

    def reset(self) -> None:
        super().reset()
        self.typed = ""
        self._clear_result()


load_kv(__file__)
