"""亮证, the QR: a fresh signed token from the server every ``refresh_seconds`` with a visible
countdown, drawn large enough for a scanner at arm's length. The QR matrix is computed off the
UI thread (``LicenceFlow``); the UI only uploads a small texture, so a refresh drops no frame.
A token past its lifetime is never left on screen. After ``licences.reverify_minutes`` the
server asks for the face check again (重新刷脸); 完成亮证 ends the presentation and the session.
"""

from __future__ import annotations

import threading
from typing import Any

from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty

from kiosk.errors import KioskError
from kiosk.flows.licence import LicenceFlow, Shown, licence_flow
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen

#: Seconds between countdown ticks.
TICK = 0.5
#: Seconds before retrying a refresh that failed (server briefly down).
RETRY_SECONDS = 5.0


@register("licence_qr")
class LicenceQRScreen(KioskScreen):
    say_key = "say.licence_qr"
    back_target = "licence_purpose"

    qr_texture = ObjectProperty(None, allownone=True)
    """The QR code of the current token (None: nothing valid to show)."""

    shown_qr = StringProperty("")
    """The token text currently drawn (tests read it)."""

    title_text = StringProperty("")
    """The licence type."""

    detail_text = StringProperty("")
    """Masked holder and number."""

    purpose_text = StringProperty("")
    """用证事由：…"""

    countdown = NumericProperty(0)
    """Seconds to the next token."""

    status_text = StringProperty("")
    """Refreshing / lost / re-verify message."""

    reverify = BooleanProperty(False)
    """The server asks for the face check again: the QR is hidden, a button shown."""

    period = NumericProperty(60)
    """Seconds between tokens (the countdown bar's length)."""

    refreshes = NumericProperty(0)
    """Tokens shown on this visit (tests, the benchmark)."""

    _event: Any = None
    _fetching = False
    _retry_at = 0.0

    @property
    def flow(self) -> LicenceFlow:
        return licence_flow(self.kiosk)

    def refresh(self) -> None:
        flow = self.flow
        lic = flow.state.chosen
        if not flow.verified or lic is None:
            Clock.schedule_once(lambda _dt: self.go("licence_list"))
            return
        lang = self.kiosk.lang
        self.title_text = lic.type_name
        self.detail_text = f"{flow.state.name_masked}    {lic.number_masked}"
        self.purpose_text = self.app.tr("licence.qr.purpose", name=flow.purpose_name(flow.state.purpose, lang))
        self.reverify = flow.state.needs_reverify
        self.status_text = ""
        shown = flow.state.shown
        if shown is not None:
            self.show(shown)
        elif flow.state.purpose is not None:  # after 重新刷脸: a new presentation
            self._clear_qr()
            purpose = flow.state.purpose
            self.run(lambda: flow.present(purpose), self.show, busy_key="licence.qr.refreshing")
        if self._event is None:
            self._event = Clock.schedule_interval(self._tick, TICK)

    def show(self, shown: Shown) -> None:
        """Upload the token's QR (computed in the worker) as the texture."""
        tex = Texture.create(size=(shown.modules, shown.modules), colorfmt="luminance")
        tex.blit_buffer(shown.pixels, colorfmt="luminance", bufferfmt="ubyte")
        tex.mag_filter = "nearest"
        tex.min_filter = "nearest"
        self.qr_texture = tex
        self.shown_qr = shown.qr
        self.refreshes += 1
        self.status_text = ""
        self.period = max(1, shown.refresh_seconds)
        self.countdown = self.flow.seconds_to_refresh()

    def _clear_qr(self) -> None:
        self.qr_texture = None
        self.shown_qr = ""

    def _tick(self, _dt: float) -> None:
        flow = self.flow
        if self.reverify or flow.state.shown is None:
            return
        self.countdown = flow.seconds_to_refresh()
        if not flow.token_fresh():
            self._clear_qr()
            self.status_text = self.app.tr("licence.qr.lost")
        if self.countdown <= 0 and not self._fetching and Clock.get_time() >= self._retry_at:
            self.fetch()

    def fetch(self) -> None:
        """Ask the server for the next token in a worker thread."""
        if self._fetching:
            return
        self._fetching = True
        generation = self._generation
        flow = self.flow

        def work() -> None:
            shown: Shown | None = None
            error: KioskError | None = None
            try:
                shown = flow.next_token()
            except KioskError as exc:
                error = exc
            Clock.schedule_once(lambda _dt: self._fetched(generation, shown, error))

        threading.Thread(target=work, daemon=True, name="licence-token").start()

    def _fetched(self, generation: int, shown: Shown | None, error: KioskError | None) -> None:
        self._fetching = False
        if generation != self._generation:
            return
        if shown is not None:
            self.show(shown)
            return
        if self.flow.state.needs_reverify:
            self.reverify = True
            self._clear_qr()
            self.status_text = self.app.tr("licence.qr.reverify")
            self.kiosk.say("licence.qr.reverify")
            return
        self._retry_at = Clock.get_time() + RETRY_SECONDS
        if error is not None:
            self.show_error(error)

    def do_reverify(self) -> None:
        """重新刷脸: the identity check again, then back here with a new presentation."""
        self.go(self.flow.reverify())

    def finish(self) -> None:
        """完成亮证: end the presentation, then the rating of this transaction."""
        self.go(self.flow.finish())

    def back(self) -> None:
        """Choose another purpose: this presentation ends."""
        flow = self.flow
        flow._end_presentation()
        flow.state.shown = None
        self.go("licence_purpose")

    def _stop(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

    def on_leave(self, *args: Any) -> None:
        self._stop()
        self._clear_qr()
        super().on_leave(*args)

    def reset(self) -> None:
        super().reset()
        self._stop()
        self._clear_qr()
        self.reverify = False
        self.refreshes = 0
        for prop in ("title_text", "detail_text", "purpose_text", "status_text"):
            setattr(self, prop, "")

    def on_scan(self, payload: Any) -> None:
        """Scans are not read here."""


load_kv(__file__)
