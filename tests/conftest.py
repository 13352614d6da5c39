"""Shared fixtures. Area-specific fixtures live next to their tests."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from tests.support.common import launch_chromium

# Every `import escpos` leaves a stray temp dir (DESIGN.md §6); keep them in one place.
os.environ.setdefault("TMPDIR", "/tmp")


@pytest.fixture(autouse=True)
def _close_what_the_test_opened(monkeypatch):
    """Every SQLite connection a test opens in its own thread is closed when it ends.

    Apps under test keep a connection per thread (``queue_server.app.get_db``) and tests
    open databases freely; over a thousand tests those descriptors would pile up until the
    process runs out. Connections made by module-scoped fixtures (set up before this) and by
    server threads (freed when the thread ends) are left alone.
    """
    from queue_server.app import close_thread_connections

    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect
    main = threading.get_ident()

    def connect(*args, **kwargs):  # type: ignore[no-untyped-def]
        conn = real_connect(*args, **kwargs)
        if threading.get_ident() == main:
            opened.append(conn)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    yield
    close_thread_connections()
    for conn in opened:
        conn.close()


@pytest.fixture
def clock():
    """The hall's clock in engine tests: 2026-11-25 10:00 Asia/Shanghai (a Wednesday)."""
    from tests.support.queue import FakeClock

    return FakeClock()


@pytest.fixture
def hall(db, clock):
    """The demo hall (categories, services, windows, users, a token per role), no appointments.
    Modules that need another hall define their own ``hall``."""
    from queue_server.demo import make_hall

    return make_hall(db, clock=clock, tokens=True, appointments=0)


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
