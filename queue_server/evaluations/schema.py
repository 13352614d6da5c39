"""Migrations of 好差评 (evaluations) and the 差评 rectification loop, and what archiving
does with their rows.

Tables:

``evaluations``
    One row per evaluation: the service rated (a finished ticket, by day and number, or a
    kiosk case, by number — ``service_key`` is ``ticket:<day>:<number>`` or
    ``case:<number>``, unique with ``count``: 一次一评, and the numbered second evaluation
    after a rectification), the 事项, window and clerk, the channel (internal code and the
    province's code at the time), level, reasons (codes of ``reasons_version``), comment,
    evaluator (masked or empty = anonymous; never a full name or ID number).
``rectifications`` and ``rectification_steps``
    One case per 差评, its status, deadline (``YYYY-MM-DD``, ``provisional`` when the
    working-day calendar of a year in it is not published), and every step taken, by whom.
``evaluation_reasons``
    The reason list as data, versioned; ``evaluation_reason_versions`` says which is current.
``evaluation_calendar_days``
    Holidays and 调休 working days an admin enters for years ``chinesecalendar`` does not know.
``evaluation_rate_limits``
    Attempts of phone ratings per progress code and per keyed digest of the address.
``evaluation_served``
    Finished tickets per day, 事项, window and clerk, kept when archiving moves the tickets
    away, so the figures of archived days still know what was served.

The ``supervisor`` role (``queue_server.auth``) needs no table change: roles are checked in
code since the core's ``m0002_roles_in_code``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from queue_server.evaluations import manifest as _manifest  # noqa: F401  (the evaluation_reasons manifest hook)

migrations = Migrations("evaluations")

#: The reason list this hall starts with (later versions come by ``evaluations reasons import``).
REASONS_FILE = Path(__file__).with_name("reasons.json")


@migrations(name="m0001_evaluations")
def m0001_evaluations(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE evaluation_reason_versions (
            version TEXT PRIMARY KEY,
            source TEXT NOT NULL DEFAULT '',
            current INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        CREATE UNIQUE INDEX evaluation_reason_versions_current ON evaluation_reason_versions(current)
            WHERE current = 1;
        CREATE TABLE evaluation_reasons (
            version TEXT NOT NULL REFERENCES evaluation_reason_versions(version),
            code TEXT NOT NULL,
            name TEXT NOT NULL,
            name_en TEXT NOT NULL,
            sort INTEGER NOT NULL,
            PRIMARY KEY (version, code)
        ) WITHOUT ROWID;
        CREATE TABLE evaluations (
            id INTEGER PRIMARY KEY,
            service_key TEXT NOT NULL,       -- ticket:<day>:<number> | case:<number>
            count INTEGER NOT NULL CHECK (count IN (1, 2)),   -- 评价次数: 1 首次, 2 二次
            ticket_id INTEGER,               -- tickets.id (no FK: tickets are archived)
            ticket_number TEXT,
            case_number TEXT,
            service_day TEXT NOT NULL,       -- the day the service was delivered (hall time)
            service TEXT NOT NULL,           -- 事项 code (the ticket's service, the case's item)
            service_name TEXT NOT NULL DEFAULT '',
            window INTEGER,                  -- NULL for kiosk cases
            clerk_user_id INTEGER,
            channel TEXT NOT NULL CHECK (channel IN ('window', 'kiosk', 'phone', 'follow_up')),
            channel_code TEXT NOT NULL,      -- the province's code, by configuration
            level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
            reasons TEXT NOT NULL DEFAULT '[]',   -- JSON list of reason codes
            reasons_version TEXT,
            comment TEXT NOT NULL DEFAULT '',
            evaluator TEXT NOT NULL DEFAULT '',   -- masked (张*三, 3701**********123X) or '' = anonymous
            realname INTEGER NOT NULL DEFAULT 0,  -- 实名: the hall can reach the evaluator
            recorded_by TEXT NOT NULL DEFAULT '', -- token:<name>, user:<id>, phone
            day TEXT NOT NULL,               -- the day of the evaluation (hall time)
            created_at REAL NOT NULL,
            UNIQUE (service_key, count)
        );
        CREATE INDEX evaluations_service_day ON evaluations(service_day);
        CREATE INDEX evaluations_ticket ON evaluations(ticket_id) WHERE ticket_id IS NOT NULL;
        CREATE TABLE rectifications (
            id INTEGER PRIMARY KEY,
            evaluation_id INTEGER NOT NULL UNIQUE REFERENCES evaluations(id),
            status TEXT NOT NULL CHECK (status IN ('pending_verify', 'invalid_applied', 'rectifying',
                'rectified', 'invalid', 'followed_up', 'closed')),
            verified INTEGER NOT NULL DEFAULT 0,  -- 核实 said valid (or an invalid application was rejected)
            opened_day TEXT NOT NULL,        -- the day of the 差评; never counts
            working_days INTEGER NOT NULL,   -- N: the deadline is the N-th working day after opened_day
            deadline TEXT NOT NULL,          -- YYYY-MM-DD, hall time
            provisional INTEGER NOT NULL DEFAULT 0,
            extension_days INTEGER,          -- working days added by the one extension
            extension_reason TEXT,
            measure TEXT,                    -- 整改措施
            rectified_day TEXT,
            invalid_reason TEXT,
            invalid_applied_by INTEGER,
            follow_up_method TEXT,           -- phone | sms | visit | other
            follow_up_outcome TEXT,          -- satisfied | unsatisfied | unreachable
            follow_up_note TEXT,
            second_evaluation_id INTEGER REFERENCES evaluations(id),
            opened_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            closed_at REAL
        );
        CREATE INDEX rectifications_status ON rectifications(status, deadline);
        CREATE TABLE rectification_steps (
            id INTEGER PRIMARY KEY,
            rectification_id INTEGER NOT NULL REFERENCES rectifications(id),
            step TEXT NOT NULL,
            from_status TEXT NOT NULL,
            to_status TEXT NOT NULL,
            user_id INTEGER,
            actor TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            ts REAL NOT NULL
        );
        CREATE INDEX rectification_steps_case ON rectification_steps(rectification_id, id);
        CREATE TABLE evaluation_calendar_days (
            day TEXT PRIMARY KEY,            -- YYYY-MM-DD
            kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
            note TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE evaluation_rate_limits (
            key TEXT NOT NULL,               -- code:<progress code> | addr:<keyed digest>
            window_start REAL NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (key, window_start)
        ) WITHOUT ROWID;
        CREATE TABLE evaluation_served (
            day TEXT NOT NULL,
            service TEXT NOT NULL,
            window INTEGER NOT NULL DEFAULT 0,   -- 0 = none
            clerk_user_id INTEGER NOT NULL DEFAULT 0,
            n INTEGER NOT NULL,
            PRIMARY KEY (day, service, window, clerk_user_id)
        ) WITHOUT ROWID;
        """
    )
    data = json.loads(REASONS_FILE.read_text(encoding="utf-8"))
    now = time.time()
    db.conn.execute("INSERT INTO evaluation_reason_versions (version, source, current, created_at) VALUES (?, ?, 1, ?)",
                    (data["version"], data.get("source", ""), now))
    for i, r in enumerate(data["reasons"]):
        db.conn.execute("INSERT INTO evaluation_reasons (version, code, name, name_en, sort) VALUES (?, ?, ?, ?, ?)",
                        (data["version"], r["code"], r["name"], r["name_en"], i))


