"""办理事项: the services of the chosen category; a tap issues the ticket (or asks for
the ID card first). Buttons are disabled while the request runs and the flow's
``issue()`` is idempotent per session, so a double tap never gives two tickets."""

from __future__ import annotations

from kivy.properties import NumericProperty, StringProperty

from kiosk.client import Service
from kiosk.flows.catalog import paginate
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen
from kiosk.widgets import BigButton


@register("service")
class ServiceScreen(KioskScreen):
    say_key = "say.service"
    back_target = "category"

    page = NumericProperty(1)
    """Current page, 1-based."""

    pages = NumericProperty(1)
    """Number of pages."""

    category_name = StringProperty("")
    """The chosen category, shown in the title."""

    _services: tuple[Service, ...] = ()

    def refresh(self) -> None:
        self.page = self.pages = 1
        self.ids.grid.clear_widgets()
        code = self.kiosk.session.category
        if code is None:
            return

        def load() -> object:
            return self.kiosk.catalog.category(code)

        self.run(load, self._loaded)

    def _loaded(self, category: object) -> None:
        from kiosk.flows.catalog import Category

        assert isinstance(category, Category)
        self.category_name = category.label(self.kiosk.lang)
        self._services = category.services
        self.show_page()

    def show_page(self) -> None:
        p = paginate(self._services, int(self.page), self.kiosk.page_size("services"))
        self.page, self.pages = p.page, p.pages
        grid = self.ids.grid
        grid.clear_widgets()
        lang = self.kiosk.lang
        for svc in p.items:
            hint = svc.name if lang == "en" and svc.name_en else ""
            label = svc.label(lang)
            btn = BigButton(title=label, hint=hint, key=f"svc:{svc.code}",
                            title_size=48 if len(label) <= 24 else (
                                34 if self.app.landscape else 40), bg=(0.12, 0.35, 0.66, 1))
            btn.bind(on_release=lambda _b, s=svc: self.choose(s))
            grid.add_widget(btn)

    def turn(self, delta: int) -> None:
        self.page = int(self.page) + delta
        self.show_page()

    def choose(self, service: Service) -> None:
        if self.busy:
            return
        step = self.kiosk.take_number.choose_service(service)
        if step == "identity":
            self.kiosk.take_number.begin_identity()
            self.go("identity_card")
            return
        if step == "swipe":
            self.go("swipe")
            return
        self.run(self.kiosk.take_number.issue, self._issued, busy_key="common.working")

    def _issued(self, _result: object) -> None:
        self.go("ticket")

    def reset(self) -> None:
        super().reset()
        self._services = ()
        self.category_name = ""
        self.ids.grid.clear_widgets()


load_kv(__file__)
