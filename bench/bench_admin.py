"""The admin's statistics with a year of a busy centre's tickets (~440,000, 泰安's yearly
count) in the hall, half of them archived: a month's ``GET /api/stats/queue`` (each
grouping), its drill-down and the live figures, median and p99 over many runs.

Builds the year as bench/bench_year.py does (finished tickets with their calls, progress
counts on stderr), archives the first half into an archive file (so the month read spans
the archive and the live file when ``--month`` straddles the cut), then measures through
the Flask app.

    .venv/bin/python bench/bench_admin.py                  # 440,000 tickets
    .venv/bin/python bench/bench_admin.py --tickets 60000  # quicker
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from queue_server import create_app
from queue_server.archive import archive_days
from queue_server.auth import create_token
from queue_server.demo import SERVICES, make_hall
from queue_server.migrations import open_db
from queue_server.settings import set_setting


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def build_year(db, tickets: int, today: dt.date) -> None:
    """Tickets of 365 days before ``today`` over every service and the 15 windows: most
    served, some no-shows and cancellations, each called once (a few recalled)."""
    rng = random.Random(7)
    per_day = max(1, tickets // 365)
    services = [(s[0], s[1]) for s in SERVICES]
    prefixes = dict(db.conn.execute("SELECT code, prefix FROM categories").fetchall())
    conn = db.conn
    tid = 10_000_000
    done = 0
    t0 = time.monotonic()
    for d in range(365, 0, -1):
        day = today - dt.timedelta(days=d)
        base = dt.datetime(day.year, day.month, day.day, 0, 30).timestamp()  # 08:30 Asia/Shanghai
        rows, calls = [], []
        seq: dict[str, int] = {}
        for n in range(per_day):
            tid += 1
            code, cat = services[rng.randrange(len(services))]
            prefix = prefixes[cat]
            seq[prefix] = seq.get(prefix, 0) + 1
            number = f"{prefix}{seq[prefix]:03d}"
            issued = base + n * (8 * 3600 / per_day)
            called = issued + rng.uniform(60, 2400)
            window = rng.randint(1, 15)
            r = rng.random()
            status = "done" if r < 0.9 else ("no_show" if r < 0.96 else "cancelled")
            started = called + rng.uniform(20, 180) if status == "done" else None
            finished = started + rng.uniform(120, 1500) if started else None
            closed = called + 300 if status != "done" else None
            rows.append((tid, day.isoformat(), number, prefix, seq[prefix], code, cat, status, f"y{tid}", issued,
                         called, started, finished, closed, window, 3 + window % 6))
            calls.append((tid, number, window, "call", 3 + window % 6, called))
            if r > 0.97:
                calls.append((tid, number, window, "recall", 3 + window % 6, called + 60))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO tickets (id, day, number, prefix, seq, service_code, category, status, progress_code, "
            "issued_at, called_at, started_at, finished_at, closed_at, window, clerk_user_id) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany("INSERT INTO call_log (ticket_id, number, window, kind, clerk_user_id, ts) "
                         "VALUES (?,?,?,?,?,?)", calls)
        conn.execute("COMMIT")
        done += len(rows)
        if d % 30 == 0 or d == 1:
            print(f"  building the year: {done:,} tickets ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    conn.execute("ANALYZE")


def timed(client, url: str, headers: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=440_000)
    ap.add_argument("--runs", type=int, default=15, help="requests per measurement")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-admin-"))
    today = dt.date(2026, 12, 2)
    path = tmp / "hall.db"
    db = open_db(path)
    make_hall(db, appointments=0, clock=Clock(dt.datetime(2026, 11, 1, 9).timestamp()))
    set_setting(db, "enforce_opening_hours", False)
    build_year(db, args.tickets, today)
    cut = (today - dt.timedelta(days=183)).isoformat()
    t0 = time.perf_counter()
    moved = archive_days(db, str(path) + ".archive.db", before=cut)["moved"].get("tickets", 0)
    print(f"  archived {moved:,} tickets before {cut} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    live_month = ((today - dt.timedelta(days=30)).isoformat(), (today - dt.timedelta(days=1)).isoformat())
    a = dt.date.fromisoformat(cut)
    span_month = ((a - dt.timedelta(days=15)).isoformat(), (a + dt.timedelta(days=14)).isoformat())
    arch_month = ((a - dt.timedelta(days=60)).isoformat(), (a - dt.timedelta(days=31)).isoformat())
    clock = Clock(dt.datetime(today.year, today.month, today.day, 10, 0).timestamp())
    app = create_app({"DB_PATH": str(path), "TESTING": True, "CLOCK": clock})
    client = app.test_client()
    h = {"Authorization": f"Bearer {create_token(db, 'admin', 'bench-admin')}"}
    rows = []
    for label, (f, t) in (("live month", live_month), ("month across the archive cut", span_month),
                          ("archived month", arch_month)):
        for group in ("day", "service", "window", "clerk"):
            lat = timed(client, f"/api/stats/queue?from={f}&to={t}&group={group}", h, args.runs)
            rows.append((f"{label} {f}…{t}", f"group={group}", lat))
        lat = timed(client, f"/api/stats/queue/tickets?from={f}&to={t}&group=service&key=QY01&figure=served",
                    h, args.runs)
        rows.append((f"{label} {f}…{t}", "drill-down QY01 served", lat))
    rows.append(("today", "GET /api/stats/live", timed(client, "/api/stats/live", h, args.runs * 10)))
    app.extensions["yichuang.bus"].stop()
    n = db.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
    t0 = time.perf_counter()
    x = 0
    for i in range(3_000_000):
        x += i
    speed = time.perf_counter() - t0
    print(f"\n{args.tickets:,} tickets in a year ({n:,} live, {moved:,} archived); {args.runs} runs each; "
          f"machine: a 3,000,000-step Python loop took {speed:.2f} s (~0.15 s on a quiet core)\n")
    print("| range | request | median (ms) | p99 (ms) |")
    print("|---|---|---|---|")
    for label, what, lat in rows:
        print(f"| {label} | {what} | {statistics.median(lat):.0f} | {pct(lat, 99):.0f} |")


if __name__ == "__main__":
    main()
