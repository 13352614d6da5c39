"""Event fan-out latency: 200 display streams, the delay from a call-next response to the event.

Runs the real server (``queue-server serve``, waitress, one process) on a loopback port,
opens N ``/api/events`` streams from a few client processes (raw non-blocking sockets and
``selectors``, so the clients cost little of the 2 cores they share with the server), then
makes M calls one after another through the API. For each call it takes the time the
call-next HTTP response arrived and the time the ``ticket.called`` event reached each
stream (``time.monotonic()`` is one system-wide clock on Linux, so the processes compare).

Printed: the per-stream delay (every call × every stream) and the per-call delay until the
*last* stream had it, each as median, p90, p99 and max. A negative delay means the event
reached the stream before the caller had read its own HTTP response.

    .venv/bin/python bench/bench_events.py                 # 200 streams, 200 calls
    .venv/bin/python bench/bench_events.py --clients 50 --calls 50
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

CALLED = re.compile(rb'event: ticket\.called\ndata: \{[^\n]*?"number":"([A-Z0-9]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client_proc(port: int, token: str, n: int, out: Any, stop: Any) -> None:
    """Hold ``n`` streams; report ('ready', k) once all saw the snapshot, then (number, [arrivals])."""
    sel = selectors.DefaultSelector()
    request = (f"GET /api/events?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               "Accept: text/event-stream\r\n\r\n").encode()
    tails: dict[socket.socket, bytes] = {}
    ready: set[socket.socket] = set()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        tails[s] = b""
    pending: dict[str, list[float]] = {}
    reported_ready = False
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj  # type: ignore[assignment]
            try:
                data = s.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            now = time.monotonic()
            if not data:
                sel.unregister(s)
                continue
            buf = tails[s] + data  # type: ignore[index]
            if s not in ready and b"event: snapshot" in buf:
                ready.add(s)  # type: ignore[arg-type]
            for m in CALLED.finditer(buf):
                if m.end() > len(tails[s]):  # type: ignore[index]
                    pending.setdefault(m.group(1).decode(), []).append(now)
            tails[s] = buf[-400:]  # type: ignore[index]
        if not reported_ready and len(ready) == n:
            out.put(("ready", n))
            reported_ready = True
        for number in [k for k, v in pending.items() if len(v) >= n]:
            out.put((number, pending.pop(number)))
    for s in list(tails):
        s.close()


def pct(values: list[float], p: float) -> float:
    xs = sorted(values)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--procs", type=int, default=2, help="client processes")
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--threads", type=int, default=64, help="server threads (for the API; streams hold none)")
    ap.add_argument("--workers", type=int, default=1, help="server processes (queue-server serve --workers)")
    ap.add_argument("--gap", type=float, default=0.05, help="seconds between calls")
    args = ap.parse_args()

    import requests

    from queue_server import queue as engine
    from queue_server.demo import make_hall
    from queue_server.migrations import open_db

    tmp = Path(tempfile.mkdtemp(prefix="bench-events-"))
    db_path = tmp / "hall.db"
    db = open_db(db_path)
    hall = make_hall(db, windows=4, tokens=True, appointments=0)
    for i in range(args.calls + 5):
        engine.issue_ticket(db, ("ZH01", "SB01", "QY01", "GJ01")[i % 4])
    db.conn.close()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "queue_server.cli", "serve", "--db", str(db_path), "--port", str(port),
         "--threads", str(args.threads), "--workers", str(args.workers)],
        cwd=str(ROOT),
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    stop = mp.Event()
    try:
        for _ in range(100):
            try:
                if requests.get(url + "/api/health", timeout=0.5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        out: Any = mp.Queue()
        per = [args.clients // args.procs + (1 if i < args.clients % args.procs else 0) for i in range(args.procs)]
        procs = [mp.Process(target=client_proc, args=(port, hall["tokens"]["display"], k, out, stop), daemon=True)
                 for k in per]
        for p in procs:
            p.start()
        ready = 0
        deadline = time.monotonic() + 60
        while ready < args.clients and time.monotonic() < deadline:
            try:
                kind, k = out.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if kind == "ready":
                ready += k
        if ready < args.clients:
            raise SystemExit(f"not all {args.clients} streams got their snapshot within 60 s "
                             "(SSE_MAX_STREAMS or the open-files limit too low?)")
        time.sleep(0.5)

        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {hall['tokens']['admin']}"
        per_stream: list[float] = []
        per_call: list[float] = []
        http_ms: list[float] = []
        for _ in range(args.calls):
            t0 = time.monotonic()
            r = session.post(f"{url}/api/windows/1/call-next", json={"confirm": True}, timeout=10)
            t_resp = time.monotonic()
            r.raise_for_status()
            http_ms.append((t_resp - t0) * 1000)
            number = r.json()["number"]
            arrivals: list[float] = []
            got = 0
            while got < len(procs):
                key, times = out.get(timeout=10)
                if key != number:
                    raise SystemExit(f"out of order: expected {number}, got {key}")
                arrivals.extend(times)
                got += 1
            delays = [(a - t_resp) * 1000 for a in arrivals]
            per_stream.extend(delays)
            per_call.append(max(delays))
            time.sleep(args.gap)
        stop.set()
        for p in procs:
            p.join(5)
    finally:
        stop.set()
        server.terminate()
        server.wait(10)

    print(f"bench_events: {args.clients} SSE streams ({args.procs} client processes), {args.calls} calls, "
          f"waitress --threads {args.threads} --workers {args.workers}, {os.cpu_count()} CPUs")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          "(other work on the machine shows up in the tails)")
    print(f"{'measure':44} {'median':>8} {'p90':>8} {'p99':>8} {'max':>8}  (ms)")
    for name, xs in (
        ("call-next HTTP round trip", http_ms),
        ("response → event, each stream", per_stream),
        ("response → event at the LAST stream, per call", per_call),
    ):
        print(f"{name:44} {statistics.median(xs):8.1f} {pct(xs, 90):8.1f} {pct(xs, 99):8.1f} {max(xs):8.1f}")


if __name__ == "__main__":
    main()
