"""A year of a busy centre's history (~440,000 tickets, 泰安's yearly count) must not slow
today's hall. Builds that year in a hall database (with progress counts), then measures,
beside a fresh hall:

* issuing: the first ticket of the day (it expires what earlier days left open) and the
  steady case, median and p99 over many tickets;
* ``GET /api/state`` (what every display reads), median and p99;
* archiving the year: total time and the longest write transaction — while another thread
  keeps issuing tickets, whose latency during the archive is reported too.

    .venv/bin/python bench/bench_year.py                 # 440,000 tickets
    .venv/bin/python bench/bench_year.py --tickets 50000 # quicker
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from queue_server import create_app
from queue_server import queue as q
from queue_server.archive import archive_days
from queue_server.demo import make_hall
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
    """Finished tickets, their calls and events over the 365 days before ``today``."""
    per_day = max(1, tickets // 365)
    conn = db.conn
    tid = 10_000_000
    done = 0
    t0 = time.monotonic()
    for d in range(365, 0, -1):
        day = today - dt.timedelta(days=d)
        base = dt.datetime(day.year, day.month, day.day, 1, 0).timestamp()
        rows, calls, events = [], [], []
        for n in range(per_day):
            tid += 1
            ts = base + n * 20
            number = f"A{n + 1:03d}"
            rows.append((tid, day.isoformat(), number, "A", n + 1, "QY01", "qiye", "done", f"y{tid}", ts, ts + 300,
                         ts + 330, ts + 900, 4))
            calls.append((tid, number, 4, "call", ts + 300))
            events.append((ts, "ticket.issued", f'{{"ticket_id": {tid}}}'))
            events.append((ts + 900, "ticket.finished", f'{{"ticket_id": {tid}}}'))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO tickets (id, day, number, prefix, seq, service_code, category, status, progress_code, "
            "issued_at, called_at, started_at, finished_at, window) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany("INSERT INTO call_log (ticket_id, number, window, kind, ts) VALUES (?,?,?,?,?)", calls)
        conn.executemany("INSERT INTO events (ts, type, data) VALUES (?,?,?)", events)
        conn.execute("COMMIT")
        done += len(rows)
        if d % 30 == 0 or d == 1:
            print(f"  building the year: {done:,} tickets ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    conn.execute("ANALYZE")


def measure(label: str, db_path: Path, today: dt.date, n_issue: int, n_state: int) -> dict[str, float]:
    db = open_db(db_path)
    clock = Clock(dt.datetime(today.year, today.month, today.day, 9, 0).timestamp())
    first_t0 = time.perf_counter()
    q.issue_ticket(db, "QY01", clock=clock)
    first_ms = (time.perf_counter() - first_t0) * 1000
    issue = []
    for i in range(n_issue):
        clock.t += 5
        t0 = time.perf_counter()
        q.issue_ticket(db, "QY01" if i % 2 else "QY02", clock=clock)
        issue.append((time.perf_counter() - t0) * 1000)
        if i % 4 == 0:
            q.call_next(db, 4, clock=clock)
    app = create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock})
    client = app.test_client()
    token = make_token(db)
    state = []
    for _ in range(n_state):
        t0 = time.perf_counter()
        r = client.get("/api/state", headers={"Authorization": f"Bearer {token}"})
        state.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    app.extensions["yichuang.bus"].stop()
    db.conn.close()
    return {"label": label, "first": first_ms, "issue_med": statistics.median(issue), "issue_p99": pct(issue, 99),
            "state_med": statistics.median(state), "state_p99": pct(state, 99)}


def make_token(db) -> str:
    from queue_server.auth import create_token

    return create_token(db, "display", f"bench-{time.time()}")


def archive_under_load(db_path: Path, out: Path, today: dt.date) -> dict[str, float]:
    db = open_db(db_path)
    stop = threading.Event()
    lat: list[float] = []

    def issue_meanwhile() -> None:
        other = open_db(db_path)
        clock = Clock(dt.datetime(today.year, today.month, today.day, 10, 0).timestamp())
        while not stop.is_set():
            clock.t += 1
            t0 = time.perf_counter()
            q.issue_ticket(other, "QY01", clock=clock)
            lat.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.02)
        other.conn.close()

    worker = threading.Thread(target=issue_meanwhile)
    worker.start()
    moved = [0]
    last = [time.monotonic()]

    def progress(what: str, n: int) -> None:
        moved[0] += n
        if time.monotonic() - last[0] > 2:
            last[0] = time.monotonic()
            print(f"  archiving: {moved[0]:,} rows moved", file=sys.stderr)

    t0 = time.perf_counter()
    result = archive_days(db, out, before=today.isoformat(), progress=progress)
    total = time.perf_counter() - t0
    stop.set()
    worker.join()
    size_before = db_path.stat().st_size
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return {"seconds": total, "longest_tx_ms": result["longest_tx_ms"], "tickets": result["moved"].get("tickets", 0),
            "issued_meanwhile": len(lat), "issue_med": statistics.median(lat) if lat else 0.0,
            "issue_p99": pct(lat, 99) if lat else 0.0, "pages_freed": result["pages_freed"],
            "size_mb": size_before / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=440_000)
    ap.add_argument("--issue", type=int, default=400, help="tickets issued per measurement")
    ap.add_argument("--state", type=int, default=300, help="/api/state requests per measurement")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-year-"))
    today = dt.date(2026, 12, 2)
    rows = []
    for label, history in (("fresh hall", 0), (f"year ({args.tickets:,} tickets)", args.tickets)):
        path = tmp / f"{history}.db"
        db = open_db(path)
        make_hall(db, appointments=0, clock=Clock(dt.datetime(2026, 11, 1, 9).timestamp()))
        set_setting(db, "enforce_opening_hours", False)
        if history:
            build_year(db, history, today)
        db.conn.close()
        rows.append(measure(label, path, today, args.issue, args.state))
    print("\n| hall | first ticket of the day (ms) | issue median / p99 (ms) | /api/state median / p99 (ms) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['label']} | {r['first']:.1f} | {r['issue_med']:.2f} / {r['issue_p99']:.2f} | "
              f"{r['state_med']:.2f} / {r['state_p99']:.2f} |")
    a = archive_under_load(tmp / f"{args.tickets}.db", tmp / "archive.db", today)
    print("\n| archive the year | total (s) | longest write tx (ms) | tickets moved | issued meanwhile | "
          "issue during archive median / p99 (ms) | pages given back |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {a['tickets']:,} tickets | {a['seconds']:.1f} | {a['longest_tx_ms']:.1f} | {a['tickets']:,} | "
          f"{a['issued_meanwhile']} | {a['issue_med']:.2f} / {a['issue_p99']:.2f} | {a['pages_freed']:,} |")


if __name__ == "__main__":
    main()
