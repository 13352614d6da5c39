"""Where statistics read from: the live hall database and, for archived days, the archive
files (``queue-server archive``), each opened **read-only** on a connection of its own.

:class:`StatsSource` opens the hall file with ``mode=ro`` and attaches every archive file
whose days overlap the range (recorded in ``admin_archives`` when archiving ran; the
default ``<db>.archive.db`` too if it exists), so a month that spans archived and live days
reads both. Row ids are only unique within one file, so callers join tickets to their
call-log rows per schema (:attr:`schemas`), never across files.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from sqlite_utils import Database

from queue_server.db import db_path


def _ro_uri(path: str) -> str:
    return f"file:{quote(os.path.abspath(path))}?mode=ro"


class StatsSource:
    """A read-only view over the hall file and the archives a range needs."""

    def __init__(self, path: str, from_day: str, to_day: str) -> None:
        self.path = os.path.abspath(path)
        self.conn = sqlite3.connect(_ro_uri(self.path), uri=True, check_same_thread=False)
        self.conn.execute("PRAGMA query_only=1")
        self.schemas: list[str] = ["main"]
        self.now: float | None = None
        """The hall's clock for providers (None: the wall clock)."""
        self.missing: list[str] = []
        for i, archive in enumerate(self._archives(from_day, to_day)):
            if not os.path.exists(archive):
                self.missing.append(archive)
                continue
            name = f"arch{i}"
            try:
                self.conn.execute(f"ATTACH DATABASE ? AS {name}", (_ro_uri(archive),))
            except sqlite3.Error:
                self.missing.append(archive)
                continue
            if self.has_table(name, "tickets"):
                self.schemas.append(name)

    def _archives(self, from_day: str, to_day: str) -> list[str]:
        files: list[str] = []
        if self.has_table("main", "admin_archives"):
            files = [r[0] for r in self.conn.execute(
                "SELECT path FROM admin_archives WHERE first_day <= ? AND last_day >= ? ORDER BY first_day",
                (to_day, from_day))]
        default = self.path + ".archive.db"
        if default not in files and os.path.exists(default):
            files.append(default)
        return files

    def has_table(self, schema: str, table: str) -> bool:
        return self.conn.execute(f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?",
                                 (table,)).fetchone() is not None

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def close(self) -> None:
        self.conn.close()


@contextmanager
def open_source(db: Database, from_day: str, to_day: str) -> Iterator[StatsSource]:
    src = StatsSource(db_path(db), from_day, to_day)
    try:
        yield src
    finally:
        src.close()
