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
    from queue_server.db import open_db

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
