"""业务类别: the categories of services, paged (elder mode: the same number per page, larger
text, so it never takes more taps to reach a ticket)."""

from __future__ import annotations

from kivy.properties import NumericProperty

from kiosk.flows.catalog import Category, paginate
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen
from kiosk.widgets import BigButton

COLOURS = [(0.12, 0.35, 0.66, 1), (0.05, 0.5, 0.45, 1), (0.55, 0.3, 0.6, 1),
           (0.8, 0.45, 0.1, 1), (0.2, 0.5, 0.25, 1), (0.6, 0.2, 0.25, 1)]


@register("category")
class CategoryScreen(KioskScreen):
    say_key = "say.category"

    page = NumericProperty(1)
    """Current page, 1-based."""

    pages = NumericProperty(1)
    """Number of pages."""

    _categories: list[Category] = []

    def refresh(self) -> None:
        self.page = self.pages = 1
        self.ids.grid.clear_widgets()
        self.run(self.kiosk.catalog.categories, self._loaded)

    def _loaded(self, categories: list[Category]) -> None:
        self._categories = categories
        self.show_page()

    def show_page(self) -> None:
        p = paginate(self._categories, int(self.page), self.kiosk.page_size("categories"))
        self.page, self.pages = p.page, p.pages
        grid = self.ids.grid
        grid.clear_widgets()
        lang = self.kiosk.lang
        for i, cat in enumerate(p.items):
            index = (p.page - 1) * len(p.items) + i
            label = cat.label(lang)
            narrow = self.app.landscape  # four columns
            size = 52 if len(label) <= (10 if narrow else 16) else 40
            btn = BigButton(title=label, key=f"cat:{cat.code}", title_size=size,
                            bg=COLOURS[index % len(COLOURS)])
            btn.bind(on_release=lambda _b, c=cat: self.choose(c))
            grid.add_widget(btn)

    def turn(self, delta: int) -> None:
        self.page = int(self.page) + delta
        self.show_page()

    def choose(self, category: Category) -> None:
        if self.busy:
            return
        self.kiosk.take_number.choose_category(category.code)
        self.go("service")

    def reset(self) -> None:
        super().reset()
        self._categories = []
        self.ids.grid.clear_widgets()


load_kv(__file__)
