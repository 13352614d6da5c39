"""A year of history must not slow today's hall: every statement the hot paths run (issue,
call, serve, the displays' state, the progress page) reads today's rows through an index,
never a scan of the big tables. Statements are captured as they run, so a new hot-path
query is checked without being listed here."""

from __future__ import annotations

import sqlite3

import pytest

from queue_server import queue as q
from queue_server.demo import make_hall
from queue_server.settings import set_setting
from tests.support.queue import FakeClock

BIG_TABLES = ("tickets", "call_log", "appointments", "events", "print_jobs", "audit")


def add_history(db, days: int = 60, per_day: int = 60) -> None:
    """Old business days with finished tickets, calls and events (plain inserts, fast)."""
    conn = db.conn
    import datetime as dt

    rows, calls, events, appts = [], [], [], []
    tid = 1_000_000
    for d in range(days):
        day = (dt.date(2026, 9, 1) + dt.timedelta(days=d)).isoformat()
        for n in range(per_day):
            tid += 1
            ts = 1_756_000_000 + d * 86400 + n * 60
            rows.append((tid, day, f"A{n + 1:03d}", "A", n + 1, "QY01", "qiye", "done", f"h{tid}", ts, 4))
            calls.append((tid, f"A{n + 1:03d}", 4, "call", ts + 30))
            events.append((ts, "ticket.finished", "{}"))
            if n % 3 == 0:
                appts.append((f"OLD{tid}", "QY01", day, "09:00", "09:30", "checked_in", ts))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO tickets (id, day, number, prefix, seq, service_code, category, status, "
                     "progress_code, issued_at, window) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.executemany("INSERT INTO call_log (ticket_id, number, window, kind, ts) VALUES (?, ?, ?, ?, ?)", calls)
    conn.executemany("INSERT INTO events (ts, type, data) VALUES (?, ?, ?)", events)
    conn.executemany("INSERT INTO appointments (code, service_code, day, slot_start, slot_end, status, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", appts)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")


def scans(conn: sqlite3.Connection, statements: list[str]) -> list[str]:
    bad = []
    for sql in statements:
        head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if head not in ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH"):
            continue
        try:
            plan = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        except sqlite3.Error:
            continue
        for row in plan:
            detail = row[-1]
            for table in BIG_TABLES:
                if detail.startswith(f"SCAN {table}") and "USING" not in detail:
                    bad.append(f"{detail}  <-  {sql.strip()[:160]}")
    return bad


@pytest.fixture
def year_hall(db):
    clock = FakeClock()
    clock.set("2026-12-02", "09:00")
    make_hall(db, clock=clock, appointments=4)
    set_setting(db, "elderly_age", 0)
    add_history(db)
    return clock


def test_hot_paths_read_today_through_an_index(db, year_hall):
    clock = year_hall
    captured: list[str] = []
    db.conn.set_trace_callback(captured.append)
    try:
        first = q.issue_ticket(db, "QY01", clock=clock)  # the day's first ticket rolls the day over
        q.issue_ticket(db, "QY02", clock=clock)
        called = q.call_next(db, 4, clock=clock)
        q.start(db, called["id"], clock=clock)
        q.hall_state(db, clock=clock)
        q.ticket_progress(db, first["progress_code"], clock=clock)
        q.get_ticket(db, first["id"], clock=clock)
        q.find_ticket(db, first["number"], clock=clock)
        q.window_queue(db, 4, clock=clock)
        q.finish(db, called["id"], clock=clock)
        q.call_next(db, 4, clock=clock)
    finally:
        db.conn.set_trace_callback(None)
    assert len(captured) > 20
    assert scans(db.conn, captured) == []
