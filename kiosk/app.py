"""The Kivy application: the root widget, the screen manager, the idle overlay.

``build_root(kiosk)`` builds the whole widget tree without ``App.run()`` so tests and
the screenshot script attach it to an offscreen window (``runTouchApp(root,
embedded=True)``). Screens find the shared UI state (language, elder-mode scale,
translations) on the app: ``app.tr('home.take_number', app.lang)`` and
``font_size: 40 * app.scale`` in .kv files re-evaluate when the language or the mode
changes. Import this module only after Kivy's environment is set (``run_kiosk.py``,
``tests/support/kiosk_harness.py``).
"""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from kiosk.flows.session import Kiosk
from kiosk.i18n import tr
from kiosk.screens import SCREENS, load_screens

#: Text scale in 适老化 elder mode.
ELDER_SCALE = 1.3

#: Background of every screen.
BACKGROUND = (0.96, 0.97, 0.99, 1)


class KioskRoot(FloatLayout):
    """Screen manager + idle overlay. Every touch anywhere resets the idle timer."""

    kiosk = ObjectProperty(None)
    """The :class:`~kiosk.flows.session.Kiosk` facade."""

    manager = ObjectProperty(None)
    """The :class:`ScreenManager` holding one screen per entry of ``kiosk.screens.SCREENS``."""

    overlay = ObjectProperty(None)
    """The idle countdown overlay (``kiosk.widgets.IdleOverlay``)."""

    def on_touch_down(self, touch: Any) -> bool:
        if self.kiosk is not None:
            self.kiosk.idle.poke()
        if self.overlay is not None and self.overlay.visible:
            self.overlay.dismiss()
            return True
        return bool(super().on_touch_down(touch))

    _scan_buffer = ""

    def on_textinput(self, _window: object, text: str) -> None:
        """Keyboard-wedge QR scanner: characters arrive as text input, then Enter."""
        if self.kiosk is not None and self.kiosk.config.get("scanner", "mode") == "keyboard":
            self._scan_buffer = (self._scan_buffer + text)[-512:]

    def on_key_down(self, _window: object, key: int, *_args: object) -> bool:
        if key in (13, 271) and self._scan_buffer:  # Enter / keypad Enter ends a scan
            payload, self._scan_buffer = self._scan_buffer.strip(), ""
            self.deliver_scan(payload)
            return True
        return False

    def deliver_scan(self, payload: str) -> None:
        """A QR scan (either scanner mode) goes to the screen on show; it counts as activity."""
        self.kiosk.idle.poke()
        if payload:
            self.manager.current_screen.on_scan(payload)

    def go(self, name: str) -> None:
        """Show screen ``name``. Leaving home arms the idle timer; home disarms it."""
        if name == "home":
            self.kiosk.idle.disarm()
        elif not self.kiosk.idle.armed:
            self.kiosk.idle.arm()
        self.manager.current = name

    def home(self) -> None:
        """Wipe the session and return to the home screen."""
        self.kiosk.wipe()

    def _after_wipe(self) -> None:
        app = App.get_running_app()
        if app is not None:
            app.sync_from_session()
        if self.overlay is not None:
            self.overlay.dismiss()
        for screen in self.manager.screens:
            screen.reset()
        self.go("home")

    def tick(self, _dt: float = 0.0) -> None:
        """Idle timer tick (4 Hz): show/update the countdown or wipe."""
        state = self.kiosk.idle.poll()
        if state.phase == "countdown":
            self.overlay.show(state.seconds_left)
        elif state.phase == "expired":
            self.home()
        elif self.overlay.visible:
            self.overlay.dismiss()


