"""The admin's statistics with a year of a busy centre's tickets (~440,000, 泰安's yearly
count) in the hall, half of them archived: a month's ``GET /api/stats/queue`` (every
grouping), its drill-down and the live figures, median and p99 over many runs.

Builds the year as bench/bench_year.py does (tickets with their calls and each window's
open/pause/close log, a few tickets left open each evening and expired the next morning,
today's morning so far; progress on stderr), archives the first half into an archive file,
then measures through the Flask app:

* **archiving**, which first makes the per-day facts of the days it moves (from the hall
  file), then moves them;
* **cold, no facts**: the first request for a month when no day of it has its per-day
  facts (they are made and stored by that request — the fallback; before facts were made
  ahead, what a hall saw once after an upgrade, or after a change of the time zone or of a
  window's services);
* the **background task** (``stats_facts``) a server runs from its start: steps of a week,
  newest first, until every closed day of the year has its facts — its work, when the
  30 days to today were ready, the longest step and the longest write transaction;
* **first request, facts made ahead**: the first request for each month in a fresh app
  after the background task has run — what a manager sees now;
* the **daily job** (``stats_rollups``) making the facts of every closed day of the year
  at once (the nightly sweep);
* **steady state**: a month per grouping with the facts made (today read from the rows);
* a drill-down, and the live figures;
* last, ``POST /api/tickets`` latency while the background task makes the year again in
  the same process, with the server's 1 s between steps, against without it
  (``--no-issuing`` skips it).

It also checks that the fast path gives exactly the figures of a full recomputation from
the rows for the month across the archive cut.

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
import threading
import time
from pathlib import Path

from queue_server import create_app, schedule
from queue_server.admin import stats
from queue_server.archive import archive_days
from queue_server.auth import create_token
from queue_server.db import Checkpointer
from queue_server.demo import SERVICES, make_hall
from queue_server.migrations import open_db
from queue_server.settings import set_setting

GROUPS = ("day", "hour", "service", "category", "window", "clerk")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def build_year(db, tickets: int, today: dt.date, now: float) -> None:
    """Tickets of the 365 days before ``today`` and of today until ``now`` over every
    service and the 15 windows: most served, some no-shows and cancellations, each called
    once (a few recalled), a few priority tickets, a few left waiting at closing time
    (expired by the next day's first ticket); each window opened at 08:25 by its clerk,
    paused for lunch, closed at 17:30."""
    rng = random.Random(7)
    per_day = max(1, tickets // 365)
    services = [(s[0], s[1]) for s in SERVICES]
    prefixes = dict(db.conn.execute("SELECT code, prefix FROM categories").fetchall())
    conn = db.conn
    tid = 10_000_000
    done = 0
    t0 = time.monotonic()
    for d in range(365, -1, -1):
        day = today - dt.timedelta(days=d)
        base = dt.datetime(day.year, day.month, day.day, 0, 30).timestamp()  # 08:30 Asia/Shanghai
        next_morning = base + 86400 + 60
        rows, calls, log = [], [], []
        seq: dict[str, int] = {}
        for w in range(1, 16):
            clerk = 3 + w % 6
            for at, status in ((-300, "open"), (3.5 * 3600, "paused"), (4.5 * 3600, "open"), (9 * 3600, "closed")):
                if base + at < now:
                    log.append((base + at, w, status, clerk))
        for n in range(per_day):
            issued = base + n * (8 * 3600 / per_day)
            if issued >= now:
                break
            tid += 1
            code, cat = services[rng.randrange(len(services))]
            prefix = prefixes[cat]
            seq[prefix] = seq.get(prefix, 0) + 1
            number = f"{prefix}{seq[prefix]:03d}"
            called = issued + rng.uniform(60, 2400)
            window = rng.randint(1, 15)
            clerk = 3 + window % 6
            r = rng.random()
            priority = "elderly" if rng.random() < 0.03 else None
            status = "done" if r < 0.9 else ("no_show" if r < 0.96 else "cancelled" if r < 0.99 else "expired")
            if called >= now:  # today: not called yet
                rows.append((tid, day.isoformat(), number, prefix, seq[prefix], code, cat, "waiting", f"y{tid}",
                             issued, None, None, None, None, None, None, priority))
                continue
            if status == "expired":  # left waiting; the next day's first ticket expires it
                rows.append((tid, day.isoformat(), number, prefix, seq[prefix], code, cat, status, f"y{tid}",
                             issued, None, None, None, next_morning, None, None, priority))
                continue
            started = called + rng.uniform(20, 180) if status == "done" else None
            finished = started + rng.uniform(120, 1500) if started else None
            closed = called + 300 if status != "done" else None
            if finished is not None and finished >= now:
                status, finished = "serving", None
            rows.append((tid, day.isoformat(), number, prefix, seq[prefix], code, cat, status, f"y{tid}", issued,
                         called, started, finished, closed, window, clerk, priority))
            calls.append((tid, number, window, "call", clerk, called))
            if r > 0.97 and called + 60 < now:
                calls.append((tid, number, window, "recall", clerk, called + 60))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO tickets (id, day, number, prefix, seq, service_code, category, status, progress_code, "
            "issued_at, called_at, started_at, finished_at, closed_at, window, clerk_user_id, priority) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany("INSERT INTO call_log (ticket_id, number, window, kind, clerk_user_id, ts) "
                         "VALUES (?,?,?,?,?,?)", calls)
        conn.executemany("INSERT INTO admin_window_log (ts, window, status, clerk_user_id) VALUES (?,?,?,?)", log)
        conn.executemany("INSERT OR REPLACE INTO counters (day, prefix, last) VALUES (?, ?, ?)",
                         [(day.isoformat(), p, n) for p, n in seq.items()])  # the engine's next numbers
        conn.execute("COMMIT")
        done += len(rows)
        if d % 30 == 0 or d == 1:
            print(f"  building the year: {done:,} tickets ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    conn.execute("ANALYZE")


def build_ahead(path: Path, now: float, month: tuple[str, str], pause: float, in_step: threading.Event | None = None
                ) -> tuple[list[float], dict[str, float], dict]:
    """The background task ``stats_facts`` as a server's scheduler runs it from its start,
    step after step (``pause`` between them) until no closed day lacks its facts: each
    step's duration, when the month (all but its last day) and everything were ready, and
    the task's memo (days made, longest write transaction)."""
    db = open_db(path)
    memo: dict = {}
    steps: list[float] = []
    ready: dict[str, float] = {}
    t0 = time.perf_counter()
    while True:
        s0 = time.perf_counter()
        if in_step is not None:
            in_step.set()
        more = schedule.run_background(db, now, memo, only="stats_facts")
        if in_step is not None:
            in_step.clear()
        steps.append(time.perf_counter() - s0)
        if "month" not in ready and db.conn.execute(
                "SELECT COUNT(*) FROM admin_stats_days WHERE day >= ? AND day < ?", month).fetchone()[0] == 29:
            ready["month"] = time.perf_counter() - t0
        if not more:
            break
        time.sleep(pause)
    ready["all"] = time.perf_counter() - t0
    db.conn.close()
    return steps, ready, memo["stats_facts"]


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
    ap.add_argument("--no-issuing", action="store_true",
                    help="skip the last part: issuing tickets while the background task runs (~1 min)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-admin-"))
    today = dt.date(2026, 12, 2)
    now = dt.datetime(today.year, today.month, today.day, 2, 0).timestamp()  # 10:00 Asia/Shanghai
    path = tmp / "hall.db"
    db = open_db(path)
    make_hall(db, appointments=0, clock=Clock(dt.datetime(2026, 11, 1, 9).timestamp()))
    set_setting(db, "enforce_opening_hours", False)
    build_year(db, args.tickets, today, now)
    cut = (today - dt.timedelta(days=183)).isoformat()
    t0 = time.perf_counter()
    archived = archive_days(db, str(path) + ".archive.db", before=cut, clock=Clock(now))
    archive_s = time.perf_counter() - t0
    moved = archived["moved"].get("tickets", 0)
    prepared = archived["prepared"].get("admin_stats_days", 0)
    print(f"  archived {moved:,} tickets before {cut} in {archive_s:.0f} s "
          f"(facts of {prepared} days made first)", file=sys.stderr)
    this_month = ((today - dt.timedelta(days=29)).isoformat(), today.isoformat())
    a = dt.date.fromisoformat(cut)
    span_month = ((a - dt.timedelta(days=15)).isoformat(), (a + dt.timedelta(days=14)).isoformat())
    arch_month = ((a - dt.timedelta(days=60)).isoformat(), (a - dt.timedelta(days=31)).isoformat())
    months = (("30 days to today", this_month), ("month across the archive cut", span_month),
              ("archived month", arch_month))
    clock = Clock(now)
    app = create_app({"DB_PATH": str(path), "TESTING": True, "CLOCK": clock})
    client = app.test_client()
    h = {"Authorization": f"Bearer {create_token(db, 'admin', 'bench-admin')}"}
    rows = []

    # cold: no per-day facts yet (each request makes and stores its month's)
    for label, (f, t) in months:
        for group in ("day", "window"):
            db.conn.execute("DELETE FROM admin_stats_days")
            lat = timed(client, f"/api/stats/queue?from={f}&to={t}&group={group}", h, 1)
            rows.append((f"{label} {f}…{t}", f"cold, no facts: first request, group={group}", lat))
    db.conn.execute("DELETE FROM admin_stats_days")

    # the background task from the server's start (its steps back to back: the work itself)
    steps, ready, bg = build_ahead(path, now, this_month, pause=0.0)
    background_line = (
        f"background task stats_facts from the start: {bg['days_made']} days in {len(steps)} steps, "
        f"{sum(steps):.1f} s of work (the 30 days to today ready after {ready.get('month', float('nan')):.1f} s); "
        f"longest step {max(steps) * 1000:.0f} ms, longest write transaction {bg['longest_tx_s'] * 1000:.1f} ms")

    # the first request of each month in a fresh app, the facts made ahead
    app.extensions["yichuang.bus"].stop()
    app = create_app({"DB_PATH": str(path), "TESTING": True, "CLOCK": clock})
    client = app.test_client()
    for label, (f, t) in months:
        for group in ("day", "window"):
            lat = timed(client, f"/api/stats/queue?from={f}&to={t}&group={group}", h, 1)
            rows.append((f"{label} {f}…{t}", f"first request, facts made ahead, group={group}", lat))
    db.conn.execute("DELETE FROM admin_stats_days")

    # the daily job, as a hall runs it each evening (here: the whole year at once)
    t0 = time.perf_counter()
    ran = schedule.run_now(db, schedule.JOBS["stats_rollups"], today.isoformat())
    job_s = time.perf_counter() - t0
    assert ran["error"] is None, ran["error"]
    facts = db.conn.execute("SELECT COUNT(*), SUM(tickets), SUM(length(c_svc) + length(c_cat) + length(c_win) + "
                            "length(c_clerk) + length(c_hour) + length(c_status) + length(c_transferred) + "
                            "length(c_calls) + length(c_recalls) + length(c_wait) + length(c_walk) + "
                            "length(c_service) + length(windows) + length(clerks)) FROM admin_stats_days").fetchone()

    # the fast path gives the figures of a full recomputation from the rows
    f, t = span_month
    for group in GROUPS:
        fast = stats.queue_stats(db, f, t, group, now=now)
        full = stats.queue_stats(db, f, t, group, now=now, rollups=False)
        assert fast == full, f"fast path and recomputation differ for group={group}"

    for label, (f, t) in months:
        for group in GROUPS:
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

    # last (today's new tickets would change the figures above): issuing while the background
    # task makes the year again, in one process as in a server (its pause between steps,
    # WAL checkpoints in a thread of their own)
    issuing_line = ""
    if not args.no_issuing:
        db.conn.execute("DELETE FROM admin_stats_days")
        app = create_app({"DB_PATH": str(path), "TESTING": True, "CLOCK": clock, "BACKGROUND_CHECKPOINT": True})
        client = app.test_client()
        checkpointer = Checkpointer(str(path)).start()
        kiosk = {"Authorization": f"Bearer {create_token(db, 'kiosk', 'bench-kiosk')}"}
        codes = [s[0] for s in SERVICES if s[5] is None]  # no ID number asked

        in_step, done = threading.Event(), threading.Event()
        result: list = []
        builder = threading.Thread(target=lambda: (
            result.append(build_ahead(path, now, this_month, pause=1.0, in_step=in_step)), done.set()))
        builder.start()
        lat: dict[bool, list[float]] = {True: [], False: []}  # issued while a step ran / between steps
        i = 0
        while not done.is_set():
            busy = in_step.is_set()
            t1 = time.perf_counter()
            r = client.post("/api/tickets", json={"service": codes[i % len(codes)]}, headers=kiosk)
            ms = (time.perf_counter() - t1) * 1000
            assert r.status_code == 201, r.get_data(as_text=True)[:300]
            lat[busy or in_step.is_set()].append(ms)
            i += 1
            time.sleep(0.02)  # ~40 tickets a second, far above a hall's pace
        builder.join()
        checkpointer.stop()
        app.extensions["yichuang.bus"].stop()
        b_steps, b_ready, _bg = result[0]
        during, between = lat[True] or [float("nan")], lat[False] or [float("nan")]
        issuing_line = (
            f"POST /api/tickets while it runs, the server's 1 s between steps ({len(b_steps)} steps in "
            f"{b_ready['all']:.0f} s; the 30 days to today ready after {b_ready.get('month', float('nan')):.1f} s): "
            f"issued during a step median {statistics.median(during):.1f} ms, p99 {pct(during, 99):.1f} ms, "
            f"max {max(during):.0f} ms ({len(lat[True]):,} tickets); between steps "
            f"{statistics.median(between):.1f} / {pct(between, 99):.1f} / {max(between):.0f} ms "
            f"({len(lat[False]):,})")

    print(f"\n{args.tickets:,} tickets in a year ({n:,} live, {moved:,} archived); {args.runs} runs each "
          f"(cold: 1); machine: a 3,000,000-step Python loop took {speed:.2f} s (~0.15 s on a quiet core)")
    print(f"archiving {moved:,} tickets: {archive_s:.1f} s, the facts of {prepared} days made first")
    print(background_line)
    if issuing_line:
        print(issuing_line)
    print(f"daily job stats_rollups: {facts[0]} days ({facts[1]:,} tickets) made in {job_s:.1f} s; "
          f"{facts[2] / 1e6:.1f} MB of facts ({facts[2] / max(1, facts[1]):.0f} bytes a ticket); "
          f"fast path = full recomputation for every grouping of the month across the cut\n")
    print("| range | request | median (ms) | p99 (ms) |")
    print("|---|---|---|---|")
    for label, what, lat in rows:
        print(f"| {label} | {what} | {statistics.median(lat):.0f} | {pct(lat, 99):.0f} |")


if __name__ == "__main__":
    main()
