"""Tables of the uplink, and the hold it puts on archiving.

``uplink_config`` (one row): the hub's URL, this hall's code at the hub, the hall's Ed25519
private key and the hub's public key (both base64), whether the uplink is on.
``uplink_state`` (one row): ``cursor`` — the highest event id the hub acknowledged (the
hub holds every event up to it); ``anchor_id`` — the audit row the hub asks the hall to
prove next; the last success, the last error and the backoff.
``uplink_manifests``: the last good manifest of each kind (the whole signed body).
``uplink_manifest_log``: every manifest applied, stored or refused, once each; ``reported``
turns 1 when a batch carried it to the hub.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("uplink")


@migrations(name="m0001_uplink")
def m0001_uplink(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE uplink_config (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            hub_url TEXT NOT NULL,
            hall TEXT NOT NULL,
            hall_key TEXT NOT NULL,        -- base64 Ed25519 private key of this hall
            hub_key TEXT NOT NULL,         -- base64 Ed25519 public key of the hub
            enabled INTEGER NOT NULL DEFAULT 1,
            configured_at REAL NOT NULL
        );
        CREATE TABLE uplink_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            cursor INTEGER NOT NULL DEFAULT 0,
            anchor_id INTEGER,
            last_ok_at REAL,
            last_try_at REAL,
            last_error TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            last_manifest_check REAL
        );
        CREATE TABLE uplink_manifests (
            kind TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            body TEXT NOT NULL,            -- the signed manifest as received
            result TEXT NOT NULL,          -- applied (a hook applied it) | stored (no hook yet)
            applied_at REAL NOT NULL
        );
        CREATE TABLE uplink_manifest_log (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            version INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            result TEXT NOT NULL,          -- applied | stored | refused
            reason TEXT NOT NULL DEFAULT '',
            reported INTEGER NOT NULL DEFAULT 0
        );
        CREATE UNIQUE INDEX uplink_manifest_log_once ON uplink_manifest_log (kind, version, content_hash, result, reason);
        """
    )


def hold_events(conn: sqlite3.Connection) -> int | None:
    """The highest event id archiving may move: the hub's acknowledged cursor whenever an
    uplink is configured — switched off too, since it may be switched on again and the hub
    must still get every event (None: no uplink, no hold)."""
    row = conn.execute(
        "SELECT s.cursor FROM uplink_config c LEFT JOIN uplink_state s ON s.id = 1 WHERE c.id = 1"
    ).fetchone()
    if row is None:
        return None
    return int(row[0] or 0)
