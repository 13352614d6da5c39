"""The core's schema: the founding migration of the hall database.

``m0001_hall`` shipped before capabilities had migration sets of their own: it creates
the core's tables (settings, users, tokens, events) and the queue's first tables
(categories, services, windows, appointments, tickets, call log, counters). It is never
edited; later changes to the queue's tables go to ``queue_server/queue/schema.py``, and
every other capability owns its ``schema.py``. :mod:`queue_server.migrations` lists the
sets in the order they apply.

Times are stored as REAL Unix seconds (UTC); ``day`` is the hall's local business
day as ``YYYY-MM-DD``.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from queue_server.db import rebuild_tables

#: The core's set keeps the name every hall database already records.
migrations = Migrations("yichuang")


@migrations(name="m0001_hall")
def m0001_hall(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL            -- JSON
        );
        CREATE TABLE categories (
            code TEXT PRIMARY KEY,         -- e.g. 'qiye'
            name TEXT NOT NULL,            -- 企业开办
            name_en TEXT NOT NULL DEFAULT '',
            prefix TEXT NOT NULL UNIQUE,   -- ticket prefix, one letter
            sort INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE services (
            code TEXT PRIMARY KEY,         -- 事项 code, e.g. 'QY01'
            name TEXT NOT NULL,
            name_en TEXT NOT NULL DEFAULT '',
            category TEXT NOT NULL REFERENCES categories(code),
            prefix TEXT NOT NULL,          -- usually the category's prefix
            self_service INTEGER NOT NULL DEFAULT 0,
            daily_limit_per_id INTEGER,    -- anti-scalping; NULL = no limit
            avg_minutes REAL NOT NULL DEFAULT 8,  -- prior for the wait estimate
            active INTEGER NOT NULL DEFAULT 1,
            sort INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            staff_no TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL CHECK (role IN ('admin', 'clerk', 'technician')),
            password_hash TEXT NOT NULL,   -- scrypt, see auth.py
            active INTEGER NOT NULL DEFAULT 1,
            created_at REAL NOT NULL
        );
        CREATE TABLE windows (
            number INTEGER PRIMARY KEY,    -- 窗口号 as shown in the hall
            name TEXT NOT NULL,
            services TEXT NOT NULL,        -- JSON list of service codes in priority order; ["*"] = all
            status TEXT NOT NULL DEFAULT 'closed' CHECK (status IN ('open', 'paused', 'closed')),
            pause_reason TEXT,
            clerk_user_id INTEGER REFERENCES users(id),
            kind TEXT NOT NULL DEFAULT 'normal'  -- normal | universal | green
        );
        CREATE TABLE tokens (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('kiosk', 'display', 'clerk', 'admin', 'technician')),
            token_hash TEXT NOT NULL UNIQUE,  -- sha256 hex of the bearer token
            user_id INTEGER REFERENCES users(id),  -- set for login sessions
            created_at REAL NOT NULL,
            expires_at REAL,
            revoked_at REAL
        );
        CREATE TABLE appointments (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,     -- 预约码 the citizen types or scans
            service_code TEXT NOT NULL REFERENCES services(code),
            day TEXT NOT NULL,
            slot_start TEXT NOT NULL,      -- 'HH:MM' local
            slot_end TEXT NOT NULL,
            name_masked TEXT NOT NULL DEFAULT '',
            id_hash TEXT,                  -- sha256 of the ID number (check-in by ID)
            id_masked TEXT,
            status TEXT NOT NULL DEFAULT 'booked'
                CHECK (status IN ('booked', 'checked_in', 'cancelled', 'expired')),
            ticket_id INTEGER,
            checked_in_at REAL,
            created_at REAL NOT NULL
        );
        CREATE INDEX appointments_day_id ON appointments(day, id_hash);
        CREATE TABLE counters (
            day TEXT NOT NULL,
            prefix TEXT NOT NULL,
            last INTEGER NOT NULL,
            PRIMARY KEY (day, prefix)
        ) WITHOUT ROWID;
        CREATE TABLE tickets (
            id INTEGER PRIMARY KEY,
            day TEXT NOT NULL,
            number TEXT NOT NULL,          -- A012
            prefix TEXT NOT NULL,
            seq INTEGER NOT NULL,
            service_code TEXT NOT NULL REFERENCES services(code),
            category TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('waiting', 'called', 'serving', 'done', 'no_show', 'cancelled', 'expired')),
            priority TEXT,                 -- NULL | elderly | disabled | military | green
            appointment_id INTEGER REFERENCES appointments(id),
            id_hash TEXT,                  -- sha256 of the ID number, for the per-ID limit
            id_masked TEXT,                -- 3701**********123X, for the clerk
            source TEXT NOT NULL DEFAULT 'kiosk',
            issued_by TEXT NOT NULL DEFAULT '',   -- token name (kiosk-01)
            progress_code TEXT NOT NULL UNIQUE,   -- random; /t/<code> shows progress, no personal data
            referral_reason TEXT,          -- why a kiosk sent the citizen to a window (转人工)
            issued_at REAL NOT NULL,
            called_at REAL,
            started_at REAL,
            finished_at REAL,
            window INTEGER,                -- window that called it last
            clerk_user_id INTEGER,
            call_count INTEGER NOT NULL DEFAULT 0,
            transfer_window INTEGER,       -- set by a transfer to a window: only that window calls it
            transfer_note TEXT,
            transferred_at REAL,
            closed_at REAL                 -- no_show / cancelled / expired time
        );
        CREATE UNIQUE INDEX tickets_day_number ON tickets(day, number);
        CREATE INDEX tickets_waiting ON tickets(day, status, service_code, issued_at);
        -- The few waiting tickets that jump the plain queue (priority, appointment,
        -- transferred): call-next reads them here instead of sorting the whole queue.
        CREATE INDEX tickets_special ON tickets(day, issued_at)
            WHERE status = 'waiting' AND (priority IS NOT NULL OR transfer_window IS NOT NULL);
        -- Partial: a new ticket has no window and usually no ID, so issuing skips them.
        CREATE INDEX tickets_window ON tickets(day, window, status) WHERE window IS NOT NULL;
        CREATE INDEX tickets_idhash ON tickets(day, id_hash, service_code) WHERE id_hash IS NOT NULL;
        CREATE TABLE call_log (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(id),
            number TEXT NOT NULL,
            window INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('call', 'recall')),
            clerk_user_id INTEGER,
            ts REAL NOT NULL
        );
        CREATE INDEX call_log_ts ON call_log(ts);
        -- Idempotency-Key of ticket requests: a kiosk retrying after a timeout gets the
        -- ticket it already has instead of a second one. key = "<token id>:<header>".
        CREATE TABLE idempotency_keys (
            key TEXT PRIMARY KEY,
            ticket_id INTEGER NOT NULL,
            created_at REAL NOT NULL
        ) WITHOUT ROWID;
        -- Waiting tickets per day and service, kept by triggers, so "people ahead" of a new
        -- ticket and the displays' waiting counts never scan the queue.
        CREATE TABLE waiting_counts (
            day TEXT NOT NULL,
            service_code TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (day, service_code)
        ) WITHOUT ROWID;
        CREATE TRIGGER tickets_waiting_insert AFTER INSERT ON tickets WHEN NEW.status = 'waiting'
        BEGIN
            INSERT INTO waiting_counts (day, service_code, n) VALUES (NEW.day, NEW.service_code, 1)
            ON CONFLICT (day, service_code) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER tickets_waiting_leave AFTER UPDATE OF status, service_code ON tickets
        WHEN OLD.status = 'waiting' AND (NEW.status != 'waiting' OR NEW.service_code != OLD.service_code)
        BEGIN
            UPDATE waiting_counts SET n = n - 1 WHERE day = OLD.day AND service_code = OLD.service_code;
        END;
        CREATE TRIGGER tickets_waiting_enter AFTER UPDATE OF status, service_code ON tickets
        WHEN NEW.status = 'waiting' AND (OLD.status != 'waiting' OR NEW.service_code != OLD.service_code)
        BEGIN
            INSERT INTO waiting_counts (day, service_code, n) VALUES (NEW.day, NEW.service_code, 1)
            ON CONFLICT (day, service_code) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER tickets_waiting_delete AFTER DELETE ON tickets WHEN OLD.status = 'waiting'
        BEGIN
            UPDATE waiting_counts SET n = n - 1 WHERE day = OLD.day AND service_code = OLD.service_code;
        END;
        -- Every state change, written in the same transaction as the change itself.
        -- The id is the SSE event id (Last-Event-ID resume); all server processes
        -- tail this table, so a call made through one process reaches displays on another.
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts REAL NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL             -- JSON, never personal data
        );
        """
    )



