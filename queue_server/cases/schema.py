"""Kiosk cases (办件) and the references printed documents carry.

``cases``: one row per thing a citizen did at a kiosk that is more than a queue ticket —
a 秒批 application (kind ``approval``), showing a licence (``licence_show``), printing a
licence copy (``licence_print``). The number (``SP20261202000001``) is what the citizen,
the clerk and the 好差评 evaluation refer to; each capability keeps its own details keyed
by it. ``verify_refs``: the random reference behind a printed document's QR
(``/v/<ref>``) with the holder-safe summary the page shows. Cases are records the hall
answers for: archiving leaves them (this module has no ``archive``).
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("cases")


@migrations(name="m0001_cases")
def m0001_cases(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE cases (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,      -- SP20261202000001
            kind TEXT NOT NULL,               -- approval | licence_show | licence_print
            item TEXT NOT NULL,               -- item or service code
            item_name TEXT NOT NULL,
            kiosk TEXT NOT NULL DEFAULT '',   -- token name of the kiosk (or user:<id>)
            status TEXT NOT NULL,
            ticket_id INTEGER,                -- the window ticket a referral issued
            day TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX cases_ticket ON cases(ticket_id) WHERE ticket_id IS NOT NULL;
        CREATE INDEX cases_day_kind ON cases(day, kind);
        CREATE TABLE case_counters (
            day TEXT NOT NULL,
            prefix TEXT NOT NULL,
            last INTEGER NOT NULL,
            PRIMARY KEY (day, prefix)
        ) WITHOUT ROWID;
        CREATE TABLE verify_refs (
            ref TEXT PRIMARY KEY,             -- 26 characters: base32 of 16 random bytes
            case_number TEXT NOT NULL REFERENCES cases(number),
            summary TEXT NOT NULL,            -- JSON, holder-safe (masked names only)
            created_at REAL NOT NULL
        ) WITHOUT ROWID;
        """
    )
