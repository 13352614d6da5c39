"""Migrations of the device-health capability, and what archiving does with its rows.

``devices``: one row per kiosk or display that ever sent a heartbeat, named like its token:
the latest state (its worst component's), since when, what it said last and when
(``last_seen``), and its last error. ``stale`` is not stored as a state: it is computed when
read (``last_seen`` older than the ``devices.stale_after_s`` setting); ``stale_recorded`` is
when a ``device.state_changed`` event said so (NULL while the device beats).
``device_components``: the components the last heartbeat reported (printer, idcard,
camera, scanner, voice), with since when each is in its state.
``device_history``: every change of a device's state and of a component's state.
``device_actions``: test actions a technician queued (test page, card-reader probe, reload
the configuration), delivered at the device's next heartbeat, with the device's result.

None of it carries personal data: components are named by URL, port or source.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from queue_server.db import move_rows

migrations = Migrations("devices")

#: Days of history and finished actions the live database keeps (older ones are archived).
KEEP_DAYS = 30


@migrations(name="m0001_devices")
def m0001_devices(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE devices (
            name TEXT PRIMARY KEY,              -- the token's name, e.g. 'kiosk-03'
            kind TEXT NOT NULL,                 -- kiosk | display
            version TEXT NOT NULL DEFAULT '',
            uptime_s REAL,
            disk_free_mb REAL,
            state TEXT NOT NULL,                -- ok | unknown | warning | error (worst component)
            state_since REAL NOT NULL,
            detail TEXT NOT NULL DEFAULT '',    -- the worst component, in words
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            beats INTEGER NOT NULL DEFAULT 0,
            stale_recorded REAL,                -- when the stale event was recorded (NULL: beating)
            last_error TEXT,                    -- the last component error, in words
            last_error_at REAL,                 -- since when
            last_error_until REAL               -- when it cleared (NULL: still on)
        );
        CREATE TABLE device_components (
            device TEXT NOT NULL,
            kind TEXT NOT NULL,                 -- printer | idcard | camera | scanner | voice
            name TEXT NOT NULL,                 -- URL, port or source
            state TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            checked_at REAL NOT NULL,
            since REAL NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (device, kind, name)
        );
        CREATE TABLE device_history (
            id INTEGER PRIMARY KEY,
            device TEXT NOT NULL,
            ts REAL NOT NULL,
            component_kind TEXT,                -- NULL: the device's own state
            component_name TEXT,
            state_from TEXT,                    -- NULL: first seen
            state_to TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX device_history_device ON device_history(device, id);
        CREATE INDEX device_history_ts ON device_history(ts);
        CREATE TABLE device_actions (
            id INTEGER PRIMARY KEY,
            device TEXT NOT NULL,
            action TEXT NOT NULL,               -- test_print | probe_idcard | reload_config
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sent', 'done', 'failed', 'expired')),
            requested_by TEXT NOT NULL,         -- user:<id> or token:<name>
            created_at REAL NOT NULL,
            sent_at REAL,
            finished_at REAL,
            ok INTEGER,
            result TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX device_actions_device ON device_actions(device, status, id);
        """
    )


def archive(conn: sqlite3.Connection, day: str, cutoff: float, limit: int) -> dict[str, int]:
    """History and finished actions more than :data:`KEEP_DAYS` days before ``day`` move to
    the archive, ``limit`` rows at a time; the devices' latest state stays."""
    keep_from = cutoff - KEEP_DAYS * 86400
    n = move_rows(conn, "device_history",
                  "id IN (SELECT id FROM main.device_history WHERE ts < ? ORDER BY id LIMIT ?)",
                  (keep_from, limit))
    if n:
        return {"device_history": n}
    a = move_rows(conn, "device_actions",
                  "id IN (SELECT id FROM main.device_actions WHERE status NOT IN ('queued', 'sent') "
                  "AND created_at < ? ORDER BY id LIMIT ?)", (keep_from, limit))
    return {"device_history": 0, "device_actions": a}