@migrations(name="m0002_roles_in_code", transactional=False)
def m0002_roles_in_code(db: Database) -> None:
    """Roles are checked in code (``queue_server.auth.TOKEN_ROLES`` / ``USER_ROLES``), not by
    CHECK constraints, so capabilities add roles (verifier, supervisor, booking) without
    rebuilding these tables again.

    SQLite's table-rebuild procedure: foreign keys off (windows and tokens refer to users by
    name and find the rebuilt table), one transaction, ``foreign_key_check`` before commit.
    Safe to run again after a crash before it was recorded (it only rebuilds tables that
    still carry the CHECK)."""
    conn = db.conn
    if "CHECK" not in (conn.execute("SELECT sql FROM sqlite_master WHERE name = 'tokens'").fetchone() or [""])[0]:
        return
    statements = [
        """CREATE TABLE users_new (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            staff_no TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL,               -- one of auth.USER_ROLES
            password_hash TEXT NOT NULL,      -- scrypt, see auth.py
            active INTEGER NOT NULL DEFAULT 1,
            created_at REAL NOT NULL
        )""",
        "INSERT INTO users_new SELECT id, username, display_name, staff_no, role, password_hash, active, "
        "created_at FROM users",
        """CREATE TABLE tokens_new (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,               -- one of auth.TOKEN_ROLES
            token_hash TEXT NOT NULL UNIQUE,  -- sha256 hex of the bearer token
            user_id INTEGER REFERENCES users(id),  -- set for login sessions
            created_at REAL NOT NULL,
            expires_at REAL,
            revoked_at REAL
        )""",
        "INSERT INTO tokens_new SELECT id, name, role, token_hash, user_id, created_at, expires_at, revoked_at "
        "FROM tokens",
        "DROP TABLE tokens",
        "DROP TABLE users",
        "ALTER TABLE users_new RENAME TO users",
        "ALTER TABLE tokens_new RENAME TO tokens",
    ]
    rebuild_tables(conn, statements, "users/tokens")


