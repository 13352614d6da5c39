"""好差评 after a kiosk transaction: five equal levels, reasons only after a 差评, thanks.

Steps (``step``): ``levels`` → (差评) ``reasons`` → ``thanks``, then the session ends.
The citizen may leave at any time with 「不评价」 (the service stays 未评价) or by going
idle. The calling flow sets the target with ``kiosk.rating.begin(...)`` first.
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import NumericProperty, StringProperty

from kiosk.flows.catalog import paginate
from kiosk.flows.rating import LEVELS, REASONS_PAGE, THANKS_SECONDS
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen
from kiosk.widgets import BigButton

#: Every level has this one colour: no level is stressed (no green/red).
LEVEL_BG = (0.16, 0.3, 0.52, 1)
REASON_BG = (0.42, 0.47, 0.55, 1)
REASON_ON = (0.85, 0.5, 0.1, 1)


@register("rating")
class RatingScreen(KioskScreen):
    say_key = "say.rating"

    step = StringProperty("levels")
    """``levels``, ``reasons`` or ``thanks``."""

    service_text = StringProperty("")
    """What is rated: the 事项 and the case number."""

    thanks_text = StringProperty("")
    """The line under the thanks (a 差评 is followed up)."""

    page = NumericProperty(1)
    """Page of the reasons."""

    pages = NumericProperty(1)
    """Pages of reasons."""

    _thanks_event: Any = None

    def refresh(self) -> None:
        flow = self.kiosk.rating
        t = flow.target
        lang = self.kiosk.lang
        if t is None:
            self.service_text = ""
        else:
            self.service_text = t.label(lang) + (f"\n{t.case}" if t.case else "")
        if self.step == "reasons":
            self._show_reasons()
        else:
            self._show_levels()

    def _show_levels(self) -> None:
        box = self.ids.levels
        box.clear_widgets()
        lang = self.kiosk.lang
        for level in LEVELS:
            btn = BigButton(title=self.kiosk.rating.level_label(level, lang), key=f"level:{level}",
                            title_size=52, bg=LEVEL_BG)
            btn.bind(on_release=lambda _b, lv=level: self.choose(lv))
            box.add_widget(btn)

    def choose(self, level: int) -> None:
        if self.busy or self.step != "levels":
            return
        if self.kiosk.rating.choose(level):
            self.step = "reasons"
            self.page = 1
            self.run(self.kiosk.rating.reasons, lambda _r: self._show_reasons())
        else:
            self.submit()

    def _show_reasons(self) -> None:
        flow = self.kiosk.rating
        reasons = flow._reasons
        p = paginate(reasons, int(self.page), REASONS_PAGE[1 if self.kiosk.elder else 0])
        self.page, self.pages = p.page, p.pages
        grid = self.ids.reasons
        grid.clear_widgets()
        lang = self.kiosk.lang
        for r in p.items:
            on = r["code"] in flow.state.chosen
            label = flow.reason_label(r, lang)
            btn = BigButton(title=("✓ " if on else "") + label, key=f"reason:{r['code']}",
                            title_size=40 if len(label) <= 12 else 34, bg=REASON_ON if on else REASON_BG)
            btn.bind(on_release=lambda _b, code=r["code"]: self.toggle(code))
            grid.add_widget(btn)
        self.ids.submit.disabled = not flow.can_submit

    def toggle(self, code: str) -> None:
        if self.busy:
            return
        self.kiosk.rating.toggle(code)
        self._show_reasons()

    def turn(self, delta: int) -> None:
        self.page = int(self.page) + delta
        self._show_reasons()

    def back_to_levels(self) -> None:
        if self.busy:
            return
        self.kiosk.rating.state.level = None
        self.kiosk.rating.state.chosen = []
        self.step = "levels"
        self._show_levels()

    def submit(self) -> None:
        if not self.kiosk.rating.can_submit:
            return
        self.run(self.kiosk.rating.submit, self._sent, busy_key="rating.sending")

    def _sent(self, result: dict[str, Any]) -> None:
        self.thanks_text = self.app.tr("rating.followed_up") if "rectification" in result else ""
        self.step = "thanks"
        self.kiosk.say("say.rating_thanks")
        if self._thanks_event is not None:
            self._thanks_event.cancel()
        self._thanks_event = Clock.schedule_once(lambda _dt: self.finish(), THANKS_SECONDS)

    def finish(self) -> None:
        """Leave the rating (rated, or 不评价): the session ends."""
        if self._thanks_event is not None:
            self._thanks_event.cancel()
            self._thanks_event = None
        self.home()

    def reset(self) -> None:
        super().reset()
        if self._thanks_event is not None:
            self._thanks_event.cancel()
            self._thanks_event = None
        self.step = "levels"
        self.thanks_text = ""
        self.page = self.pages = 1
        self.ids.reasons.clear_widgets()


load_kv(__file__)
