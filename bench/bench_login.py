"""Console logins under a flood: memory of the server process and login latency.

Starts ``queue-server serve`` (one process, 64 threads) of the tree given by ``--root``
(default: this one) on a loopback port, then sends waves of 60 logins at once and prints
the server's RSS before and after, the answers (200 / 429 / 503) and the latency, median
and p99, of a login, of a wrong password for a known user and for an unknown user. Run it
against the main tree too to compare (``--root /path/to/main``).

    .venv/bin/python bench/bench_login.py
    .venv/bin/python bench/bench_login.py --root ../main --waves 2
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


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(port: int, path: str, body: dict, addr_header: str | None = None) -> tuple[int, float]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    try:
        c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        return r.status, time.perf_counter() - t0
    finally:
        c.close()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(ROOT))
    ap.add_argument("--waves", type=int, default=2)
    ap.add_argument("--concurrent", type=int, default=60)
    args = ap.parse_args()
    root = Path(args.root).resolve()
    tmp = tempfile.mkdtemp()
    db = os.path.join(tmp, "hall.db")
    env = dict(os.environ, PYTHONPATH=str(root))
    subprocess.run([sys.executable, "-m", "queue_server.cli", "init-db", "--db", db], cwd=root, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "queue_server.cli", "seed-demo", "--db", db], cwd=root, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", "queue_server.cli", "serve", "--db", db, "--port", str(port),
                             "--workers", "1", "--threads", "64"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/api/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        before = _rss_mb(proc.pid)
        statuses: list[int] = []
        flood: list[float] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            status, dt = _post(port, "/api/login", {"username": "clerk1", "password": "clerk123"})
            with lock:
                statuses.append(status)
                flood.append(dt)

        peak = before
        for _ in range(args.waves):
            threads = [threading.Thread(target=one, args=(i,)) for i in range(args.concurrent)]
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                peak = max(peak, _rss_mb(proc.pid))
                time.sleep(0.02)
        after = _rss_mb(proc.pid)
        # single logins, one at a time: right password, wrong for a known user, unknown user
        # (4 failures of each kind: under the per-address limit of 10 free failures)
        lat: dict[str, list[float]] = {"login ok": [], "wrong password, known user": [], "unknown user": []}
        for i in range(4):
            lat["login ok"].append(_post(port, "/api/login", {"username": "clerk1", "password": "clerk123"})[1])
            lat["wrong password, known user"].append(
                _post(port, "/api/login", {"username": f"clerk{2 + i}", "password": "wrong-pw"})[1])
            lat["unknown user"].append(_post(port, "/api/login", {"username": f"ghost{i}", "password": "wrong-pw"})[1])
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"tree: {root}")
    print("| measure | median ms | p99 ms | n |\n|---|---|---|---|")
    for k, xs in lat.items():
        print(f"| {k} | {statistics.median(xs) * 1000:.0f} | {_pct(xs, 0.99) * 1000:.0f} | {len(xs)} |")
    print(f"| flood login (any answer) | {statistics.median(flood) * 1000:.0f} | {_pct(flood, 0.99) * 1000:.0f} "
          f"| {len(flood)} |")
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    print(f"\nRSS before {before:.0f} MB, peak {peak:.0f} MB, after {after:.0f} MB "
          f"({args.waves} waves of {args.concurrent} concurrent logins); answers {counts}")


if __name__ == "__main__":
    main()
