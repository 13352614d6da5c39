"""Migrations of the e-licence capability (``docs/licences.md``).

``licences``: one row per licence *version* (a change gives a new version that supersedes
the old row). What people see is kept masked: the holder's ID number is never stored —
``holder_key`` is its keyed digest (:func:`queue_server.idkey.id_digest`) for lookup and
``holder_id_masked`` what screens show; a company's USCC is public register data and is kept
in ``holder_uscc``. A licence number that is a resident ID number (驾驶证, 社会保障卡, the ID
card's own 电子信息) is stored masked too, with ``number_key`` to match a reload.
``licence_keys``: the signing keys; private keys stay here, wrapped (AES-GCM) under a key
derived from the hall's ID key ring, which lives beside the database, not in it.
``licence_presentations``: one row per 亮证 session at a kiosk; its random ``handle`` is what
a token carries. ``licence_accepted``: token ids accepted once (replay), with who and when.
``licence_checks``: every verification (the 用证 log), with the verifier and the result.
``licence_prints``: licence copies printed at a kiosk (自助打证), each with its case and the
``/v/<ref>`` online check printed on it.

``licence_trusted_keys``, ``licence_trusted_revocations``, ``licence_trust_list``: the city's
licence trust list as this hall last applied it (``m0002``): other halls' public token keys
(verify only — there is no column for a private key), the presentation handles of theirs
whose licence is no longer valid, and the list's date. ``licence_checks.issuer_hall`` names
the hall that issued a token checked here on another hall's key.

The ``verifier`` token role (licence checkpoints) needs no migration: roles are checked in
code (:data:`queue_server.auth.TOKEN_ROLES`), not by a CHECK on ``tokens``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from queue_server.uplink.manifests import manifest_kind
from queue_server.uplink.parts import batch_part
from yichuang.citylink import TRUST_LIST_KIND

migrations = Migrations("licences")


@manifest_kind(TRUST_LIST_KIND)
def _apply_trust_list(db: Database, content: Any) -> Any:
    """The city hub's licence trust list (``queue_server.licences.trust``)."""
    from queue_server.licences.trust import apply_trust_list

    return apply_trust_list(db, content)


@batch_part("licence_trust")
def _licence_trust(db: Database, now: float) -> Any:
    """This hall's public token keys and revocations, sent to the hub with every batch."""
    from queue_server.licences.trust import report

    return report(db, now)