@migrations(name="m0003_health_probe")
def m0003_health_probe(db: Database) -> None:
    """One row ``/api/health`` rewrites to prove the database takes writes (queue_server/storage.py)."""
    db.execute("CREATE TABLE health_probe (id INTEGER PRIMARY KEY, ts REAL NOT NULL)")


@migrations(name="m0004_scheduled_runs")
def m0004_scheduled_runs(db: Database) -> None:
    """Daily jobs (queue_server/schedule.py): one row per job and business day, claimed by the
    one server process that runs it."""
    db.execute(
        """CREATE TABLE scheduled_runs (
            job TEXT NOT NULL,
            day TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL,
            result TEXT,                   -- JSON
            error TEXT,
            PRIMARY KEY (job, day)
        )"""
    )


@migrations(name="m0005_access")
def m0005_access(db: Database) -> None:
    """Console logins that resist guessing and window-bound device tokens (docs/security.md).

    ``login_attempts``: failed logins per account (``user:<username>``) and per client
    address (``addr:<keyed digest>``), the time before which the next try is refused and
    whether that is a lock (which an admin lifts). ``tokens.window``: the one window a clerk
    device token acts at (``queue-server token create --role clerk --window N``). The old
    ``id_salt`` setting goes: IDs are matched by the keyed digest of queue_server/idkey.py."""
    db.executescript(
        """
        CREATE TABLE login_attempts (
            key TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            last_failure REAL NOT NULL,
            blocked_until REAL NOT NULL DEFAULT 0,
            locked INTEGER NOT NULL DEFAULT 0
        );
        ALTER TABLE tokens ADD COLUMN window INTEGER;
        DELETE FROM settings WHERE key = 'id_salt';
        """
    )


@migrations(name="m0006_event_version")
def m0006_event_version(db: Database) -> None:
    """``events.v``: the version of the event type's data shape when the row was written
    (``queue_server.events.declare``), so the city uplink sends the version the data was
    written in, not the one in force when it is sent. NULL on rows written before: the
    uplink then sends the type's current version (``yichuang.citylink.event_version``).
    Adding a nullable column without a default only rewrites the schema, not the rows."""
    db.execute("ALTER TABLE events ADD COLUMN v INTEGER")
