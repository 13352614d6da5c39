"""The hub's PostgreSQL schema: ordered migrations, applied at start-up and by
``city-hub migrate`` (each in its own transaction, recorded in ``hub_migrations``, under an
advisory lock so several hub processes starting together apply each once).

Tables (see ``docs/city-hub.md`` for every column):

* ``halls`` — one row per hall: its Ed25519 public key, the cursor the hub acknowledged
  (``acked_to``), last contact, the live state and figures of the last batch, the audit flag.
* ``events`` — every event of every hall, **partitioned by month** of the event's business
  day (``events_yYYYYmMM``, created when first needed), primary key ``(hall, id, day)``.
  ``known`` is false for a type this hub does not read (kept raw).
* ``quarantine`` — events the hub could not read (bad shape, unknown version, missing
  fields), kept with the reason, unique on ``(hall, id)``.
* ``daily_aggregates`` — per hall and business day, one row per dimension (``hall``,
  ``service``, ``window``, ``clerk``) and key: counts and time sums.
* ``hub_tickets`` — the little the hub needs of a ticket to aggregate later events.
* ``audit_heads`` — the hall's audit chain head of every batch; ``audit_flags`` — why a
  hall's audit was flagged.
* ``windows``, ``devices``, ``rectifications`` — live state rebuilt from events.
* ``ingest_log`` — refused batches (unknown hall, bad signature, bad body).
* ``manifests`` — what the hub publishes; ``manifest_reports`` — what halls said of them.
* ``province_outbox`` — evaluations to push to the provincial platform, keyed by case
  number and evaluation count, with the acknowledgement/retry log.
* ``hall_trust`` — each hall's last report of its e-licence keys and revocations (the batch
  part ``licence_trust``), from which the ``licence_trust_list`` manifest is assembled
  (:mod:`city_hub.trust`); a refused report is remembered so it is logged once.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

MIGRATIONS: list[tuple[str, str]] = [
    ("m0001_hub", """
    CREATE TABLE halls (
        code text PRIMARY KEY,
        name text NOT NULL DEFAULT '',
        public_key text NOT NULL,               -- base64 of the Ed25519 public key
        key_id text NOT NULL,
        tz text NOT NULL DEFAULT 'Asia/Shanghai',
        created_at timestamptz NOT NULL DEFAULT now(),
        acked_to bigint NOT NULL DEFAULT 0,     -- highest event id held without a gap
        last_event_id bigint NOT NULL DEFAULT 0,-- highest id the hall said it has
        last_contact timestamptz,
        last_lag_s double precision,            -- newest event of the last batch: hub time - event time
        state jsonb NOT NULL DEFAULT '{}',      -- live figures of the last batch
        audit_flag text,                        -- why the audit was flagged (NULL = fine)
        audit_flagged_at timestamptz
    );
    CREATE TABLE events (
        hall text NOT NULL,
        id bigint NOT NULL,
        day date NOT NULL,                      -- the hall's business day of ts
        ts double precision NOT NULL,
        type text NOT NULL,
        v integer NOT NULL,
        data jsonb NOT NULL,
        known boolean NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (hall, id, day)
    ) PARTITION BY RANGE (day);
    CREATE INDEX events_hall_type ON events (hall, type, day);
    CREATE TABLE quarantine (
        hall text NOT NULL,
        id bigint NOT NULL,
        raw jsonb NOT NULL,
        reason text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        released_at timestamptz,
        PRIMARY KEY (hall, id)
    );
    CREATE TABLE daily_aggregates (
        hall text NOT NULL,
        day date NOT NULL,
        dim text NOT NULL CHECK (dim IN ('hall', 'service', 'window', 'clerk')),
        key text NOT NULL,
        issued integer NOT NULL DEFAULT 0,
        called integer NOT NULL DEFAULT 0,
        served integer NOT NULL DEFAULT 0,
        no_show integer NOT NULL DEFAULT 0,
        cancelled integer NOT NULL DEFAULT 0,
        transferred integer NOT NULL DEFAULT 0,
        wait_s_sum double precision NOT NULL DEFAULT 0,
        wait_n integer NOT NULL DEFAULT 0,
        service_s_sum double precision NOT NULL DEFAULT 0,
        service_n integer NOT NULL DEFAULT 0,
        evaluations integer NOT NULL DEFAULT 0,
        good integer NOT NULL DEFAULT 0,
        bad integer NOT NULL DEFAULT 0,
        PRIMARY KEY (hall, day, dim, key)
    );
    CREATE TABLE hub_tickets (
        hall text NOT NULL,
        ticket_id bigint NOT NULL,
        day date NOT NULL,
        service text NOT NULL,
        issued_ts double precision,
        called_ts double precision,
        started_ts double precision,
        window_no integer,
        PRIMARY KEY (hall, ticket_id, day)
    );
    CREATE TABLE audit_heads (
        hall text NOT NULL,
        batch text NOT NULL,
        head_id bigint NOT NULL,
        head_hash text NOT NULL,
        head_ts double precision,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (hall, batch)
    );
    CREATE INDEX audit_heads_hall_id ON audit_heads (hall, head_id);
    CREATE TABLE audit_flags (
        id bigserial PRIMARY KEY,
        hall text NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        reason text NOT NULL,
        anchor_id bigint,
        anchor_hash text,
        reported_hash text
    );
    CREATE TABLE windows (
        hall text NOT NULL,
        number integer NOT NULL,
        status text NOT NULL,
        since double precision NOT NULL,
        PRIMARY KEY (hall, number)
    );
    CREATE TABLE devices (
        hall text NOT NULL,
        kind text NOT NULL,                     -- printer | kiosk | display | …
        name text NOT NULL,
        state text NOT NULL,                    -- ok | warning | error | stale | paper_out | …
        detail text NOT NULL DEFAULT '',
        since double precision NOT NULL,
        PRIMARY KEY (hall, kind, name)
    );
    CREATE TABLE rectifications (
        hall text NOT NULL,
        id text NOT NULL,
        deadline date,
        opened_ts double precision,
        closed_ts double precision,
        data jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (hall, id)
    );
    CREATE TABLE ingest_log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        hall text NOT NULL,
        outcome text NOT NULL,                  -- refused_unknown_hall | refused_signature | refused_body
        detail text NOT NULL DEFAULT '',
        remote text NOT NULL DEFAULT '',
        body_sha256 text NOT NULL DEFAULT ''
    );
    CREATE TABLE manifests (
        content_hash text NOT NULL,
        kind text NOT NULL,
        version integer NOT NULL,
        body jsonb NOT NULL,                    -- the signed manifest as served
        published_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, version)
    );
    CREATE INDEX manifests_hash ON manifests (content_hash);
    CREATE TABLE manifest_reports (
        hall text NOT NULL,
        kind text NOT NULL,
        version integer NOT NULL,
        content_hash text NOT NULL,
        result text NOT NULL,                   -- applied | stored | refused
        reason text NOT NULL DEFAULT '',
        at double precision NOT NULL,
        PRIMARY KEY (hall, kind, version, content_hash, result)
    );
    CREATE TABLE province_outbox (
        case_no text NOT NULL,                  -- 办件编号 (or <hall>-T<ticket id>)
        count integer NOT NULL,                 -- 评价次数: 1 first, 2 after a rectification
        hall text NOT NULL,
        event_id bigint NOT NULL,
        level integer NOT NULL,
        payload jsonb NOT NULL,                 -- the province's fields (docs/city-hub.md)
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'acked', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        ack jsonb,
        acked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (case_no, count)
    );
    CREATE INDEX province_outbox_due ON province_outbox (state, next_attempt_at);
    """),
    ("m0002_licence_trust", """
    CREATE TABLE hall_trust (
        hall text PRIMARY KEY REFERENCES halls (code),
        content jsonb,                          -- {"keys": [...], "revoked": [...]} as checked
        content_hash text,
        sent_at double precision NOT NULL DEFAULT 0,  -- the batch that brought it
        updated_at timestamptz NOT NULL DEFAULT now(),
        refused_hash text,                      -- the last report refused (logged once)
        refused_reason text
    );
    """),
]

_LOCK = 7_170_017  # advisory lock key of the migrations


def migrate(conn: psycopg.Connection, log: Callable[[str], None] | None = None) -> list[str]:
    """Apply every pending migration; returns the names applied now."""
    done: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS hub_migrations (name text PRIMARY KEY, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        have = {r[0] for r in conn.execute("SELECT name FROM hub_migrations")}
        for name, sql in MIGRATIONS:
            if name in have:
                continue
            conn.execute(sql)  # type: ignore[arg-type]
            conn.execute("INSERT INTO hub_migrations (name) VALUES (%s)", (name,))
            done.append(name)
            if log:
                log(name)
    return done


def applied(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM hub_migrations ORDER BY applied_at, name").fetchall()
    return [r[0] for r in rows]
