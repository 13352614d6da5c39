"""亮证, step 2: the chosen licence and why it is shown (用证事由, the token's purpose code);
or 自助打证, a printed copy with an online check."""

from __future__ import annotations

from typing import Any

from kivy.properties import NumericProperty, StringProperty

from kiosk.flows.catalog import paginate
from kiosk.flows.licence import PURPOSE_PAGE_SIZE, LicenceFlow, licence_flow
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen
from kiosk.widgets import BigButton

BLUE = (0.12, 0.35, 0.66, 1)


@register("licence_purpose")
class LicencePurposeScreen(KioskScreen):
    say_key = "say.licence_purpose"
    back_target = "licence_list"

    licence_text = StringProperty("")
    """The chosen licence: type and masked number."""

    page = NumericProperty(1)
    pages = NumericProperty(1)

    @property
    def flow(self) -> LicenceFlow:
        return licence_flow(self.kiosk)

    def refresh(self) -> None:
        lic = self.flow.state.chosen
        if lic is None:
            self.licence_text = ""
            self.ids.grid.clear_widgets()
            return
        self.licence_text = f"{lic.type_name}\n{lic.number_masked}  ·  {lic.validity(self.kiosk.lang)}"
        self.page = 1
        self.show_page()

    def show_page(self) -> None:
        size = PURPOSE_PAGE_SIZE[1] if self.kiosk.elder else PURPOSE_PAGE_SIZE[0]
        p = paginate(self.flow.purpose_list(), int(self.page), size)
        self.page, self.pages = p.page, p.pages
        grid = self.ids.grid
        grid.clear_widgets()
        lang = self.kiosk.lang
        for item in p.items:
            title = str(item["name_en"] if lang == "en" else item["name"])
            btn = BigButton(title=title, key=f"purpose:{item['code']}", bg=BLUE,
                            title_size=44 if len(title) <= (24 if lang == "en" else 8) else 34)
            btn.bind(on_release=lambda _b, code=int(item["code"]): self.choose(code))
            grid.add_widget(btn)

    def turn(self, delta: int) -> None:
        self.page = int(self.page) + delta
        self.show_page()

    def choose(self, code: int) -> None:
        """Start showing the licence for purpose ``code``: the first token, then the QR."""
        self.run(lambda: self.flow.present(code), lambda _shown: self.go("licence_qr"),
                 busy_key="common.working")

    def print_copy(self) -> None:
        """自助打证: a copy with an online check reference."""
        self.run(self.flow.print_copy, lambda _r: self.go("licence_print"), busy_key="common.working")

    def reset(self) -> None:
        super().reset()
        self.licence_text = ""
        self.ids.grid.clear_widgets()

    def on_scan(self, payload: Any) -> None:
        """Scans are not read here."""


load_kv(__file__)
