"""Shared fixtures. Area-specific fixtures live next to their tests."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Every `import escpos` leaves a stray temp dir (DESIGN.md §6); keep them in one place.
os.environ.setdefault("TMPDIR", "/tmp")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh, migrated hall database file."""
    from queue_server.migrations import open_db

    path = tmp_path / "hall.db"
    open_db(path).conn.close()
    return path


@pytest.fixture
def db(db_path: Path):
    from queue_server.db import connect

    database = connect(db_path)
    yield database
    database.conn.close()


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


@pytest.fixture(scope="module")
def browser():
    """One headless chromium per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()