@migrations(name="m0002_served_upto")
def m0002_served_upto(db: Database) -> None:
    """The last business day whose served counts were kept before archiving (one row)."""
    db.execute("CREATE TABLE evaluation_served_upto (id INTEGER PRIMARY KEY CHECK (id = 1), day TEXT NOT NULL)")


def archive(conn: sqlite3.Connection, day: str, cutoff: float, limit: int) -> dict[str, int]:
    """Before the queue moves the tickets of days before ``day`` away: keep how many were
    served per day, 事项, window and clerk (the figures' ``served``) — one business day per
    call, so each transaction stays short; ``evaluation_served_upto`` remembers how far it
    got. Evaluations and rectification cases are records the hall answers for and stay;
    old rate-limit rows go."""
    row = conn.execute("SELECT day FROM evaluation_served_upto WHERE id = 1").fetchone()
    upto = row[0] if row else ""
    nxt = conn.execute("SELECT MIN(day) FROM main.tickets WHERE day > ? AND day < ?", (upto, day)).fetchone()[0]
    if nxt is None:
        conn.execute("DELETE FROM evaluation_rate_limits WHERE window_start < ?", (cutoff - 86400,))
        return {"evaluation_served_rows": 0}
    n = conn.execute(
        "INSERT INTO evaluation_served (day, service, window, clerk_user_id, n) "
        "SELECT day, service_code, COALESCE(window, 0), COALESCE(clerk_user_id, 0), COUNT(*) FROM main.tickets "
        "WHERE day = ? AND status = 'done' GROUP BY 1, 2, 3, 4 "
        "ON CONFLICT (day, service, window, clerk_user_id) DO UPDATE SET n = n + excluded.n",
        (nxt,),
    ).rowcount
    conn.execute("INSERT INTO evaluation_served_upto (id, day) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET "
                 "day = excluded.day", (nxt,))
    return {"evaluation_served_rows": max(n, 1)}  # a day was handled: call again