class KioskApp(App):
    """UI-wide state mirrored from the session, so .kv bindings update on change."""

    lang = StringProperty("zh")
    """Current language, ``zh`` or ``en``."""

    elder = BooleanProperty(False)
    """适老化 elder mode: larger text, fewer choices per page, spoken prompts."""

    scale = NumericProperty(1.0)
    """Text scale: 1.0, or :data:`ELDER_SCALE` in elder mode."""

    hall_name = StringProperty("")
    """The hall's name from the kiosk config."""

    hall_name_en = StringProperty("")
    """The hall's English name (empty: the Chinese one is shown in English mode too)."""

    landscape = BooleanProperty(False)
    """The window is wider than tall (1920×1080): screens put their parts side by side."""

    def __init__(self, kiosk: Kiosk, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kiosk = kiosk
        self.title = "一窗通 自助服务"
        self.hall_name = kiosk.config.hall_name
        self.hall_name_en = str(kiosk.config.get("kiosk", "hall_name_en"))
        self.root_widget: KioskRoot | None = None
        self.scanner: object | None = None
        self.sync_from_session()

    def tr(self, key: str, _lang: str | None = None, **fields: object) -> str:
        """Translate; ``_lang`` is only there so .kv expressions bind to ``app.lang``."""
        return tr(key, self.lang, **fields)

    def sync_from_session(self) -> None:
        self.lang = self.kiosk.lang
        self.elder = self.kiosk.elder
        self.scale = ELDER_SCALE if self.elder else 1.0

    def toggle_language(self) -> None:
        self.kiosk.toggle_language()
        self.sync_from_session()

    def toggle_elder(self) -> None:
        self.kiosk.set_elder(not self.kiosk.elder)
        self.sync_from_session()

    #: Window pixels per kiosk pixel (``run_kiosk.py --scale``): a 1080×1920 kiosk in a
    #: 540×960 development window keeps its layout and touch targets, only smaller.
    view_scale = 1.0

    def build(self) -> Any:
        root = build_root(self.kiosk, self)
        if self.view_scale == 1.0:
            return root
        from kivy.core.window import Window
        from kivy.uix.scatterlayout import ScatterLayout

        w, h = Window.width / self.view_scale, Window.height / self.view_scale
        view = ScatterLayout(size=(w, h), size_hint=(None, None), do_rotation=False,
                             do_scale=False, do_translation=False)
        view.scale = self.view_scale
        view.pos = (0, 0)  # after scaling: Scatter scales about its centre
        root.size_hint = (1, 1)
        view.add_widget(root)
        return view

    def on_stop(self) -> None:
        self.kiosk.printer.close()
        self.kiosk.card_reader.close()
        close = getattr(self.scanner, "close", None)
        if close is not None:
            close()


def build_root(kiosk: Kiosk, app: KioskApp | None = None) -> KioskRoot:
    """The full widget tree for ``kiosk``; creates the :class:`KioskApp` if none exists."""
    from kiosk.widgets import IdleOverlay, load_widgets

    if app is None:
        running = App.get_running_app()
        app = running if isinstance(running, KioskApp) else KioskApp(kiosk)
    load_widgets()
    load_screens()
    from kivy.core.window import Window

    # The screens' background is the window's clear colour: no full-screen rectangle to
    # fill on every frame (a software GL renderer pays for every pixel drawn).
    Window.clearcolor = BACKGROUND

    def orient(_w: object, size: tuple[int, int]) -> None:
        app.landscape = size[0] > size[1]

    orient(Window, Window.size)
    Window.bind(size=orient)
    root = KioskRoot(kiosk=kiosk)
    manager = ScreenManager(transition=NoTransition())
    for name, cls in SCREENS.items():
        manager.add_widget(cls(name=name, kiosk=kiosk))
    root.manager = manager
    root.add_widget(manager)
    root.overlay = IdleOverlay(host=root)
    kiosk.on_wipe.append(root._after_wipe)
    _connect_scanner(kiosk, root, app)
    app.root_widget = root
    Clock.schedule_interval(root.tick, 0.25)
    manager.current = "home"
    # The widget trees, rules and modules built so far live as long as the process:
    # keep them out of the garbage collector's full passes (shorter pauses mid-tap).
    import gc

    gc.collect()
    gc.freeze()
    return root


def _connect_scanner(kiosk: Kiosk, root: KioskRoot, app: KioskApp) -> None:
    """Wire the QR scanner of ``[scanner]`` to ``root.deliver_scan`` on the UI thread."""
    from kivy.core.window import Window

    mode = str(kiosk.config.get("scanner", "mode"))
    if mode == "keyboard":
        Window.bind(on_textinput=root.on_textinput, on_key_down=root.on_key_down)
        # SDL delivers text input only while a keyboard is requested
        Window.request_keyboard(lambda: None, root)
    elif mode == "serial":
        from hardware.scanner import SerialScanner

        def on_scan(text: str) -> None:
            Clock.schedule_once(lambda _dt: root.deliver_scan(text))

        try:
            app.scanner = SerialScanner(str(kiosk.config.get("scanner", "port")), on_scan,
                                        int(kiosk.config.get("scanner", "baudrate"))).start()
        except Exception as exc:  # a missing scanner must not stop the kiosk
            import logging

            logging.getLogger(__name__).warning("QR scanner unavailable: %s", exc)


__all__ = ["KioskApp", "KioskRoot", "build_root", "Builder"]
