"""Start a 一窗通 self-service kiosk: ``yichuang-kiosk`` (also ``python -m kiosk`` and
``python run_kiosk.py``).

Examples::

    yichuang-kiosk --config kiosk.toml              # a real kiosk, full screen
    yichuang-kiosk --config kiosk.toml --windowed   # development
    yichuang-kiosk --demo                           # demo hall + simulated devices + kiosk
    yichuang-kiosk doctor --config kiosk.toml       # check the configuration and every device
    yichuang-kiosk setup                            # find the devices, try them, write kiosk.toml

``--demo`` starts a local demo queue server (``queue-server demo``: a seeded hall, tokens,
displays and the clerk console) in a child process, prints the display and console URLs,
and starts the kiosk against it with a simulated printer (``sim://``) and a simulated
ID-card reader (the SAM protocol on a pty). On a machine without a screen (no DISPLAY or
WAYLAND_DISPLAY) it says so, keeps the server running for the browser pages and shows how
to render the kiosk's screens instead (``python -m kiosk.screenshots``); ``--offscreen``
runs the kiosk on an invisible window anyway (smoke tests, benchmarks).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kiosk.runtime import configure_kivy, has_display  # no Kivy import

#: When this process started (the cold-start figure of ``--quit-after``).
T0 = time.monotonic()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    prog = Path(sys.argv[0]).name
    p = argparse.ArgumentParser(
        prog="python -m kiosk" if prog == "__main__.py" else prog,
        description=(__doc__ or "").split("\n\n")[0].replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Technician commands: yichuang-kiosk doctor --help, yichuang-kiosk setup --help\n"
               "(docs/technicians.md). Configuration keys: see docs/kiosk.md and kiosk.example.toml.")
    p.add_argument("--config", metavar="FILE", help="kiosk TOML file (default: built-in defaults)")
    p.add_argument("--windowed", action="store_true",
                   help="a normal window instead of full screen (development)")
    p.add_argument("--demo", action="store_true",
                   help="start a local demo queue server and simulated devices, then the kiosk")
    p.add_argument("--port", type=int, default=8000,
                   help="--demo: server port (default 8000; a free port if 8000 is taken)")
    p.add_argument("--db", default="var/demo.db", help="--demo: demo database (recreated; a fresh one elsewhere if a running server uses it)")
    p.add_argument("--landscape", action="store_true",
                   help="1920×1080 instead of the 1080×1920 portrait kiosk")
    p.add_argument("--scale", type=float, default=None, metavar="F",
                   help="window pixels per kiosk pixel, e.g. 0.5 shows the 1080×1920 kiosk "
                        "in a 540×960 window (default 1; 0.5 with --demo or --windowed)")
    p.add_argument("--offscreen", action="store_true",
                   help="run the kiosk on an invisible offscreen window (no screen needed)")
    p.add_argument("--quit-after", type=float, metavar="SECONDS",
                   help="stop after SECONDS once the home screen is drawn (smoke tests, bench)")
    return p.parse_args(argv)


def wait_forever(server: Any) -> None:
    try:
        while server.running():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


def start_identity(kiosk: Any, demo: bool) -> None:
    """Build the identity check (人证比对) in the background: loading the face models takes
    seconds, and the home screen must not wait. Until it is ready — or when it cannot be
    built — priority tickets use the plain ID-card swipe."""
    if not demo and (kiosk.config.get("camera", "source") == "" or not kiosk.config.get(
            "identity", "verify_face_for_priority")):
        return  # no camera / switched off: nothing to load (keeps the cold start lean)

    def build() -> None:
        from kiosk.flows.identity import attach_identity

        try:
            if attach_identity(kiosk, demo=demo) is not None:
                logging.getLogger("kiosk.identity").info(
                    "identity check ready (%s)", "demo camera clip" if demo else "camera")
        except Exception as exc:  # a broken camera or model file must not stop the kiosk
            kiosk.identity_error = f"{type(exc).__name__}: {exc}"  # the device watcher says so
            logging.getLogger("kiosk.identity").exception(
                "identity check unavailable; priority tickets use the ID-card swipe")
        finally:
            kiosk.identity_loading = False

    kiosk.identity_loading = True
    threading.Thread(target=build, name="identity-setup", daemon=True).start()


def run_kiosk(config: Any, *, fullscreen: bool, offscreen: bool, landscape: bool,
              quit_after: float | None, scale: float = 1.0, demo: bool = False,
              config_path: str | None = None) -> None:
    width, height = (1920, 1080) if landscape else (
        int(config.get("kiosk", "width")), int(config.get("kiosk", "height")))
    configure_kivy(round(width * scale), round(height * scale), fullscreen=fullscreen,
                   offscreen=offscreen)
    from kivy.clock import Clock

    from kiosk.app import KioskApp
    from kiosk.flows.session import Kiosk
    from kiosk.fonts import register_default_font
    from kiosk.voice import Speaker

    register_default_font()
    kiosk = Kiosk(config, speaker=Speaker(bool(config.get("kiosk", "speech"))))
    start_identity(kiosk, demo)
    kiosk.devices.config_path = config_path
    kiosk.devices.start()  # heartbeats to the server, test actions from /tech
    app = KioskApp(kiosk)
    app.view_scale = scale
    if quit_after is not None:
        def drawn(_dt: float) -> None:
            print(f"home screen drawn {time.monotonic() - T0:.3f} s after start", flush=True)
            Clock.schedule_once(lambda _dt: app.stop(), quit_after)
        Clock.schedule_once(drawn, 0)
    app.run()
    kiosk.devices.stop(timeout=2.0)
    kiosk.wait_for_audit(timeout=3.0)  # identity checks still being posted


def _log_demo_devices() -> None:
    """The demo's devices are simulated: say on the console what they did."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("kiosk: %(message)s"))
    for name in ("kiosk.flows.printer", "kiosk.flows.swipe", "kiosk.identity",
                 "kiosk.flows.session"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)


