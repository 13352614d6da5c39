"""秒批 benchmark: server decision latency, and tap → decision on screen at the kiosk.

Server (``queue-server serve`` on a fresh demo hall with a simulated receipt printer, so
every approval also queues and prints its certificate and every referral its ticket and
一次性告知单): ``POST /api/approvals`` round trips over loopback HTTP with a mix of the
demo's applications (高龄津贴 approved and referred, 参保证明 approved and referred).

* 1 kiosk, one application after another;
* 20 kiosks, each applying every 2 s (10 decisions/s in all — far above a real hall, where a
  kiosk session takes a minute), paced from one selector thread so a response is timed the
  moment it arrives;
* 20 kiosks as fast as they can (saturation: throughput, and the queueing it causes).

Kiosk (``--kiosk``): the headless Kivy kiosk against a server subprocess; from the tap on
同意并查询 (consent to query shared data) to the first frame that shows the decision, for
高龄津贴 approved. Target: server p99 ≤ 50 ms at 20 kiosks; kiosk median ≤ 1 s (Shenzhen's
published figure is 6 s from submission to certificate).

    .venv/bin/python bench/bench_approvals.py                 # server, 3 runs × 4 s
    .venv/bin/python bench/bench_approvals.py --kiosk --taps 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_queue import build_request, drive, free_port, pct, process_tree_cpu, wait_ready

ROOT = Path(__file__).resolve().parent.parent


def _hall(tmp: Path, kiosks: int) -> tuple[Path, list[str]]:
    from queue_server.auth import create_token
    from queue_server.db import connect
    from queue_server.demo import make_hall
    from queue_server.migrations import open_db
    from queue_server.printing.jobs import add_printer

    path = tmp / "bench.db"
    open_db(path).conn.close()
    db = connect(path)
    make_hall(db, appointments=0)
    add_printer(db, "bench-kiosk", "sim://bench-kiosk", {"paper": 80}, default=True)
    tokens = [create_token(db, "kiosk", f"kiosk-{k:02d}") for k in range(kiosks)]
    db.conn.close()
    return path, tokens


def _requests(tokens: list[str]) -> list[bytes]:
    from queue_server.approvals.demo import IDS, NAMES

    def body(item: str, who: str, inputs: dict | None = None) -> dict:
        return {"item": item, "applicant": {"id_number": IDS[who], "name": NAMES[who]},
                "verification": {"method": "face", "score": 0.8}, "inputs": inputs or {}}

    bodies = [
        body("elderly_allowance", "elder_ok"),
        body("elderly_allowance", "elder_young"),
        body("insurance_certificate", "insured_ok", {"from_month": "2020-01", "to_month": "2024-12"}),
        body("insurance_certificate", "insured_recent", {"from_month": "2019-01", "to_month": "2022-12"}),
    ]
    return [build_request("POST", "/api/approvals", tokens[i % len(tokens)], bodies[i % len(bodies)])
            for i in range(len(tokens) * len(bodies))]


def server_bench(args: argparse.Namespace) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db_path, tokens = _hall(Path(tmp), 20)
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "queue_server.cli", "serve", "--db", str(db_path), "--port", str(port),
             "--workers", str(args.workers), "--threads", "32"],
            cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(port)
            reqs = _requests(tokens)
            drive(port, reqs, 4, 1.0)  # warm up every worker's connections and caches
            for name, clients, rate in (("1 kiosk, back to back", 1, None),
                                        ("20 kiosks, one every 2 s each", 20, 10.0),
                                        ("20 kiosks, as fast as they can", 20, None)):
                lat: list[float] = []
                rates: list[float] = []
                statuses: dict[int, int] = {}
                cpu0 = process_tree_cpu(proc.pid)
                for _ in range(args.runs):
                    rps, got, st, _cpu = drive(port, reqs, clients, args.seconds, rate_total=rate,
                                               procs=2 if rate is None else 1)
                    lat += got
                    rates.append(rps)
                    for k, v in st.items():
                        statuses[k] = statuses.get(k, 0) + v
                cpu = process_tree_cpu(proc.pid) - cpu0
                rows.append({"scenario": name, "decisions/s": statistics.median(rates),
                             "median ms": pct(lat, 50) * 1000, "p99 ms": pct(lat, 99) * 1000,
                             "n": len(lat), "statuses": statuses,
                             "server CPU ms/decision": 1000 * cpu / max(1, len(lat))})
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return rows


def kiosk_bench(args: argparse.Namespace) -> dict:
    """Tap on 同意并查询 → the decision screen's first frame, in a child process (one Kivy
    window per process), against a server subprocess."""
    code = ["-c", "from tests.support.approvals_kiosk import bench_taps; import sys, json; "
                  f"print(json.dumps(bench_taps({args.taps})))"]
    out = subprocess.run([sys.executable, *code], cwd=str(ROOT), capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    data: dict = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    ap.add_argument("--kiosk", action="store_true", help="also measure tap → decision on the kiosk screen")
    ap.add_argument("--taps", type=int, default=20)
    ap.add_argument("--no-server", action="store_true", help="only the kiosk measurement")
    args = ap.parse_args()
    if not args.no_server:
        rows = server_bench(args)
        print(f"POST /api/approvals — {args.runs} runs × {args.seconds:.0f} s, {args.workers} server process(es)")
        print(f"{'scenario':34} {'decisions/s':>11} {'median ms':>10} {'p99 ms':>8} {'n':>6} "
              f"{'CPU ms/dec':>10}  statuses")
        for r in rows:
            print(f"{r['scenario']:34} {r['decisions/s']:11.1f} {r['median ms']:10.1f} {r['p99 ms']:8.1f} "
                  f"{r['n']:6d} {r['server CPU ms/decision']:10.1f}  {r['statuses']}")
        paced = next(r for r in rows if r["scenario"].startswith("20 kiosks, one"))
        print(f"target p99 ≤ 50 ms at 20 kiosks: {'met' if paced['p99 ms'] <= 50 else 'NOT met'} "
              f"({paced['p99 ms']:.1f} ms)")
    if args.kiosk:
        k = kiosk_bench(args)
        print(f"kiosk: tap 同意并查询 → decision on screen, {k['n']} taps: median {k['median_ms']:.0f} ms, "
              f"p99 {k['p99_ms']:.0f} ms (server part median {k['server_median_ms']:.0f} ms); "
              f"target median ≤ 1000 ms: {'met' if k['median_ms'] <= 1000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
