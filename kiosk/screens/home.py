"""Home: 取号, 预约签到, 排队查询, 优先取号, 亮证, language switch, 适老化 mode. Outside
opening hours or on a closed day a banner says so at once, with the next opening time
(asked on entry and every :data:`HOURS_POLL_SECONDS` while the home screen shows)."""

from __future__ import annotations

import threading
from typing import Any

from kivy.clock import Clock
from kivy.properties import StringProperty

from kiosk.flows.hours import closed_notice
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen

#: How often the home screen asks the server whether the hall is open.
HOURS_POLL_SECONDS = 30.0


@register("home")
class HomeScreen(KioskScreen):
    say_key = "say.home"

    closed_text = StringProperty("")
    """The closed-hall banner ("" while numbers can be taken)."""

    _hours: dict[str, Any] | None = None
    _polling = False

    def on_kv_post(self, base_widget: Any) -> None:
        super().on_kv_post(base_widget)
        Clock.schedule_once(lambda _dt: self.poll_hours(), 0)
        Clock.schedule_interval(lambda _dt: self.poll_hours(), HOURS_POLL_SECONDS)

    def poll_hours(self) -> None:
        """Ask the server for the hours in a worker thread (only while home shows)."""
        if self._polling or (self.manager is not None and self.manager.current != self.name):
            return
        self._polling = True

        def worker() -> None:
            try:
                hours: dict[str, Any] | None = self.kiosk.client.hours()
            except Exception:  # server down: the other screens say so when used
                hours = None
            Clock.schedule_once(lambda _dt: self._got_hours(hours))

        threading.Thread(target=worker, daemon=True, name="home-hours").start()

    def _got_hours(self, hours: dict[str, Any] | None) -> None:
        self._polling = False
        self._hours = hours
        self.closed_text = closed_notice(hours, self.kiosk.lang)

    def on_enter(self, *args: Any) -> None:
        self.poll_hours()

    def take_number(self, priority: bool = False) -> None:
        self.kiosk.take_number.choose_priority(None)
        self.go("priority" if priority else "category")

    def refresh(self) -> None:
        button = self.ids.get("approvals_button")
        if button is not None and button.parent is not None and not self.kiosk.config.get("approvals", "enabled"):
            button.parent.remove_widget(button)  # [approvals] enabled = false: no 自助办理

    def approvals(self) -> None:
        """自助办理 (秒批): the items by category."""
        self.kiosk.approval.reset()
        self.go("approval_items")
    def show_licence(self) -> None:
        """亮证: the identity check (card + face), then the citizen's licences."""
        from kiosk.flows.licence import licence_flow

        self.go(licence_flow(self.kiosk).begin())

    def toggle_language(self) -> None:
        self.app.toggle_language()
        self.closed_text = closed_notice(self._hours, self.kiosk.lang)

    def toggle_elder(self) -> None:
        self.app.toggle_elder()


load_kv(__file__)
