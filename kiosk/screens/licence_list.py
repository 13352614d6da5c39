"""亮证, step 1 after the identity check: the citizen's e-licences (type, masked number,
validity, status), paged; one is chosen. Licences that are not valid are shown greyed."""

from __future__ import annotations

from typing import Any

from kivy.properties import NumericProperty, StringProperty

from kiosk.flows.catalog import paginate
from kiosk.flows.licence import Licence, LicenceFlow, licence_flow
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen
from kiosk.widgets import BigButton

GREEN = (0.05, 0.5, 0.4, 1)
#: A licence that cannot be shown (not yet in force, expired, revoked): light, with dark text
#: that stays readable — it says why and from when (contrast about 10:1).
UNUSABLE_BG = (0.88, 0.89, 0.91, 1)
UNUSABLE_FG = (0.2, 0.22, 0.25, 1)
WHITE = (1, 1, 1, 1)


@register("licence_list")
class LicenceListScreen(KioskScreen):
    say_key = "say.licence_list"

    page = NumericProperty(1)
    """Current page, 1-based."""

    pages = NumericProperty(1)
    """Number of pages."""

    message = StringProperty("")
    """Why there is no list (no face check, nothing found); empty when the list shows."""

    who = StringProperty("")
    """The verified holder, masked: 林*努  1101**********0019."""

    _items: list[Licence] = []

    @property
    def flow(self) -> LicenceFlow:
        return licence_flow(self.kiosk)

    def refresh(self) -> None:
        flow = self.flow
        self.page = self.pages = 1
        self.ids.grid.clear_widgets()
        self._items = []
        self.who = f"{flow.state.name_masked}    {flow.state.id_masked}" if flow.verified else ""
        if flow.state.message_key or not flow.verified:
            self.message = self.app.tr(flow.state.message_key or "licence.cancelled")
            return
        self.message = ""
        if flow.state.licences is not None:
            self._loaded(flow.state.licences)
            return
        self.run(flow.load, self._loaded, busy_key="licence.list.loading")

    def _loaded(self, items: list[Licence]) -> None:
        self._items = items
        if not items:
            self.message = self.app.tr("licence.list.empty")
        self.show_page()

    def show_page(self) -> None:
        p = paginate(self._items, int(self.page), self.flow.page_size())
        self.page, self.pages = p.page, p.pages
        grid = self.ids.grid
        grid.clear_widgets()
        lang = self.kiosk.lang
        for lic in p.items:
            hint = f"{lic.number_masked}\n{lic.validity(lang)} · {lic.status_text(lang)}"
            btn = BigButton(title=lic.type_name, hint=hint, key=f"licence:{lic.id}",
                            title_size=48 if len(lic.type_name) <= 9 else 40,
                            bg=GREEN if lic.usable else UNUSABLE_BG, fg=WHITE if lic.usable else UNUSABLE_FG,
                            disabled=not lic.usable, fade=False)
            btn.bind(on_release=lambda _b, item=lic: self.choose(item))
            grid.add_widget(btn)

    def turn(self, delta: int) -> None:
        self.page = int(self.page) + delta
        self.show_page()

    def choose(self, lic: Licence) -> None:
        if self.busy:
            return
        if self.flow.choose(lic.id):
            self.go("licence_purpose")

    def reset(self) -> None:
        super().reset()
        self._items = []
        self.message = self.who = ""
        self.ids.grid.clear_widgets()

    def on_scan(self, payload: Any) -> None:
        """A scan here means nothing (the QR is shown, not read, at this kiosk)."""


load_kv(__file__)
