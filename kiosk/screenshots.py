"""Render every kiosk screen to PNG, in Chinese, English and 适老化 elder mode.

::

    python -m kiosk.screenshots --out docs/screens            # 1080×1920 portrait
    python -m kiosk.screenshots --out /tmp/land --landscape   # 1920×1080

Runs headless (SDL offscreen): a demo hall (``queue-server demo`` in a child process, on a
temporary database and a free loopback port) answers over HTTP, the printer is ``sim://``
and the ID-card reader is the pty simulator, so every screen shows real data. Files are
``<screen>-<zh|en|elder>.png``. The identity screens (``priority-identity-*.png``) come from
``tests/test_kiosk_identity.py`` (``YICHUANG_SCREENSHOTS=1``).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODES = (("zh", "zh", False), ("en", "en", False), ("elder", "zh", True))

#: What the check-in screens show being typed (a demo appointment code and the start of a
#: synthetic ID number): only the keypad's display is shot, nothing is submitted.
TYPED_CODE = "YY1498"
TYPED_ID = "37010219800"


def _compact(path: Path) -> None:
    """256-colour palette PNG: a third of the size, no visible change for flat UI."""
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


class Shooter:
    def __init__(self, root: Any, kiosk: Any, out: Path) -> None:
        from kivy.base import EventLoop

        self.root, self.kiosk, self.out = root, kiosk, out
        self.loop = EventLoop
        self.files: list[Path] = []

    def pump(self, seconds: float = 0.2) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.loop.idle()

    def until(self, cond: Any, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.loop.idle()
            if cond():
                self.pump(0.2)
                return
        raise RuntimeError(f"screen {self.root.manager.current} did not get ready")

    def shot(self, name: str) -> None:
        import os

        path = self.out / f"{name}.png"
        self.pump(0.15)
        saved = self.loop.window.screenshot(name=str(path))
        os.replace(saved, path)
        _compact(path)
        self.files.append(path)

    @property
    def screen(self) -> Any:
        return self.root.manager.current_screen


def shoot_all(out: Path, width: int, height: int) -> list[Path]:
    from kiosk.runtime import configure_kivy

    configure_kivy(width, height, offscreen=True)
    from kiosk.demo import start_demo_server

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kiosk-shots-"))
    server = start_demo_server(tmp / "hall.db", 0, quiet=True)
    try:
        return _shoot(out, server.url, server.tokens["kiosk"])
    finally:
        server.stop()


def _shoot(out: Path, url: str, token: str) -> list[Path]:
    from kivy.base import runTouchApp

    from kiosk.app import KioskApp, build_root
    from kiosk.config import from_dict
    from kiosk.flows.session import Kiosk
    from kiosk.fonts import register_default_font
    from kiosk.voice import SilentSpeaker

    register_default_font()
    cfg = from_dict({"server": {"url": url, "token": token, "retry_seconds": 30.0},
                     "kiosk": {"hall_name": "济南市章丘区政务服务中心",
                               "hall_name_en": "Zhangqiu District Government Service Center",
                               "idle_seconds": 3600.0,
                               "elder_idle_seconds": 3600.0},
                     "printer": {"url": "sim://screenshots"}, "idcard": {"driver": "sim"}})
    kiosk = Kiosk(cfg, speaker=SilentSpeaker())
    app = KioskApp(kiosk)
    root = build_root(kiosk, app)
    runTouchApp(root, embedded=True)
    s = Shooter(root, kiosk, out)
    s.pump(0.3)

    for suffix, lang, elder in MODES:
        def start(lang: str = lang, elder: bool = elder) -> None:
            kiosk.wipe()
            kiosk.set_language(lang)
            kiosk.set_elder(elder)
            app.sync_from_session()
            s.pump(0.1)

        start()
        s.shot(f"home-{suffix}")
        root.go("category")
        s.until(lambda: s.screen.ids.grid.children)
        s.shot(f"category-{suffix}")
        kiosk.take_number.choose_category("shebao")
        root.go("service")
        s.until(lambda: s.screen.ids.grid.children)
        s.shot(f"service-{suffix}")
        root.go("priority")
        s.shot(f"priority-{suffix}")
        kiosk.take_number.choose_priority("elderly")
        svc = kiosk.catalog.category("huzheng").services[1]
        kiosk.take_number.choose_service(svc)
        root.go("swipe")
        s.until(lambda: s.screen.busy)
        s.shot(f"swipe-{suffix}")
        # a regular ticket, printed on the simulated printer
        start()
        kiosk.take_number.choose_category("shebao")
        pension = kiosk.catalog.category("shebao").services[1]
        kiosk.take_number.choose_service(pension)
        for _ in range(3):  # people ahead, so the wait line shows
            kiosk.client.issue_ticket(pension.code)
        kiosk.take_number.issue()
        root.go("ticket")
        s.until(lambda: s.screen.print_status == "printed")
        s.shot(f"ticket-{suffix}")
        # the same with the printer out of paper
        from hardware.printer.sim import get_simulator

        get_simulator("screenshots").set_state(paper="out")
        start()
        kiosk.take_number.choose_category("qiye")
        kiosk.take_number.choose_service(kiosk.catalog.category("qiye").services[0])
        kiosk.take_number.issue()
        root.go("ticket")
        s.until(lambda: s.screen.print_status == "failed")
        s.shot(f"ticket-paper-out-{suffix}")
        get_simulator("screenshots").set_state(paper="ok")
        # check-in with a code being typed
        start()
        root.go("checkin")
        s.pump(0.1)
        for ch in TYPED_CODE:
            s.screen.key(ch)
        s.shot(f"checkin-{suffix}")
        s.screen.set_mode("id")
        for ch in TYPED_ID:
            s.screen.key(ch)
        s.shot(f"checkin-id-{suffix}")
        # progress with a result
        start()
        root.go("progress")
        s.pump(0.1)
        number = kiosk.client.issue_ticket("GJ01").number
        for ch in number:
            s.screen.key(ch)
        s.screen.submit()
        s.until(lambda: s.screen.result_number)
        s.shot(f"progress-{suffix}")
        # server down: the error banner with the automatic retry
        start()
        real = kiosk.client.base_url
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            kiosk.client.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        kiosk.catalog.invalidate()
        root.go("category")
        s.until(lambda: s.screen.error_text)
        s.shot(f"server-down-{suffix}")
        kiosk.client.base_url = real
        # the idle countdown, driven by the real idle timer
        kiosk.idle.idle_seconds = 0.3
        kiosk.idle.arm()
        s.until(lambda: root.overlay.visible)
        s.pump(0.3)
        s.shot(f"idle-countdown-{suffix}")
        root.overlay.dismiss()
    return s.files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kiosk.screenshots", description=__doc__)
    p.add_argument("--out", default="docs/screens", help="output directory")
    p.add_argument("--landscape", action="store_true", help="1920×1080 instead of 1080×1920")
    args = p.parse_args(argv)
    width, height = (1920, 1080) if args.landscape else (1080, 1920)
    files = shoot_all(Path(args.out), width, height)
    for f in files:
        print(f)
    sys.stdout.flush()
    import os

    os._exit(0)  # skip Kivy/SDL teardown


if __name__ == "__main__":
    sys.exit(main())
