"""What many test modules share: the repository root, free ports, the headless chromium."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Headless Debian chromium for the browser tests (scripts/setup.sh installs it; never
# `playwright install`). The background-networking flag keeps it from calling out; the
# autoplay flag is the one kiosk-mode display browsers need (docs/displays.md).
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--autoplay-policy=no-user-gesture-required"]
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")


def launch_chromium(playwright):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def screenshot_dir(kind: str, scratch: Path) -> Path:
    """Where a test writes its screenshots: ``docs/<kind>/`` (``screens`` for the kiosk,
    ``screenshots`` for web pages) when ``YICHUANG_SCREENSHOTS=1`` — to (re)write the
    documented pictures — else the test's own ``scratch`` folder, so a test run leaves the
    checkout as it found it."""
    out = ROOT / "docs" / kind if os.environ.get("YICHUANG_SCREENSHOTS") == "1" else scratch
    out.mkdir(parents=True, exist_ok=True)
    return out
