"""Headless Kivy test harness: each kiosk scenario runs in its own process.

Kivy allows one window per process and its size is fixed at creation, so a test calls
:func:`run_scenario` with ``"tests.test_kiosk_x:_scenario"`` and JSON-able arguments; the
child process sets up an offscreen SDL window (Mesa llvmpipe: real GL, real
screenshots), builds the real widget tree with ``build_root`` and calls
``scenario(driver, **args)``. The scenario returns a JSON-able dict that comes back to the
test. Touches are real: :meth:`Driver.tap` sends ``UnitTestTouch`` down/up at the widget's
centre through the window, exactly like a finger.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_scenario(target: str, timeout: float = 90.0, width: int = 1080, height: int = 1920,
                 **args: Any) -> dict[str, Any]:
    """Run ``module:function`` in a fresh headless kiosk process; returns its result."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    with tempfile.TemporaryDirectory(prefix="kiosk-scenario-") as tmp:
        env["KIVY_HOME"] = str(Path(tmp) / "kivy-home")  # removed with the directory
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "tests.support.kiosk_harness", target, json.dumps(args),
               str(out), str(width), str(height)]
        proc = subprocess.run(cmd, env=env, cwd=str(ROOT), capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0 or not out.exists():
            raise AssertionError(
                f"kiosk scenario {target} failed (exit {proc.returncode}):\n"
                f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
        return json.loads(out.read_text(encoding="utf-8"))


class Driver:
    """What a scenario uses to drive the kiosk: taps, waits, screen text, screenshots."""

    def __init__(self, kiosk: Any, root: Any) -> None:
        from kivy.base import EventLoop

        self.kiosk = kiosk
        self.root = root
        self.loop = EventLoop
        self.window = EventLoop.window

    # -- time ----------------------------------------------------------------------------
    def pump(self, seconds: float = 0.05) -> None:
        """Run the Kivy event loop for ``seconds`` (Clock callbacks, drawing)."""
        end = time.monotonic() + seconds
        while True:
            self.loop.idle()
            if time.monotonic() >= end:
                break

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0,
                 what: str = "condition") -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.loop.idle()
            value = predicate()
            if value:
                return value
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                             f"screen={self.screen.name} texts={self.texts()[:30]}")

    # -- looking -------------------------------------------------------------------------
    @property
    def screen(self) -> Any:
        return self.root.manager.current_screen

    def walk(self, widget: Any = None) -> Iterator[Any]:
        widget = widget or self.screen
        yield widget
        for child in widget.children:
            yield from self.walk(child)

    def visible(self, widget: Any) -> bool:
        w: Any = widget
        while w is not None:
            if getattr(w, "opacity", 1) == 0:
                return False
            if w is self.screen or w is self.root:
                return True
            w = w.parent
        return True

    def texts(self, widget: Any = None) -> list[str]:
        """Every visible non-empty label text on the current screen (or under ``widget``)."""
        from kivy.uix.label import Label

        return [w.text for w in self.walk(widget) if isinstance(w, Label) and w.text
                and self.visible(w)]

    def find(self, key: str | None = None, text: str | None = None, cls: Any = None) -> Any:
        """The first visible widget on the current screen with ``key`` / containing ``text``."""
        for w in self.walk():
            if not self.visible(w):
                continue
            if key is not None and getattr(w, "key", None) != key:
                continue
            if text is not None and text not in str(getattr(w, "text", "")) + str(
                    getattr(w, "title", "")):
                continue
            if cls is not None and not isinstance(w, cls):
                continue
            return w
        raise AssertionError(f"no widget key={key!r} text={text!r} on {self.screen.name}: "
                             f"{self.texts()[:40]}")

    # -- touching ------------------------------------------------------------------------
    def tap(self, widget: Any, settle: float = 0.05, double: bool = False,
            interval: float = 0.0) -> None:
        """A real touch down/up at the widget's centre; ``double``: a second one
        ``interval`` seconds later (0: back to back, while the first one's work runs)."""
        from kivy.tests.common import UnitTestTouch

        x, y = widget.to_window(*widget.center)
        for i in range(2 if double else 1):
            touch = UnitTestTouch(x, y)
            touch.touch_down()
            self.loop.idle()
            touch.touch_up()
            self.loop.idle()
            if double and i == 0 and interval:
                self.pump(interval)
        self.pump(settle)

    def tap_key(self, key: str, **kw: Any) -> None:
        self.tap(self.find(key=key), **kw)

    def tap_text(self, text: str, **kw: Any) -> None:
        from kivy.uix.behaviors import ButtonBehavior

        for w in self.walk():
            if isinstance(w, ButtonBehavior) and self.visible(w) and text in str(
                    getattr(w, "text", "")) + str(getattr(w, "title", "")):
                self.tap(w, **kw)
                return
        raise AssertionError(f"no button {text!r} on {self.screen.name}: {self.texts()[:40]}")

    def type_on_keypad(self, chars: str) -> None:
        from kiosk.widgets import KeyButton

        for ch in chars:
            self.tap(self.find(text=ch, cls=KeyButton), settle=0.0)

    def scan(self, payload: str) -> None:
        """A keyboard-wedge QR scanner: characters then Enter, through the window."""
        for ch in payload:
            self.window.dispatch("on_key_down", ord(ch) if ord(ch) < 256 else 0, 0, ch, [])
            self.window.dispatch("on_textinput", ch)
            self.window.dispatch("on_key_up", ord(ch) if ord(ch) < 256 else 0, 0)
        self.window.dispatch("on_key_down", 13, 40, None, [])
        self.window.dispatch("on_key_up", 13, 40)
        self.pump(0.05)

    def screenshot(self, path: str | Path) -> Path:
        """Save the window as PNG at exactly ``path`` (Kivy appends a counter; undo it)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pump(0.15)
        saved = self.window.screenshot(name=str(path))
        os.replace(saved, path)
        return path


def make_kiosk(args: dict[str, Any]) -> Any:
    """A Kiosk from scenario args: ``config`` ({section: {key: value}}) and extras."""
    from kiosk.config import from_dict
    from kiosk.flows.printer import KioskPrinter
    from kiosk.flows.session import Kiosk
    from kiosk.voice import SilentSpeaker

    cfg = from_dict(args.get("config", {}), source="<scenario>")
    printer = KioskPrinter.from_config(cfg.section("printer"))
    kiosk = Kiosk(cfg, printer=printer, speaker=SilentSpeaker())
    card = args.get("card")
    if card:  # a card lies on the simulated reader (config idcard.driver = "sim")
        from kiosk.flows.swipe import CardData

        kiosk.card_reader.insert_demo_card(  # type: ignore[attr-defined]
            CardData(card["id_number"], card["name"]), card["birth"])
    return kiosk


def _child(target: str, args: dict[str, Any], out: Path, width: int, height: int) -> None:
    from kiosk.runtime import configure_kivy

    configure_kivy(width, height, offscreen=True)
    from kivy.base import runTouchApp

    from kiosk.app import KioskApp, build_root
    from kiosk.fonts import register_default_font

    register_default_font()
    kiosk = make_kiosk(args)
    app = KioskApp(kiosk)
    root = build_root(kiosk, app)
    runTouchApp(root, embedded=True)
    driver = Driver(kiosk, root)
    driver.pump(0.2)
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    scenario_args = {k: v for k, v in args.items()
                     if k not in ("config", "card")}
    result = func(driver, **scenario_args) or {}
    out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    try:
        _child(sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]),
               int(sys.argv[5]))
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
    os._exit(0)  # skip Kivy/SDL teardown: the window dies with the process
