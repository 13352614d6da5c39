"""Shared fixtures. Area-specific fixtures live next to their tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.common import launch_chromium

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


@pytest.fixture(scope="module")
def browser():
    """One headless chromium per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()
