"""Shared kiosk widgets (rules in ``widgets.kv``): big buttons, header, error banner,
on-screen keypad, QR image, idle countdown overlay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.graphics.texture import Texture
from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.label import Label

_KV = str(Path(__file__).with_name("widgets.kv"))

BLUE = (0.12, 0.35, 0.66, 1)


def load_widgets() -> None:
    if _KV not in Builder.files:
        Builder.load_file(_KV)


class BigButton(ButtonBehavior, BoxLayout):
    """A large touch target: a title and an optional hint line under it."""

    title = StringProperty("")
    """Main text (one or two words)."""

    hint = StringProperty("")
    """Smaller explanatory line; hidden when empty."""

    bg = ColorProperty(BLUE)
    """Background colour."""

    fg = ColorProperty((1, 1, 1, 1))
    """Text colour."""

    title_size = NumericProperty(52)
    """Title font size before the elder-mode scale."""

    key = StringProperty("")
    """A free tag (e.g. the service code) so screens and tests can find the button."""

    fade = BooleanProperty(True)
    """Fade the button while disabled. False for a card that cannot be chosen but whose text
    says why (a licence not yet in force): it stays fully readable, in its own colours."""


class KeyButton(ButtonBehavior, Label):
    """One key of the on-screen keypad."""

    bg = ColorProperty((0.93, 0.95, 0.98, 1))
    """Background colour."""

    label_scale = NumericProperty(1.0)
    """Extra text scale (the word keys on a crowded keypad)."""


class Keypad(GridLayout):
    """Digits (and X / letters as configured) with 删除 and 清空; calls ``on_key``."""

    keys = ListProperty([])
    """Characters to offer, in order (the flow's ``KeypadInput.keys()``)."""

    key_handler = ObjectProperty(None)
    """Callback ``key_handler(key)``; ``key`` is a character, ``"DEL"`` or ``"CLR"``."""

    key_height = NumericProperty(130)
    """Height of one key before the elder-mode scale (smaller when there are many keys)."""

    def on_keys(self, *_args: Any) -> None:
        self.rebuild()

    def rebuild(self) -> None:
        self.clear_widgets()
        app = App.get_running_app()
        n = len(self.keys) + 2
        if app.landscape:  # half the width of 1920: more, lower keys
            self.cols = 4 if n <= 13 else (6 if n <= 25 else 8)
            self.key_height = {4: 110, 6: 100, 8: 86}[self.cols]
        else:
            self.cols = 3 if n <= 13 else (5 if n <= 25 else 7)
            self.key_height = {3: 130, 5: 100, 7: 92}[self.cols]
        for k in self.keys:
            self.add_widget(KeyButton(text=k, on_release=lambda b: self._press(b.text)))
        word_scale = 0.7 if self.cols >= 8 else 1.0
        delete = KeyButton(text=app.tr("keypad.delete"), bg=(0.98, 0.9, 0.85, 1),
                           label_scale=word_scale)
        delete.bind(on_release=lambda _b: self._press("DEL"))
        clear = KeyButton(text=app.tr("keypad.clear"), bg=(0.98, 0.9, 0.85, 1),
                          label_scale=word_scale)
        clear.bind(on_release=lambda _b: self._press("CLR"))
        self.add_widget(delete)
        self.add_widget(clear)

    def _press(self, key: str) -> None:
        if self.key_handler is not None:
            self.key_handler(key)


class ErrorBanner(BoxLayout):
    """Shows a screen's error, advice and retry countdown; collapses when empty.
    In a screen's .kv: ``message: root.error_text``, ``advice: root.advice_text``,
    ``retry_in: root.retry_in``."""

    message = StringProperty("")
    """The error message (empty: the banner is hidden)."""

    advice = StringProperty("")
    """The way forward."""

    retry_in = NumericProperty(0)
    """Seconds to the automatic retry (0: none)."""


class QRImage(Image):
    """Renders ``data`` as a QR code texture (qrcode + Pillow, in memory)."""

    data = StringProperty("")
    """The payload (the progress URL)."""

    def on_data(self, *_args: Any) -> None:
        if not self.data:
            self.texture = None
            return
        import qrcode

        qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
        qr.add_data(self.data)
        qr.make(fit=True)
        matrix = qr.get_matrix()  # rows of booleans, quiet zone included, top row first
        n = len(matrix)
        # one luminance byte per module, bottom row first (GL texture origin)
        pixels = bytes(0 if dark else 255 for row in reversed(matrix) for dark in row)
        tex = Texture.create(size=(n, n), colorfmt="luminance")
        tex.blit_buffer(pixels, colorfmt="luminance", bufferfmt="ubyte")
        tex.mag_filter = "nearest"
        self.texture = tex


class IdleOverlay(FloatLayout):
    """The countdown before a wipe: full-screen, a touch anywhere dismisses it.

    It is in the widget tree only while shown (``host`` is the root it attaches to): an
    invisible full-screen overlay would still be rasterised on every frame, which on a
    software GL renderer doubled the cost of each frame."""

    host = ObjectProperty(None, allownone=True)
    """The widget the overlay attaches itself to when shown."""

    visible = BooleanProperty(False)
    """Shown or not (the widget stays in the tree; hidden by opacity and size)."""

    seconds = NumericProperty(0)
    """Seconds left."""

    def show(self, seconds: int) -> None:
        app = App.get_running_app()
        if not self.visible or seconds != self.seconds:
            kiosk = app.kiosk
            if kiosk.speech_on and (not self.visible or seconds in (5, 3)):
                kiosk.speaker.say(app.tr("idle.spoken", seconds=seconds), kiosk.lang)
        self.seconds = seconds
        self.visible = True
        if self.parent is None and self.host is not None:
            self.host.add_widget(self)

    def dismiss(self) -> None:
        self.visible = False
        if self.parent is not None:
            self.parent.remove_widget(self)

    def on_touch_down(self, touch: Any) -> bool:
        if not self.visible:
            return False
        return super().on_touch_down(touch)
