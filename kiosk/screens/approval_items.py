"""自助办理: the 秒批 items by category (tabs), a tap starts the identity check. 人工办理 gives a
regular number at once. In the demo (simulated card reader) a switch picks which synthetic
applicant the card shows: one who qualifies, or one who is referred."""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.flows.approval import Item
from kiosk.flows.catalog import paginate
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen
from kiosk.widgets import BigButton

ITEM_BG = (0.05, 0.45, 0.5, 1)
TAB_BG = (0.42, 0.47, 0.55, 1)
TAB_ON = (0.12, 0.35, 0.66, 1)


@register("approval_items")
class ApprovalItemsScreen(KioskScreen):
    say_key = "say.approval_items"

    page = NumericProperty(1)
    """Current page, 1-based."""

    pages = NumericProperty(1)
    """Number of pages."""

    demo = BooleanProperty(False)
    """The card reader is the simulator: show the demo applicant switch."""

    demo_choice = StringProperty("approve")
    """``approve`` or ``refer`` (demo only)."""

    def refresh(self) -> None:
        flow = self.kiosk.approval
        self.demo = flow.can_place_demo_card
        self.demo_choice = flow.state.demo
        self.page = 1
        if flow.cached_items():
            self._loaded(None)  # drawn at once; refreshed in the background when stale
        self.run(flow.items, lambda items: self._loaded(items) if items != flow.cached_items() or
                 not self.ids.grid.children else None)

    def _loaded(self, _items: object) -> None:
        self.show_tabs()
        self.show_page()

    def show_tabs(self) -> None:
        flow = self.kiosk.approval
        lang = self.kiosk.lang
        box = self.ids.tabs
        box.clear_widgets()
        tabs = [(None, self.app.tr("approval.all"))] + flow.categories(lang)
        for code, name in tabs:
            on = flow.state.category == code
            btn = BigButton(title=name, key=f"tab:{code or 'all'}",
                            title_size=26 if len(name) > 4 and not name.isascii() else (24 if len(name) > 12 else 30),
                            bg=TAB_ON if on else TAB_BG, padding=(6, 8))
            btn.bind(on_release=lambda _b, c=code: self.choose_category(c))
            box.add_widget(btn)

    def choose_category(self, code: str | None) -> None:
        self.kiosk.approval.choose_category(code)
        self.page = 1
        self.show_tabs()
        self.show_page()

    def show_page(self) -> None:
        flow = self.kiosk.approval
        p = paginate(flow.visible_items(), int(self.page), flow.page_size())
        self.page, self.pages = p.page, p.pages
        grid = self.ids.grid
        grid.clear_widgets()
        lang = self.kiosk.lang
        for item in p.items:
            label = item.label(lang)
            # elder mode, or a summary longer than two lines: the category only
            hint = f"{item.category_label(lang)} · {item.hint(lang)}"
            if self.kiosk.elder or sum(2 if ord(c) > 0x2E80 else 1 for c in hint) > 110:
                hint = item.category_label(lang)
            btn = BigButton(title=label, hint=hint, key=f"item:{item.code}", bg=ITEM_BG,
                            title_size=48 if len(label) <= 14 else (34 if len(label) <= 30 else 28))
            btn.bind(on_release=lambda _b, it=item: self.choose(it))
            grid.add_widget(btn)

    def turn(self, delta: int) -> None:
        self.page = int(self.page) + delta
        self.show_page()

    def set_demo(self, choice: str) -> None:
        self.kiosk.approval.state.demo = choice
        self.demo_choice = choice

    def choose(self, item: Item) -> None:
        if self.busy:
            return
        flow = self.kiosk.approval
        flow.choose(item)
        target = flow.begin_identity()
        self.go(target)
        if target == "identity_card" and self.demo:
            flow.place_demo_card()  # demo: the chosen synthetic applicant puts the card down

    def manual(self) -> None:
        self.run(lambda: self.kiosk.approval.manual("未选择事项"), lambda _r: self.go("ticket"),
                 busy_key="common.working")

    def reset(self) -> None:
        super().reset()
        self.ids.grid.clear_widgets()
        self.ids.tabs.clear_widgets()


load_kv(__file__)