@migrations(name="m0001_licences")
def m0001_licences(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE licences (
            id INTEGER PRIMARY KEY,
            identifier TEXT NOT NULL UNIQUE,      -- GB/T 36904: 1.2.156.3005.2.type.issuer.serial.ver.check
            type_code TEXT NOT NULL,
            type_name TEXT NOT NULL,              -- 驾驶证
            number_shown TEXT NOT NULL,           -- 证照编号 (masked when it is a resident ID number)
            number_key TEXT NOT NULL,             -- keyed digest of the number (reload matching)
            holder_name TEXT NOT NULL,            -- face data (照面信息); shown masked
            holder_id_type TEXT NOT NULL CHECK (holder_id_type IN ('id_card', 'uscc')),
            holder_key TEXT NOT NULL,             -- keyed digest of the holder's ID number / USCC
            holder_id_masked TEXT NOT NULL,
            holder_uscc TEXT,                     -- companies only (public register data)
            legal_rep_key TEXT,                   -- keyed digest of a company's 法定代表人 ID number
            issuer_name TEXT NOT NULL,
            issuer_uscc TEXT NOT NULL,
            issue_date TEXT NOT NULL,             -- YYYY-MM-DD
            valid_from TEXT NOT NULL,
            valid_to TEXT,                        -- NULL = 长期 (no end)
            serial TEXT NOT NULL,
            version INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'valid'
                CHECK (status IN ('valid', 'revoked', 'expired', 'superseded')),
            superseded_by INTEGER REFERENCES licences(id),
            fields TEXT NOT NULL DEFAULT '{}',    -- JSON: type-specific face data (准驾车型 …)
            source TEXT NOT NULL DEFAULT 'load',  -- load | approval
            case_number TEXT,                     -- the 秒批 case that issued it
            revoked_at REAL,
            revoke_reason TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX licences_holder ON licences(holder_key);
        CREATE INDEX licences_legal_rep ON licences(legal_rep_key) WHERE legal_rep_key IS NOT NULL;
        CREATE INDEX licences_number ON licences(type_code, issuer_uscc, number_key);
        CREATE TABLE licence_keys (
            kid BLOB PRIMARY KEY,                 -- 4 bytes: SHA-256(public key)[:4]
            alg TEXT NOT NULL CHECK (alg IN ('EdDSA', 'SM2-SM3')),
            public_key BLOB NOT NULL,             -- Ed25519: 32 bytes; SM2: x || y
            private_key BLOB NOT NULL,            -- AES-GCM nonce || ciphertext
            wrap_key_id TEXT NOT NULL,            -- which ID-key-ring key the wrap key came from
            current INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            retired_at REAL,
            not_after REAL                        -- a retired key verifies until then
        );
        CREATE UNIQUE INDEX licence_keys_current ON licence_keys(current) WHERE current = 1;
        CREATE TABLE licence_presentations (
            id INTEGER PRIMARY KEY,
            handle BLOB NOT NULL UNIQUE,          -- 8 random bytes, claim -70001
            licence_id INTEGER NOT NULL REFERENCES licences(id),
            purpose INTEGER NOT NULL,
            method TEXT NOT NULL,                 -- face | staff
            score REAL,
            kiosk TEXT NOT NULL,                  -- actor of the kiosk (token:kiosk-01)
            case_number TEXT,
            verified_at REAL NOT NULL,            -- the face check this session rests on
            created_at REAL NOT NULL,
            ended_at REAL,
            tokens INTEGER NOT NULL DEFAULT 0,
            last_token_at REAL
        );
        CREATE INDEX licence_presentations_licence ON licence_presentations(licence_id);
        CREATE TABLE licence_accepted (
            cti BLOB PRIMARY KEY,                 -- claim 7 of an accepted token
            presentation_id INTEGER,
            licence_id INTEGER,
            accepted_at REAL NOT NULL,
            by_actor TEXT NOT NULL,               -- user:3 / token:checkpoint-1
            by_label TEXT NOT NULL,               -- 3号窗口 王*明
            exp REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX licence_accepted_exp ON licence_accepted(exp);
        CREATE TABLE licence_checks (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            reason TEXT NOT NULL,
            licence_id INTEGER,
            presentation_id INTEGER,
            kid BLOB,
            purpose INTEGER,                      -- the token's
            purpose_asked INTEGER,                -- the verifier's
            verifier TEXT NOT NULL,               -- actor
            verifier_role TEXT NOT NULL,
            window INTEGER
        );
        CREATE INDEX licence_checks_licence ON licence_checks(licence_id, ts);
        CREATE TABLE licence_prints (
            id INTEGER PRIMARY KEY,
            licence_id INTEGER NOT NULL REFERENCES licences(id),
            case_number TEXT NOT NULL,            -- kind licence_print
            ref TEXT NOT NULL,                    -- /v/<ref> on the copy
            kiosk TEXT NOT NULL,
            job_id INTEGER,                       -- the print job, when one was queued
            created_at REAL NOT NULL
        );
        CREATE INDEX licence_prints_licence ON licence_prints(licence_id);
        CREATE INDEX licence_checks_ts ON licence_checks(ts);
        """
    )


@migrations(name="m0002_licence_trust")
def m0002_licence_trust(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE licence_trusted_keys (
            hall TEXT NOT NULL,                   -- the hall's code at the city hub
            kid BLOB NOT NULL,                    -- 4 bytes, as in the tokens
            alg TEXT NOT NULL CHECK (alg IN ('EdDSA', 'SM2-SM3')),
            public_key BLOB NOT NULL,             -- Ed25519: 32 bytes; SM2: x || y (public only)
            not_after REAL,                       -- a retired key verifies until then
            PRIMARY KEY (hall, kid, public_key)
        );
        CREATE INDEX licence_trusted_keys_kid ON licence_trusted_keys(kid);
        CREATE TABLE licence_trusted_revocations (
            hall TEXT NOT NULL,
            handle BLOB NOT NULL,                 -- claim -70001 of that hall's tokens
            status TEXT NOT NULL CHECK (status IN ('revoked', 'superseded', 'expired')),
            until REAL NOT NULL,                  -- no token of the handle passes the time check after
            PRIMARY KEY (hall, handle)
        ) WITHOUT ROWID;
        CREATE TABLE licence_trust_list (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            content_hash TEXT NOT NULL,
            generated_at REAL NOT NULL,           -- the list's date: statuses are "as of" it
            halls TEXT NOT NULL DEFAULT '{}',     -- JSON: code → name of the halls trusted
            applied_at REAL NOT NULL
        );
        ALTER TABLE licence_checks ADD COLUMN issuer_hall TEXT;
        CREATE INDEX licence_presentations_verified ON licence_presentations(verified_at);
        """
    )


def archive(conn: sqlite3.Connection, day: str, cutoff: float, limit: int) -> dict[str, int]:
    """Accepted token ids only matter while a token could still pass the time check: up to
    ``limit`` of those that expired an hour before ``cutoff`` are dropped (the 用证 log in
    ``licence_checks`` and the audit keep every check). Licences, presentations and checks
    stay: the hall answers for them."""
    n = conn.execute("DELETE FROM licence_accepted WHERE cti IN "
                     "(SELECT cti FROM licence_accepted WHERE exp < ? LIMIT ?)", (cutoff - 3600, limit)).rowcount
    return {"licence_accepted_dropped": n}
