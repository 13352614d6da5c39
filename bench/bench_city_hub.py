"""City hub: events ingested per second from 10 halls at once, and the lag from an event in a
hall to the hub under a working link.

Starts a throw-away PostgreSQL cluster (``tests/support/postgres.py``) and the real hub
(``city-hub serve``, waitress) on loopback.

1. **Ingest**: 10 halls are registered; each sends signed batches of ``--batch`` synthetic
   events (ticket issued → called → started → finished, the real event shapes) one after
   another, all 10 at once from 10 client threads. Repeated ``--runs`` times with fresh
   halls. Printed: events/s per run (median, p99 over runs) and the per-batch round trip
   (median, p99 over every batch).
2. **Lag**: one real hall (``queue-server serve`` with its uplink to the hub) issues
   ``--tickets`` tickets through its API at ~10/s; for each event the delay from its time in
   the hall to the moment the hub stored it (PostgreSQL's transaction time; one machine,
   one clock). Median and p99.

A city of 50 halls makes ~600,000 events a day (≈ 7 events/s averaged over 24 h, ≈ 21/s over
an 8-hour day); the table says how far the measured rate is from that.

    .venv/bin/python bench/bench_city_hub.py
    .venv/bin/python bench/bench_city_hub.py --runs 3 --batches 10 --batch 500 --tickets 100
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str, rel: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / rel)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def synthetic_events(start_id: int, n: int, t0: float) -> list[dict[str, Any]]:
    from yichuang.citylink import event_version

    out: list[dict[str, Any]] = []
    tid = start_id
    i = start_id
    while len(out) < n:
        tid += 1
        svc = f"QY0{tid % 9 + 1}"
        for typ, data in (("ticket.issued", {"ticket_id": tid, "number": f"A{tid % 1000:03d}", "service": svc,
                                              "category": "qiye", "priority": None}),
                          ("ticket.called", {"ticket_id": tid, "number": f"A{tid % 1000:03d}", "window": tid % 12 + 1,
                                             "window_name": "综合窗口", "service": svc, "called_at": t0}),
                          ("ticket.started", {"ticket_id": tid, "number": f"A{tid % 1000:03d}", "window": tid % 12 + 1}),
                          ("ticket.finished", {"ticket_id": tid, "number": f"A{tid % 1000:03d}",
                                               "window": tid % 12 + 1})):
            i += 1
            out.append({"id": i, "ts": t0 + i * 0.01, "type": typ, "v": event_version(typ), "data": data})
            if len(out) == n:
                break
    return out


def ingest_run(hub_url: str, dsn: str, run: int, halls: int, batches: int, batch: int) -> tuple[float, list[float]]:
    from city_hub.store import add_hall, connect
    from yichuang import citylink

    conn = connect(dsn)
    keys = {}
    for h in range(halls):
        code = f"bench{run}-{h}"
        keys[code] = add_hall(conn, code, code)["private_key"]
    conn.close()
    # Bodies are made and signed before the clock starts: the hub's work is what is timed.
    bodies: dict[str, list[tuple[bytes, str]]] = {}
    t0 = time.time()
    for code, key in keys.items():
        bodies[code] = []
        for b in range(batches):
            evs = synthetic_events(b * batch, batch, t0)
            body = citylink.make_batch(hall=code, after=b * batch, upto=(b + 1) * batch, events=evs,
                                       audit_head={"id": b, "hash": f"{b:064x}"}, audit_check=None,
                                       figures={"waiting": 3}, last_event_id=(b + 1) * batch, tz="Asia/Shanghai",
                                       sent_at=time.time())
            bodies[code].append((body, citylink.sign(key, body)))
    rtts: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def send(code: str) -> None:
        s = requests.Session()
        for body, sig in bodies[code]:
            t = time.perf_counter()
            r = s.post(f"{hub_url}/ingest/{code}", data=body, timeout=60, headers={citylink.SIGNATURE_HEADER: sig})
            dt = time.perf_counter() - t
            if r.status_code != 200:
                errors.append(r.text[:200])
            with lock:
                rtts.append(dt)

    threads = [threading.Thread(target=send, args=(c,)) for c in keys]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"refused batches: {errors[:3]}")
    with psycopg.connect(dsn) as c:
        n = c.execute("SELECT count(*) FROM events WHERE hall LIKE %s", (f"bench{run}-%",)).fetchone()[0]
    assert n == halls * batches * batch, (n, halls * batches * batch)
    return n / elapsed, rtts


def lag_run(hub_url: str, dsn: str, key_file: Path, tmp: Path, tickets: int) -> list[float]:
    from queue_server.db import connect as hall_connect
    from queue_server.demo import make_hall
    from queue_server.migrations import open_db
    from queue_server.settings import set_setting

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    creds = json.loads(subprocess.run(
        [sys.executable, "-m", "city_hub.cli", "hall", "add", "lag", "--dsn", dsn, "--key-file", str(key_file)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout)
    db_path = tmp / "lag.db"
    open_db(db_path).conn.close()
    db = hall_connect(db_path)
    made = make_hall(db, windows=4, tokens=True, appointments=0)
    set_setting(db, "uplink.interval_s", 1)
    db.conn.close()
    subprocess.run([sys.executable, "-m", "queue_server.cli", "uplink", "configure", "--db", str(db_path), "--hub",
                    hub_url, "--hall", "lag", "--hall-key", creds["hall_private_key"], "--hub-key",
                    creds["hub_public_key"]], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    hall = subprocess.Popen([sys.executable, "-m", "queue_server.cli", "serve", "--db", str(db_path), "--port",
                             str(port), "--threads", "16"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if requests.get(url + "/api/health", timeout=0.5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        time.sleep(2)  # first heartbeat batch
        s = requests.Session()
        headers = {"Authorization": f"Bearer {made['tokens']['kiosk']}"}
        for i in range(tickets):
            r = s.post(url + "/api/tickets", json={"service": made["services"][i % 6]}, headers=headers, timeout=10)
            assert r.status_code == 201, r.text
            time.sleep(0.1)
        deadline = time.time() + 60
        while time.time() < deadline:
            with psycopg.connect(dsn) as c:
                n = c.execute("SELECT count(*) FROM events WHERE hall = 'lag' AND type = 'ticket.issued'").fetchone()[0]
            if n >= tickets:
                break
            time.sleep(0.2)
        with psycopg.connect(dsn) as c:
            rows = c.execute("SELECT extract(epoch FROM received_at) - ts FROM events WHERE hall = 'lag' "
                             "AND type = 'ticket.issued'").fetchall()
        return [float(r[0]) for r in rows]
    finally:
        hall.terminate()
        hall.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--halls", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batches", type=int, default=10, help="Batches per hall per run.")
    ap.add_argument("--batch", type=int, default=500, help="Events per batch.")
    ap.add_argument("--tickets", type=int, default=200)
    args = ap.parse_args()
    pg = _load("yichuang_bench_pg", "tests/support/postgres.py").PostgresCluster().start()
    hub = None
    try:
        dsn = pg.create_database("bench")
        tmp = Path(tempfile.mkdtemp(prefix="bench-city-"))
        key_file = tmp / "hub.key"
        port = free_port()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        hub = subprocess.Popen([sys.executable, "-m", "city_hub.cli", "serve", "--dsn", dsn, "--key-file",
                                str(key_file), "--port", str(port), "--threads", "16", "--province",
                                str(tmp / "province")], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if requests.get(url + "/health", timeout=0.5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        rates, rtts = [], []
        for run in range(args.runs):
            rate, rt = ingest_run(url, dsn, run, args.halls, args.batches, args.batch)
            rates.append(rate)
            rtts += rt
        lags = lag_run(url, dsn, key_file, tmp, args.tickets)
    finally:
        if hub is not None:
            hub.terminate()
            hub.wait(10)
        pg.stop()
    need_day = 600_000 / 86400
    need_8h = 600_000 / (8 * 3600)
    med = statistics.median(rates)
    print(f"city hub ingest: {args.halls} halls at once, {args.runs} runs × {args.batches} batches × {args.batch} events "
          f"(2-core machine)")
    print(f"{'measure':44} {'median':>10} {'p99':>10} {'max':>10}")
    print(f"{'events ingested per second (per run)':44} {med:10.0f} {pct(rates, 1):10.0f} {max(rates):10.0f}"
          "   (p99 = the slowest runs)")
    print(f"{'batch round trip, ms':44} {statistics.median(rtts) * 1000:10.1f} {pct(rtts, 99) * 1000:10.1f} "
          f"{max(rtts) * 1000:10.1f}")
    print(f"{'lag event in hall → stored at hub, ms':44} {statistics.median(lags) * 1000:10.1f} "
          f"{pct(lags, 99) * 1000:10.1f} {max(lags) * 1000:10.1f}   ({len(lags)} tickets at ~10/s)")
    print(f"50 halls ≈ 600,000 events/day = {need_day:.1f}/s over 24 h, {need_8h:.1f}/s over an 8-hour day: "
          f"measured {med:.0f}/s is {med / need_day:.0f}× the daily average, {med / need_8h:.0f}× the 8-hour rate, "
          f"{med * 86400 / 1e6:.1f} M events/day if sustained")


if __name__ == "__main__":
    main()
