"""Kivy environment set-up, done before the first ``import kivy`` (no Kivy import here).

Kivy reads its configuration from environment variables and ``~/.kivy`` at import
time; the kiosk wants neither the user's ``~/.kivy`` nor Kivy's argv parsing.
"""

from __future__ import annotations

import os
import sys


def has_display() -> bool:
    """True when a graphical session is available (X11 or Wayland)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def configure_kivy(width: int = 1080, height: int = 1920, *, fullscreen: bool = False,
                   offscreen: bool = False, kivy_home: str | None = None) -> None:
    """Set Kivy's environment. Must run before ``import kivy``."""
    if "kivy" in sys.modules:
        raise RuntimeError("configure_kivy() must run before kivy is imported")
    env = os.environ
    env["KIVY_NO_ARGS"] = "1"
    if kivy_home:
        env["KIVY_HOME"] = kivy_home
    elif not env.get("KIVY_HOME"):
        # a kiosk-owned directory, not the user's ~/.kivy (whose config would apply)
        base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = os.path.join(base, "yichuang", "kivy")
        os.makedirs(home, exist_ok=True)
        env["KIVY_HOME"] = home
    env["KIVY_USE_DEFAULTCONFIG"] = "1"
    env.setdefault("KIVY_NO_CONSOLELOG", "1")
    env.setdefault("KIVY_LOG_MODE", "PYTHON")
    env["KIVY_NO_FILELOG"] = "1"
    env["KCFG_GRAPHICS_WIDTH"] = str(width)
    env["KCFG_GRAPHICS_HEIGHT"] = str(height)
    env["KCFG_GRAPHICS_FULLSCREEN"] = "auto" if fullscreen else "0"
    env["KCFG_GRAPHICS_RESIZABLE"] = "0"
    env["KCFG_KIVY_EXIT_ON_ESCAPE"] = "0"
    # No red touch circles on a kiosk; a mouse stays a single-touch input.
    env["KCFG_INPUT_MOUSE"] = "mouse,disable_multitouch"
    if offscreen:
        env["SDL_VIDEODRIVER"] = "offscreen"
        env.setdefault("SDL_AUDIODRIVER", "dummy")
        # Software GL (Mesa llvmpipe) pays per sample: 2× MSAA more than doubles the cost
        # of every frame (measured: ~165 → ~60 ms CPU at 1080×1920). A real kiosk's GPU
        # keeps Kivy's default of 2.
        env.setdefault("KCFG_GRAPHICS_MULTISAMPLES", "0")
        # llvmpipe's rasteriser threads fight the app (and everything else on a busy
        # 2-core machine) for the CPU; rendering in the calling thread halved the tap →
        # number time under load.
        env.setdefault("LP_NUM_THREADS", "0")
