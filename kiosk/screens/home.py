"""Home: 取号, 预约签到, 排队查询, 优先取号, 亮证, language switch, 适老化 mode."""

from __future__ import annotations

from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen


@register("home")
class HomeScreen(KioskScreen):
    say_key = "say.home"

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

    def toggle_elder(self) -> None:
        self.app.toggle_elder()


load_kv(__file__)
