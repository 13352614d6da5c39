"""The progress page ``/t/<code>`` (and issuing a ticket) with thousands of tickets waiting.

A demo hall (15 windows, 3 of them universal 综合窗口) with ``--waiting`` tickets (default
5,000) of every service waiting, inserted directly (what 5,000 kiosk issues would leave);
then, through the Flask app in this process (no HTTP stack, so the figure is the page's
own work):

* ``progress, hall unchanged`` — phones polling while nothing happens in the hall;
* ``progress, a ticket issued before each`` — every request sees a new hall state (the
  worst case for 前面还有 N 人, which is a simulated run of the calling order, kept per
  state: ``queue_server/queue/ahead.py``);
* ``issue (engine)`` — ``issue_ticket``, which computes the new ticket's N the same way.

Prints a table: median, p99, n. Runs against whatever ``queue_server`` is importable, so
``PYTHONPATH=/path/to/other/checkout`` measures another version with the same script.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def seed(db, n: int, now: float, day: str) -> list[str]:
    rng = random.Random(18)
    svcs = [(r[0], r[1]) for r in db.conn.execute(
        "SELECT code, category FROM services WHERE active ORDER BY code")]
    codes = []
    with db.conn:
        for i in range(n):
            code, cat = rng.choice(svcs)
            prio = "elderly" if rng.random() < 0.03 else None
            pc = secrets.token_urlsafe(9)
            codes.append(pc)
            db.conn.execute(
                "INSERT INTO tickets (day, number, prefix, seq, service_code, category, status, priority, issued_at, "
                "progress_code, source, call_count) VALUES (?, ?, 'Z', ?, ?, ?, 'waiting', ?, ?, ?, 'kiosk', 0)",
                (day, f"Z{i + 1:05d}", i + 1, code, cat, prio, now - 3 * 3600 + i * 2.0, pc))
    return codes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--waiting", type=int, default=5000)
    ap.add_argument("--requests", type=int, default=400)
    args = ap.parse_args()

    from queue_server import create_app
    from queue_server import queue as engine
    from queue_server.demo import make_hall
    from queue_server.migrations import open_db
    from queue_server.queue.common import hall

    tmp = Path(tempfile.mkdtemp(prefix="bench-progress-"))
    path = tmp / "hall.db"
    db = open_db(path)
    make_hall(db, tokens=True, appointments=0)
    h = hall(db)
    codes = seed(db, args.waiting, h.now, h.day)
    app = create_app({"DB_PATH": str(path), "TESTING": True})
    client = app.test_client()
    rng = random.Random(1)
    rows = []

    def measure(name: str, before=None) -> None:
        ms = []
        for _ in range(args.requests):
            if before is not None:
                before()
            code = rng.choice(codes)
            t0 = time.perf_counter()
            r = client.get(f"/t/{code}")
            ms.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.status_code
        rows.append((name, statistics.median(ms), pct(ms, 99), len(ms)))

    client.get(f"/t/{codes[0]}")  # warm up: templates, settings, the first run
    measure("progress, hall unchanged")
    services = ["QY01", "SB01", "GJ01", "SW01"]
    measure("progress, a ticket issued before each",
            before=lambda: engine.issue_ticket(db, rng.choice(services)))
    ms = []
    for _ in range(min(args.requests, 200)):
        t0 = time.perf_counter()
        engine.issue_ticket(db, rng.choice(services))
        ms.append((time.perf_counter() - t0) * 1000)
    rows.append(("issue (engine)", statistics.median(ms), pct(ms, 99), len(ms)))
    db.conn.close()

    load = os.getloadavg()[0]
    print(f"# {args.waiting} waiting; load average {load:.1f}; python {sys.version.split()[0]}")
    print("| measure | median ms | p99 ms | n |")
    print("|---|---|---|---|")
    for name, med, p99, n in rows:
        print(f"| {name} | {med:.2f} | {p99:.2f} | {n} |")


if __name__ == "__main__":
    main()
