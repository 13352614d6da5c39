"""预约签到: scan the appointment QR (the scanner types it, ending with Enter), or type
the appointment code or the ID number on the keypad (which has X for the last digit)."""

from __future__ import annotations

from kivy.properties import ListProperty, StringProperty

from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen


@register("checkin")
class CheckInScreen(KioskScreen):
    say_key = "say.checkin"

    mode = StringProperty("code")
    """``code`` or ``id``: what the keypad types."""

    typed = StringProperty("")
    """What has been typed so far."""

    keys = ListProperty([])
    """Keypad keys for the mode."""

    def refresh(self) -> None:
        self.set_mode(self.kiosk.checkin.input.kind if self.kiosk.checkin.input.kind in (
            "code", "id") else "code")

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
        self.run(self.kiosk.checkin.submit, self._done, busy_key="common.working")

    def on_scan(self, payload: str) -> None:
        self.run(lambda: self.kiosk.checkin.submit_scan(payload), self._done,
                 busy_key="common.working")

    def _done(self, _result: object) -> None:
        self.go("ticket")

    def reset(self) -> None:
        super().reset()
        self.typed = ""


load_kv(__file__)
