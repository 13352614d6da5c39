"""The slot was missed (``appointment_late``): say so, and let the citizen choose an ordinary
ticket of the same service or cancel. Nothing happens without the citizen's choice."""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen


@register("checkin_late")
class CheckInLateScreen(KioskScreen):
    say_key = "say.checkin_late"

    message = StringProperty("")
    """The missed slot in words: the slot, how late, the service."""

    def refresh(self) -> None:
        late = self.kiosk.checkin.late or {}
        lang = self.kiosk.lang
        service = str(late.get("service_name_en") if lang == "en" else late.get("service_name")) \
            if late.get("service_name") else str(late.get("service") or "")
        self.message = self.app.tr("checkin_late.message", slot=late.get("slot", ""),
                                   minutes=late.get("minutes_late", ""), service=service)

    def take_ordinary(self) -> None:
        self.run(self.kiosk.checkin.accept_ordinary, lambda _r: self.go("ticket"),
                 busy_key="common.working")

    def cancel(self) -> None:
        self.home()


load_kv(__file__)
