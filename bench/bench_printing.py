"""Benchmark: ticket issue → last byte on the printer, through the real server and print queue.

Starts ``queue-server serve`` (waitress + print workers) on a free loopback port with a fresh
demo hall, registers one loopback TCP printer simulator per kiosk (this process), and lets
each kiosk issue tickets one after the other (``POST /api/tickets`` with ``"print": true``,
``"printer": <its own>``), waiting for its ticket to be cut before the next one. Measured
per ticket: from just before the HTTP request to the arrival of the ticket's last byte (the
cut) at the simulator, and the HTTP response time alone. Also the size of a ticket.

    .venv/bin/python bench/bench_printing.py                 # 1 and 20 kiosks
    .venv/bin/python bench/bench_printing.py --kiosks 1 5 20 --tickets 40

Targets (issue #4): p99 ≤ 300 ms at 20 concurrent kiosks; a ticket ≤ 2 KB.
"""

from __future__ import annotations

import argparse
import http.client
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

ROOT = Path(__file__).resolve().parent.parent

from hardware.printer.sim import SimulatedNetworkPrinter  # noqa: E402
from queue_server.migrations import open_db  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def post(conn: http.client.HTTPConnection, path: str, body: dict, token: str) -> tuple[int, dict]:
    conn.request("POST", path, body=json.dumps(body),
                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def start_server(db_path: str, port: int, threads: int, processes: int = 1) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "queue_server.cli", "serve", "--db", db_path, "--port", str(port),
         "--threads", str(threads), "--workers", str(processes)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/api/health")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def run(kiosks: int, tickets: int, threads: int, paper: int, processes: int = 1,
        interval: float = 0.0) -> dict[str, float]:
    from queue_server.demo import make_hall
    from queue_server.printing.jobs import add_printer

    tmp = tempfile.mkdtemp(prefix="bench-printing-")
    db_path = os.path.join(tmp, "hall.db")
    db = open_db(db_path)
    made = make_hall(db, tokens=True, appointments=0)
    token = made["tokens"]["kiosk"]
    sims = [SimulatedNetworkPrinter().start() for _ in range(kiosks)]
    for i, sim in enumerate(sims):
        add_printer(db, f"kiosk-{i:02d}", sim.url, {"paper": paper})
    services = [r[0] for r in db.conn.execute(
        "SELECT code FROM services WHERE daily_limit_per_id IS NULL AND active ORDER BY sort")]
    db.conn.close()
    port = free_port()
    server = start_server(db_path, port, threads, processes)
    total: list[float] = []
    http_ms: list[float] = []
    sizes: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(kiosks)
    marks: list[tuple[float, int, float]] = []

    def kiosk(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        sim = sims[i]
        # warm-up ticket (connection, first render, printer handshake): not measured
        post(conn, "/api/tickets", {"service": services[0], "print": True, "printer": f"kiosk-{i:02d}"}, token)
        sim.wait_for_receipts(1, timeout=30)
        barrier.wait()
        printed = 1
        next_at = time.time()
        for n in range(tickets):
            if interval:
                # open loop: one ticket per interval per kiosk (a citizen every few seconds)
                time.sleep(max(0.0, next_at - time.time()))
                next_at += interval
            t0 = time.time()
            status, body = post(conn, "/api/tickets", {"service": services[(i + n) % len(services)],
                                                       "print": True, "printer": f"kiosk-{i:02d}"}, token)
            t1 = time.time()
            if status != 201 or body.get("print", {}).get("status") != "queued":
                with lock:
                    errors.append(f"{status} {body}")
                continue
            printed += 1
            receipt = sim.wait_for_receipts(printed, timeout=30)[printed - 1]
            marks.append((t0, body["print"]["job_id"], receipt.at))
            with lock:
                total.append((receipt.at - t0) * 1000)
                http_ms.append((t1 - t0) * 1000)
                sizes.append(len(receipt.data))
        conn.close()

    try:
        workers = [threading.Thread(target=kiosk, args=(i,)) for i in range(kiosks)]
        start = time.time()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.time() - start
    finally:
        server.terminate()
        server.wait(10)
        for sim in sims:
            sim.stop()
    if errors:
        print(f"  {len(errors)} errors, first: {errors[0]}")
    # where the time goes: request start → job row committed → claimed by a worker → last byte
    db = open_db(db_path)
    rows = {r[0]: (r[1], r[2]) for r in db.conn.execute("SELECT id, created_at, started_at FROM print_jobs")}
    db.conn.close()
    to_queued = [(rows[j][0] - t0) * 1000 for t0, j, _ in marks]
    to_claim = [(rows[j][1] - rows[j][0]) * 1000 for t0, j, _ in marks]
    to_byte = [(at - rows[j][1]) * 1000 for t0, j, at in marks]
    return {
        "kiosks": kiosks, "tickets": len(total), "median": statistics.median(total),
        "p99": pct(total, 99), "max": max(total), "http_median": statistics.median(http_ms),
        "http_p99": pct(http_ms, 99), "rate": len(total) / elapsed, "size": statistics.median(sizes),
        "size_max": max(sizes),
        "to_queued": statistics.median(to_queued), "to_claim": statistics.median(to_claim),
        "to_byte": statistics.median(to_byte), "to_claim_p99": pct(to_claim, 99),
        "to_byte_p99": pct(to_byte, 99),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiosks", type=int, nargs="+", default=[1, 20])
    ap.add_argument("--tickets", type=int, default=50, help="tickets per kiosk")
    ap.add_argument("--threads", type=int, default=32, help="waitress threads")
    ap.add_argument("--paper", type=int, default=80, choices=[58, 80])
    ap.add_argument("--processes", type=int, default=1, help="server processes (serve --workers)")
    ap.add_argument("--interval", type=float, default=0.0,
                    help="seconds between a kiosk's tickets (0 = closed loop: next ticket as soon "
                         "as the previous one is cut)")
    args = ap.parse_args()
    print(f"ticket issue → last byte on a loopback printer ({args.paper} mm, {args.tickets} tickets "
          f"per kiosk, {args.processes} server process(es), "
          + (f"one ticket per {args.interval} s per kiosk)" if args.interval else "closed loop)"))
    print(f"{'kiosks':>6} {'tickets':>7} {'median ms':>10} {'p99 ms':>8} {'max ms':>8} "
          f"{'http med':>9} {'http p99':>9} {'tickets/s':>9} {'bytes':>6} {'max B':>6}")
    results = []
    for k in args.kiosks:
        r = run(k, args.tickets, args.threads, args.paper, args.processes, args.interval)
        results.append(r)
        print(f"{r['kiosks']:>6} {r['tickets']:>7} {r['median']:>10.1f} {r['p99']:>8.1f} {r['max']:>8.1f} "
              f"{r['http_median']:>9.1f} {r['http_p99']:>9.1f} {r['rate']:>9.1f} {r['size']:>6.0f} "
              f"{r['size_max']:>6}")
    print("targets: p99 ≤ 300 ms at 20 kiosks; ticket ≤ 2048 bytes")
    print("breakdown (median / p99 ms): request → job committed | committed → claimed | claimed → last byte")
    for r in results:
        print(f"{r['kiosks']:>6}   {r['to_queued']:.1f} | {r['to_claim']:.1f} / {r['to_claim_p99']:.1f} | "
              f"{r['to_byte']:.1f} / {r['to_byte_p99']:.1f}")


if __name__ == "__main__":
    main()
