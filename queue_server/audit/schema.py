"""The audit table: append-only, each row chained to the one before by a SHA-256.

``hash = sha256(prev + "\\n" + id + "\\n" + repr(ts) + "\\n" + kind + "\\n" + actor + "\\n" + data)``
where ``data`` is the record's canonical JSON as stored and ``prev`` the previous row's
``hash`` (64 zeros for the first row). Triggers refuse UPDATE and DELETE, so nothing that
goes through SQLite's normal paths can alter a row; whoever owns the file can still drop
a trigger, which is why ``queue-server audit verify`` prints the chain head for anchoring
off the machine (the city hub keeps the heads it was sent). Archiving never touches this
table (this module has no ``archive`` function).
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("audit")


@migrations(name="m0001_audit")
def m0001_audit(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            kind TEXT NOT NULL,            -- record type, e.g. 'identity.checked'
            actor TEXT NOT NULL,           -- 'user:12', 'token:kiosk-01', 'engine@1', 'cli', 'system'
            data TEXT NOT NULL,            -- canonical JSON of the record; never personal data
            prev TEXT NOT NULL,            -- hash of the row before (64 zeros for the first)
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_kind_ts ON audit(kind, ts);
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        """
    )
