"""Migrations of 秒批 and what archiving does with its rows.

``approval_rulesets``: every distinct rule set a decision used, stored once under its
content hash (the canonical JSON of the item definition), so any decision can be re-run.

``approval_cases``: the details of each approval case (the case itself — number, status,
ticket — is in ``cases``): the rule set, the application date, the engine's decision and
rule trace, the facts the rules were evaluated on with the references of the sources that
gave them, the outputs, the masked holder printed on documents, and a member of staff's
decision on a referred case. No ID number and no image: ID-number inputs are kept as keyed
digests (``queue_server.idkey``).

``approval_cases.licence_id`` (m0002): the e-licence an approval issued, for items whose
result is a licence; ``applicant_key``: the applicant's keyed ID digest; ``decision_ms``:
how long the engine took from the checked request to the decision (asking every source
included) — the 秒批 statistics' decision time.

``approval_idempotency``: ``Idempotency-Key`` of ``POST /api/approvals`` → the case it made,
and (m0003) ``request_digest``, a keyed digest (HMAC-SHA256 under the ID key ring,
``k1:<hex>``) of the request body's canonical JSON: the key replays only for the same body
(the body holds the applicant's ID number, so the digest is keyed, never a plain hash).

``source_records`` / ``source_loads``: the embedded data source — rows of the shared-data
collections (``queue-server data load``), keyed by a keyed digest of the ID number (or by a
company code, project code, name or address), and when each collection was last loaded.

``approval_items_applied`` (m0003): the items the city hub's signed ``rule_set`` manifests
put in force — new dated parameter values or whole items, checked as ``approvals check``
checks — overriding the package's item of the same code (``queue_server/approvals/manifest.py``).

Archiving leaves cases and their details (the hall answers for them) and drops retry keys
older than the cutoff.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from queue_server.approvals import manifest as _manifest  # noqa: F401  (the rule_set manifest hook)

migrations = Migrations("approvals")


@migrations(name="m0001_approvals")
def m0001_approvals(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE approval_rulesets (
            hash TEXT PRIMARY KEY,            -- sha256 of canonical
            item TEXT NOT NULL,
            version TEXT NOT NULL,
            canonical TEXT NOT NULL,          -- the item definition as canonical JSON
            stored_at REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE approval_cases (
            case_number TEXT PRIMARY KEY REFERENCES cases(number),
            item TEXT NOT NULL,
            ruleset_hash TEXT NOT NULL REFERENCES approval_rulesets(hash),
            ruleset_version TEXT NOT NULL,
            application_date TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('approved', 'referred')),  -- the engine's
            rules TEXT NOT NULL,              -- JSON [{rule, result, code, facts, missing?, error?}]
            parameters TEXT NOT NULL,         -- JSON {name: {value, since}} in force that day
            facts TEXT NOT NULL,              -- JSON {fact: value} the rules were evaluated on
            sources TEXT NOT NULL,            -- JSON [{source, adapter, at, status, digest}]
            inputs TEXT NOT NULL,             -- JSON what the citizen entered (ID numbers as digests)
            outputs TEXT NOT NULL,            -- JSON [[label, label_en, value]]
            holder TEXT NOT NULL,             -- JSON {name_masked, id_masked}
            verification_method TEXT NOT NULL,
            verification_score REAL,
            kiosk TEXT NOT NULL,
            decided_by TEXT NOT NULL,         -- engine@<version>
            decided_at REAL NOT NULL,
            ticket_id INTEGER,                -- the window ticket of a referral
            verify_ref TEXT,                  -- /v/<ref> of the printed document
            print_job INTEGER,
            staff_decision TEXT CHECK (staff_decision IN ('approved', 'rejected')),
            staff_note TEXT,
            staff_by TEXT,                    -- user:<id>
            staff_at REAL
        ) WITHOUT ROWID;
        CREATE INDEX approval_cases_ticket ON approval_cases(ticket_id) WHERE ticket_id IS NOT NULL;
        CREATE INDEX approval_cases_item_date ON approval_cases(item, application_date);
        CREATE TABLE approval_idempotency (
            key TEXT PRIMARY KEY,             -- <token id>:<Idempotency-Key>
            case_number TEXT NOT NULL,
            created_at REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE source_records (
            id INTEGER PRIMARY KEY,
            collection TEXT NOT NULL,
            subject TEXT NOT NULL,            -- keyed ID digest (k1:…), USCC, project code, name, address
            data TEXT NOT NULL                -- JSON row without its key; ID numbers as keyed digests
        );
        CREATE INDEX source_records_subject ON source_records(collection, subject);
        CREATE TABLE source_loads (
            collection TEXT PRIMARY KEY,
            rows INTEGER NOT NULL,
            file_sha256 TEXT NOT NULL,
            loaded_at REAL NOT NULL
        ) WITHOUT ROWID;
        """
    )


@migrations(name="m0002_licence")
def m0002_licence(db: Database) -> None:
    """Items whose result is a licence: the case keeps the licence it issued, and every case
    keeps the applicant's keyed ID digest (never the number) so that a member of staff's
    later approval issues the licence to the same person; and how long the decision took."""
    db.executescript(
        """
        ALTER TABLE approval_cases ADD COLUMN applicant_key TEXT;   -- idkey digest of the applicant
        ALTER TABLE approval_cases ADD COLUMN licence_id INTEGER;   -- licences.id issued on approval
        ALTER TABLE approval_cases ADD COLUMN decision_ms REAL;     -- request checked → decided (sources + rules)
        CREATE INDEX approval_cases_decided ON approval_cases(decided_at);
        """
    )


@migrations(name="m0003_idempotency_digest")
def m0003_idempotency_digest(db: Database) -> None:
    """A retry key answers only for the request it was made with: the keyed digest of that
    request's canonical body. Keys written before have none and replay nothing."""
    db.execute("ALTER TABLE approval_idempotency ADD COLUMN request_digest TEXT")


@migrations(name="m0004_rule_set_manifests")
def m0004_rule_set_manifests(db: Database) -> None:
    """The items the city hub's ``rule_set`` manifests put in force (``approvals/manifest.py``):
    one row per item code, overriding the package's item of that code."""
    db.executescript(
        """
        CREATE TABLE approval_items_applied (
            code TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            hash TEXT NOT NULL,               -- sha256 of canonical (also in approval_rulesets)
            canonical TEXT NOT NULL,          -- the item definition as canonical JSON
            cases TEXT,                       -- JSON cases it was checked with (NULL: the package's file)
            previous_hash TEXT,               -- the rule set it replaced (NULL: a new item)
            applied_at REAL NOT NULL
        ) WITHOUT ROWID;
        """
    )


def archive(conn: sqlite3.Connection, day: str, cutoff: float, limit: int) -> dict[str, int]:
    """Cases stay; retry keys older than the cutoff go, ``limit`` at a time."""
    n = conn.execute("DELETE FROM approval_idempotency WHERE key IN (SELECT key FROM approval_idempotency "
                     "WHERE created_at < ? LIMIT ?)", (cutoff, limit)).rowcount
    return {"approval_idempotency_dropped": n}