#: ``yichuang-kiosk <command>``: the technician's commands (kiosk/tech/cli.py).
COMMANDS = ("doctor", "setup")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TMPDIR", "/tmp")
    args_in = sys.argv[1:] if argv is None else argv
    if args_in and args_in[0] in COMMANDS:
        from kiosk.tech.cli import run_command

        return run_command(args_in[0], args_in[1:])
    args = parse_args(argv)
    from kiosk.config import from_dict, load
    from kiosk.errors import ConfigError

    server = None
    try:
        if args.demo:
            from kiosk.demo import demo_config, demo_database, start_demo_server

            server = start_demo_server(demo_database(args.db), args.port)
            config = from_dict(demo_config(server.url, server.tokens), source="--demo")
            _log_demo_devices()
            print(f"kiosk: demo kiosk against {server.url} (printer sim://demo-kiosk, "
                  "ID-card reader: simulator on a pty)", flush=True)
        else:
            config = load(args.config)
        offscreen = args.offscreen
        if not has_display() and not offscreen:
            print("kiosk: no screen here (neither DISPLAY nor WAYLAND_DISPLAY is set), so the "
                  "kiosk window is not shown.\n"
                  "  To see every kiosk screen as images:  .venv/bin/python -m kiosk.screenshots"
                  " --out /tmp/kiosk-screens\n"
                  "  To run the kiosk invisibly anyway:     add --offscreen", flush=True)
            if server is not None:
                print("kiosk: the demo queue server keeps running (Ctrl-C to stop).", flush=True)
                wait_forever(server)
                return 0
            return 2
        fullscreen = bool(config.get("kiosk", "fullscreen")) and not (
            args.windowed or args.demo or offscreen)
        scale = args.scale if args.scale is not None else (
            1.0 if fullscreen or offscreen else 0.5)
        run_kiosk(config, fullscreen=fullscreen, offscreen=offscreen, landscape=args.landscape,
                  quit_after=args.quit_after, scale=scale, demo=args.demo,
                  config_path=None if args.demo else args.config)
        return 0
    except ConfigError as exc:
        print(f"kiosk: {exc.detail} — {exc.zh}", file=sys.stderr)
        return 2
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
