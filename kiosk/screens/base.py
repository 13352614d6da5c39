"""The base class of every kiosk screen: kiosk injection, background work, errors.

A screen never blocks the UI thread on the network or a device: ``self.run(work, done)``
runs ``work()`` in a worker thread and calls ``done(result)`` on the UI thread. A
:class:`~kiosk.errors.ServerUnavailable` shows the error banner with a countdown and
retries on its own (DESIGN §5: server down → clear message + automatic retry); other
:class:`~kiosk.errors.KioskError`\\ s show their message and advice until the citizen
acts. While work runs, ``busy`` is true: taps on the screen's actions are ignored
(generated buttons check ``busy``; .kv buttons bind ``disabled: root.busy``) — the first
half of double-tap protection; the flow's idempotency is the second. The "please wait"
text (``busy_text``) appears only if the work takes longer than :data:`BUSY_TEXT_DELAY`,
so a fast request costs no extra frame.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.errors import KioskError
from kiosk.i18n import tr

log = logging.getLogger(__name__)

#: Seconds of background work before the screen says "please wait".
BUSY_TEXT_DELAY = 0.3


class KioskScreen(Screen):
    """Subclass, decorate with ``@register(name)``, load a .kv with the same name."""

    kiosk = ObjectProperty(None)
    """The :class:`~kiosk.flows.session.Kiosk` facade (injected by ``build_root``)."""

    busy = BooleanProperty(False)
    """True while background work runs; buttons bind ``disabled`` to it."""

    error_text = StringProperty("")
    """The current error message (empty: no banner)."""

    advice_text = StringProperty("")
    """The way forward for the current error."""

    retry_in = NumericProperty(0)
    """Seconds until the automatic retry (0: none scheduled)."""

    busy_text = StringProperty("")
    """What the screen says while busy (``run(..., busy_key=...)``)."""

    error_code = StringProperty("")
    """Stable code of the current error (tests, diagnostics)."""

    #: i18n key spoken when the screen opens in elder mode (None: nothing).
    say_key: str | None = None

    #: Where the footer's 返回 goes; ``home`` wipes the session.
    back_target = "home"

    _retry_event: Any = None
    _retry_work: Any = None
    _generation = 0

    # -- navigation ----------------------------------------------------------------------
    @property
    def app(self) -> Any:
        return App.get_running_app()

    def go(self, name: str) -> None:
        self.app.root_widget.go(name)

    def home(self) -> None:
        """Finish: wipe the session, back to the home screen."""
        self.app.root_widget.home()

    def on_scan(self, payload: str) -> None:
        """A QR scanner delivered ``payload`` while this screen was shown (default: ignore)."""

    def back(self) -> None:
        if self.back_target == "home":
            self.home()
        else:
            self.go(self.back_target)

    def on_pre_enter(self, *args: Any) -> None:
        self.clear_error()
        self.refresh()
        if self.say_key:
            self.kiosk.say(self.say_key)

    def on_leave(self, *args: Any) -> None:
        """Leaving drops the results of work still running and any scheduled retry."""
        self._generation += 1
        self.busy = False
        self.clear_error()

    def refresh(self) -> None:
        """Redraw from the flows' state. Called on entry and after language/mode changes."""

    def reset(self) -> None:
        """Forget everything shown (called on session wipe)."""
        self._generation += 1
        self.busy = False
        self.clear_error()

    # -- background work -----------------------------------------------------------------
    def run(self, work: Callable[[], Any], done: Callable[[Any], None],
            failed: Callable[[KioskError], None] | None = None,
            busy_key: str = "common.loading") -> None:
        """Run ``work`` off the UI thread; ``done(result)`` on the UI thread.

        Ignored while busy (a second tap while the first request runs does nothing).
        Results that arrive after the session was wiped are dropped.
        """
        if self.busy:
            return
        self.busy = True
        self.busy_text = ""
        self.clear_error()
        generation = self._generation
        text = tr(busy_key, self.kiosk.lang)

        def say_wait(_dt: float) -> None:
            if self.busy and generation == self._generation:
                self.busy_text = text

        Clock.schedule_once(say_wait, BUSY_TEXT_DELAY)

        def worker() -> None:
            result: Any = None
            error: KioskError | None = None
            try:
                result = work()
            except KioskError as exc:
                error = exc
            except Exception as exc:  # a bug must not freeze the kiosk on a busy screen
                log.exception("screen work failed")
                error = KioskError(f"{exc.__class__.__name__}: {exc}")
            Clock.schedule_once(lambda _dt: self._finish(generation, result, error, work,
                                                         done, failed, busy_key))

        threading.Thread(target=worker, daemon=True, name=f"screen-{self.name}").start()

    def _finish(self, generation: int, result: Any, err: KioskError | None,
                work: Callable[[], Any], done: Callable[[Any], None],
                failed: Callable[[KioskError], None] | None, busy_key: str) -> None:
        if generation != self._generation:
            return
        self.busy = False
        if err is None:
            done(result)
            return
        self.show_error(err)
        if failed is not None:
            failed(err)
        if err.retryable:
            self._schedule_retry(lambda: self.run(work, done, failed, busy_key))

    # -- errors --------------------------------------------------------------------------
    def show_error(self, err: KioskError) -> None:
        lang = self.kiosk.lang
        self.error_code = err.code
        self.error_text = err.message(lang)
        self.advice_text = err.advice(lang)

    def clear_error(self) -> None:
        if self._retry_event is not None:
            self._retry_event.cancel()
            self._retry_event = None
        self.retry_in = 0
        self.error_text = ""
        self.advice_text = ""
        self.error_code = ""

    def retry_now(self) -> None:
        """The banner's 重试 button."""
        work = self._retry_work
        self.clear_error()
        if work is not None:
            work()

    def _schedule_retry(self, work: Callable[[], None]) -> None:
        seconds = float(self.kiosk.config.get("server", "retry_seconds"))
        self._retry_work = work
        self.retry_in = int(seconds + 0.999)
        generation = self._generation

        def tick(_dt: float) -> bool:
            if generation != self._generation or self._retry_work is not work:
                return False
            self.retry_in = max(0, self.retry_in - 1)
            if self.retry_in <= 0:
                self._retry_event = None
                self._retry_work = None
                self.retry_in = 0
                work()
                return False
            return True

        if self._retry_event is not None:
            self._retry_event.cancel()
        self._retry_event = Clock.schedule_interval(tick, min(1.0, seconds))
