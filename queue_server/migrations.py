"""The migrations registry: every capability's schema set, in the order they apply.

Each capability keeps its migrations in its own ``schema.py`` as a sqlite-utils
``Migrations`` set named after it, and may say what archiving does with its rows (a
function ``archive(conn, day, cutoff, limit) -> counts`` that moves at most ``limit`` rows
per call; :mod:`queue_server.archive` calls it until it moves nothing). This module is the one list of those modules;
a new capability adds its ``schema`` here, after the capabilities whose tables it refers
to. Nothing in the core imports this module but the entry points (``open_db``), so it may
import every capability's schema without a cycle.

Never edit a migration that has shipped: add a new one to the end of its set.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from types import ModuleType

from sqlite_utils import Database

from queue_server import schema as core_schema
from queue_server.admin import schema as admin_schema
from queue_server.approvals import schema as approvals_schema
from queue_server.audit import schema as audit_schema
from queue_server.cases import schema as cases_schema
from queue_server.db import connect, db_path, file_lock
from queue_server.devices import schema as devices_schema
from queue_server.evaluations import schema as evaluations_schema
from queue_server.licences import schema as licences_schema
from queue_server.printing import schema as printing_schema
from queue_server.queue import schema as queue_schema
from queue_server.uplink import schema as uplink_schema

#: Every schema module, in the order its set applies.
SCHEMA_MODULES: tuple[ModuleType, ...] = (
    core_schema,
    queue_schema,
    printing_schema,
    audit_schema,
    cases_schema,
    uplink_schema,
    evaluations_schema,
    approvals_schema,
    licences_schema,
    admin_schema,
    devices_schema,
)

#: Migrations recorded before the sets were split, all under the core's set: the set
#: that owns each now (a hall database created before the split is adopted once).
_ADOPTED = {"m0002_print_queue": "printing"}

Archiver = Callable[[sqlite3.Connection, str, float, int], dict[str, int]]


def archivers() -> list[tuple[str, Archiver]]:
    """``(set name, archive function)`` of every capability that archives rows, dependents
    first (the reverse of :data:`SCHEMA_MODULES`), so a capability lets go of the queue's
    rows before the queue moves them."""
    out = []
    for module in reversed(SCHEMA_MODULES):
        fn = getattr(module, "archive", None)
        if fn is not None:
            out.append((module.migrations.name, fn))
    return out


EventHold = Callable[[sqlite3.Connection], "int | None"]
Preparer = Callable[[Database, str, float], dict[str, int]]


def preparers() -> list[tuple[str, Preparer]]:
    """``(set name, before_archive)`` of every capability that prepares for archiving:
    ``before_archive(db, day, now)`` runs before the first row moves, outside any transaction
    (the admin capability makes the statistics' per-day facts of the days about to go)."""
    return [(m.migrations.name, m.before_archive) for m in SCHEMA_MODULES if hasattr(m, "before_archive")]


def event_holds() -> list[tuple[str, EventHold]]:
    """``(set name, hold_events)`` of every capability that must keep events in the live
    database: ``hold_events(conn)`` returns the highest event id archiving may move (None:
    no hold). The uplink holds every event the city hub has not acknowledged."""
    return [(m.migrations.name, m.hold_events) for m in SCHEMA_MODULES if hasattr(m, "hold_events")]


def _adopt_legacy(db: Database) -> None:
    if not db["_sqlite_migrations"].exists():
        return
    for name, set_name in _ADOPTED.items():
        db.conn.execute(
            "UPDATE _sqlite_migrations SET migration_set = ? WHERE migration_set = ? AND name = ?",
            (set_name, core_schema.migrations.name, name),
        )


def migrate(db: Database) -> None:
    """Apply every pending migration of every set; safe when several processes start together."""
    path = db_path(db)
    if path == ":memory:":
        _apply(db)
        return
    with file_lock(path + ".migrate.lock"):
        _apply(db)


def _apply(db: Database) -> None:
    _adopt_legacy(db)
    for module in SCHEMA_MODULES:
        module.migrations.apply(db)


def applied(db: Database) -> list[str]:
    """``set/name`` of every applied migration, in the order applied."""
    if not db["_sqlite_migrations"].exists():
        return []
    return [f"{r[0]}/{r[1]}" for r in db.conn.execute(
        "SELECT migration_set, name FROM _sqlite_migrations ORDER BY applied_at, rowid")]


def open_db(path: str | os.PathLike[str]) -> Database:
    """Connect and migrate: what every entry point calls."""
    db = connect(path)
    migrate(db)
    return db
