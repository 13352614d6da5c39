"""优先取号: seniors, people with a disability and servicepeople/veterans (绿色通道).
A priority number always needs the ID card; the category and service follow."""

from __future__ import annotations

from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen


@register("priority")
class PriorityScreen(KioskScreen):
    def choose(self, priority: str) -> None:
        self.kiosk.take_number.choose_priority(priority)
        self.go("category")


load_kv(__file__)
