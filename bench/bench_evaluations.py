"""好差评 costs: recording an evaluation (good and 差评 with its rectification case), the figures
of a busy day, a deadline on the working-day calendar.

Builds a hall day of ``--tickets`` finished tickets (default 2,000: a busy city centre) in a
temporary database, then times, through the Flask app (no network):

* ``POST /api/evaluations`` of a good rating (one write transaction: evaluation, audit, event);
* ``POST /api/evaluations`` of a 差评 (plus the rectification case and its deadline);
* ``GET /api/stats/evaluations`` for the day, by window and by clerk (every ticket, evaluation
  and case of the day is read);
* ``compute_deadline`` across the National Day holiday (pure calendar work).

Printed: median and p99 in milliseconds over the runs.

    .venv/bin/python bench/bench_evaluations.py
    .venv/bin/python bench/bench_evaluations.py --tickets 500 --runs 100
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=300)
    args = ap.parse_args()

    from queue_server import create_app
    from queue_server.db import write_tx
    from queue_server.demo import make_hall
    from queue_server.evaluations.rectifications import compute_deadline
    from queue_server.evaluations.workdays import HallCalendar
    from queue_server.migrations import open_db

    tmp = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    path = tmp / "hall.db"
    db = open_db(path)
    fixed = dt.datetime(2026, 11, 25, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()

    def clock() -> float:
        return fixed
    hall = make_hall(db, clock=clock, tokens=True, appointments=0)
    # A busy day written directly: finished tickets spread over 12 windows and 8 services.
    services = ["QY01", "QY02", "SB01", "SB02", "BD01", "GJ01", "HZ01", "SW01"]
    day, now = "2026-11-25", clock()
    with write_tx(db) as conn:
        for i in range(args.tickets):
            svc = services[i % len(services)]
            conn.execute(
                "INSERT INTO tickets (day, number, prefix, seq, service_code, category, status, progress_code, "
                "issued_at, called_at, finished_at, window, source) VALUES (?, ?, 'Z', ?, ?, 'zonghe', 'done', ?, ?, ?, ?, ?, "
                "'kiosk')", (day, f"Z{i + 1:04d}", i + 1, svc, f"bench{i:08d}", now - 3600, now - 60, now - 30,
                             1 + i % 12))
    ids = [r[0] for r in db.conn.execute("SELECT id FROM tickets ORDER BY id")]
    app = create_app({"DB_PATH": str(path), "CLOCK": clock})
    client = app.test_client()
    pad = {"Authorization": f"Bearer {hall['tokens']['display']}"}
    admin = {"Authorization": f"Bearer {hall['tokens']['admin']}"}
    runs = min(args.runs, len(ids) // 3)
    it = iter(ids)

    def good() -> None:
        r = client.post("/api/evaluations", json={"ticket": next(it), "level": 5, "channel": "window"}, headers=pad)
        assert r.status_code == 201, r.get_json()

    def bad() -> None:
        r = client.post("/api/evaluations", json={"ticket": next(it), "level": 1, "reasons": ["attitude"],
                                                  "channel": "window"}, headers=pad)
        assert r.status_code == 201, r.get_json()

    rows: list[tuple[str, list[float]]] = []
    rows.append(("POST /api/evaluations (level 5)", timed(good, runs)))
    rows.append(("POST /api/evaluations (差评 + case)", timed(bad, runs)))
    for group in ("window", "clerk", "service"):
        def stats(g: str = group) -> None:
            r = client.get(f"/api/stats/evaluations?from={day}&to={day}&group={g}", headers=admin)
            assert r.status_code == 200
        rows.append((f"GET /api/stats/evaluations group={group} ({args.tickets} served)", timed(stats, 30)))
    cal = HallCalendar()
    rows.append(("compute_deadline 2026-09-30 + 5 (+5)", timed(lambda: compute_deadline(cal, "2026-09-30", 5, 5), 2000)))

    print(f"{'operation':<58} {'runs':>5} {'median ms':>10} {'p99 ms':>8}")
    for name, values in rows:
        print(f"{name:<58} {len(values):>5} {statistics.median(values):>10.2f} {pct(values, 99):>8.2f}")


if __name__ == "__main__":
    main()
