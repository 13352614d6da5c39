"""Queue server benchmark: issue and call-next over loopback HTTP.

Starts ``queue-server serve`` on a fresh demo hall and drives it with a cheap load
generator (several processes, each with persistent keep-alive connections on raw
sockets and pre-encoded requests, so the client steals as little CPU as possible from
the server on a small machine). Scenarios:

* issue, 1 client and 20 clients, as fast as they can (saturation);
* issue, 20 clients together at a fixed 50 tickets/s (latency at a busy hall's rush ×25):
  20 keep-alive connections paced by one selector thread, each sending every 0.4 s;
* call-next, 1 and 20 clients, on a hall with thousands of waiting tickets;
* controls for the paced scenario: the same load on ``GET /api/health`` (waitress + Flask,
  no database work) and against a trivial one-thread echo server (no Python web stack),
  so the contributions of the machine and of the web server to the tail are visible.

Each scenario runs ``--runs`` times; the table shows the median throughput of the runs
and the median and p99 latency over all requests of all runs.

    .venv/bin/python bench/bench_queue.py                 # defaults: 2 workers, 3 runs × 4 s
    .venv/bin/python bench/bench_queue.py --workers 1 --seconds 2 --runs 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class RawClient:
    """A minimal HTTP/1.1 keep-alive client: send pre-encoded bytes, read one response."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def roundtrip(self, request: bytes) -> tuple[int, bytes]:
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            rest += chunk
        self.buf = rest[length:]
        if b"\r\nconnection: close" in head.lower():
            # waitress closes the connection after a 204 (no Content-Length): reconnect now.
            self.sock.close()
            self.__init__(self.port)  # type: ignore[misc]
        return status, rest[:length]


def build_request(method: str, path: str, token: str, body: dict | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def _client_proc(port: int, requests: list[bytes], n_conns: int, seconds: float, rate: float | None,
                 start_at: float, out: mp.Queue) -> None:
    """One load process: ``n_conns`` connections, each in its own thread."""
    import threading

    results: list[tuple[float, int]] = []
    lock = threading.Lock()

    def run(idx: int) -> None:
        c = RawClient(port)
        rng = random.Random(idx)
        local: list[tuple[float, int]] = []
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        nxt = start_at + (rng.random() / rate if rate else 0)
        i = idx
        while True:
            if rate:
                delay = nxt - time.time()
                if delay > 0:
                    time.sleep(delay)
                nxt += 1.0 / rate
            if time.time() >= end:
                break
            req = requests[i % len(requests)]
            i += n_conns
            t0 = time.perf_counter()
            try:
                status, _ = c.roundtrip(req)
            except OSError:  # the server closed a keep-alive connection: count it, reconnect
                status = 0
                c = RawClient(port)
            local.append((time.perf_counter() - t0, status))
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n_conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((results, time.process_time()))


def _parse_response(buf: bytes) -> tuple[int, int] | None:
    """(status, bytes used) of the first complete response in ``buf``, or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if len(buf) < end + 4 + length:
        return None
    return int(head[9:12]), end + 4 + length


def _paced_proc(port: int, requests: list[bytes], n_conns: int, seconds: float, rate_total: float,
                start_at: float, out: mp.Queue) -> None:
    """Fixed-rate load from ONE thread: ``n_conns`` keep-alive connections on a selector,
    each sending a request every ``n_conns / rate_total`` seconds (random phase). One
    thread means a response is timed the moment it arrives, never after a sibling
    client's GIL slice."""
    import selectors

    period = n_conns / rate_total
    rng = random.Random(1)
    sel = selectors.DefaultSelector()
    state = []
    for k in range(n_conns):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        st = {"sock": sock, "buf": b"", "t0": None, "next": start_at + rng.random() * period, "i": k}
        sel.register(sock, selectors.EVENT_READ, st)
        state.append(st)
    results: list[tuple[float, int]] = []
    end = start_at + seconds
    while True:
        now = time.time()
        if now >= end and all(st["t0"] is None for st in state):
            break
        for st in state:
            if st["t0"] is None and st["next"] <= now < end:
                st["sock"].send(requests[st["i"] % len(requests)])
                st["i"] += n_conns
                st["t0"] = time.perf_counter()
                st["next"] += period
        idle = [st["next"] for st in state if st["t0"] is None and st["next"] < end]
        timeout = max(0.0, min(idle) - time.time()) if idle else 0.05
        for key, _ in sel.select(min(timeout, 0.05)):
            st = key.data
            chunk = st["sock"].recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            st["buf"] += chunk
            parsed = _parse_response(st["buf"])
            if parsed is not None and st["t0"] is not None:
                results.append((time.perf_counter() - st["t0"], parsed[0]))
                st["buf"] = st["buf"][parsed[1]:]
                st["t0"] = None
    for st in state:
        st["sock"].close()
    out.put((results, time.process_time()))


def drive(port: int, requests: list[bytes], clients: int, seconds: float, rate_total: float | None = None,
          procs: int = 4) -> tuple[float, list[float], dict[int, int], float]:
    """Run ``clients`` connections for ``seconds``; returns (req/s, latencies, status counts,
    CPU seconds the load generator used)."""
    procs = max(1, min(procs, clients))
    out: mp.Queue = mp.Queue()
    start_at = time.time() + 0.3
    ps = []
    if rate_total:
        p = mp.Process(target=_paced_proc, args=(port, requests, clients, seconds, rate_total, start_at, out))
        p.start()
        ps.append(p)
    else:
        per = [clients // procs + (1 if k < clients % procs else 0) for k in range(procs)]
        offset = 0
        for n in per:
            reqs = requests[offset:] + requests[:offset]
            offset += n
            p = mp.Process(target=_client_proc, args=(port, reqs, n, seconds, None, start_at, out))
            p.start()
            ps.append(p)
    results: list[tuple[float, int]] = []
    client_cpu = 0.0
    for _ in ps:
        got, cpu = out.get()
        results.extend(got)
        client_cpu += cpu
    for p in ps:
        p.join()
    lat = [r[0] for r in results]
    statuses: dict[int, int] = {}
    for _, s in results:
        statuses[s] = statuses.get(s, 0) + 1
    return len(results) / seconds, lat, statuses, client_cpu


def process_tree_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children (the server's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            todo.extend(int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split())
        except (OSError, IndexError, ValueError):
            continue
    return total


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def _echo_server(sock: socket.socket) -> None:
    """Control: a one-thread selector server answering every request with an empty 200.
    Paced through it, the load generator measures what the machine itself adds (wake-ups,
    scheduling) to a loopback round trip with no application code."""
    import selectors

    sel = selectors.DefaultSelector()
    sock.setblocking(False)
    sel.register(sock, selectors.EVENT_READ, None)
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    bufs: dict[socket.socket, bytes] = {}
    while True:
        for key, _ in sel.select():
            if key.data is None:
                conn, _ = sock.accept()
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(conn, selectors.EVENT_READ, "c")
                bufs[conn] = b""
                continue
            conn = key.fileobj  # type: ignore[assignment]
            data = conn.recv(65536)
            if not data:
                sel.unregister(conn)
                conn.close()
                continue
            buf = bufs[conn] + data
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                length = 0
                for line in buf[:end].split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if len(buf) < end + 4 + length:
                    break
                buf = buf[end + 4 + length:]
                conn.send(reply)
            bufs[conn] = buf


def control_row(reqs: list[bytes], args: argparse.Namespace) -> dict:
    """The paced scenario against the echo server instead of the queue server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    proc = mp.Process(target=_echo_server, args=(sock,), daemon=True)
    proc.start()
    try:
        return run_scenario(port, proc.pid or 0, "control: echo", 20, 50.0, reqs, args)
    finally:
        proc.terminate()
        proc.join()
        sock.close()


def wait_ready(port: int, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = RawClient(port)
            status, _ = c.roundtrip(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            if status == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2, help="server processes (serve --workers)")
    ap.add_argument("--threads", type=int, default=32, help="threads per server process")
    ap.add_argument("--seconds", type=float, default=4.0, help="duration of one run")
    ap.add_argument("--runs", type=int, default=3, help="runs per scenario")
    ap.add_argument("--load-procs", type=int, default=4, help="load generator processes")
    ap.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")
    ap.add_argument("--only", choices=["issue", "paced", "call-next"], action="append",
                    help="run only these scenarios (repeatable)")
    args = ap.parse_args()

    from queue_server.demo import make_hall
    from queue_server.migrations import open_db
    from queue_server.settings import set_setting

    tmp = tempfile.mkdtemp(prefix="bench-queue-")
    db_path = os.path.join(tmp, "hall.db")
    db = open_db(db_path)
    made = make_hall(db, tokens=True, appointments=0)
    # No end-of-day report: after closing time a fresh server writes the day's report at
    # start (seconds of one core on the PDF), which would land in the first scenario.
    set_setting(db, "admin.report_time", "")
    db.conn.close()
    tokens = made["tokens"]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "queue_server.cli", "serve", "--db", db_path, "--port", str(port),
         "--workers", str(args.workers), "--threads", str(args.threads)],
        cwd=str(ROOT), env=dict(os.environ, PYTHONPATH=str(ROOT)), stderr=subprocess.DEVNULL,
    )
    rows = []
    try:
        wait_ready(port)
        services = [s for s in made["services"] if s not in ("BD01", "BD02", "BD04", "HZ03")]
        issue_reqs = [build_request("POST", "/api/tickets", tokens["kiosk"], {"service": s}) for s in services]
        # Warm-up: connections, caches, the first ticket of the day.
        drive(port, issue_reqs, 4, 1.0, procs=2)

        only = set(args.only or ["issue", "paced", "call-next"])
        scenarios = [
            ("issue", "issue", 1, None, issue_reqs),
            ("issue", "issue", 20, None, issue_reqs),
            ("paced", "issue @50/s", 20, 50.0, issue_reqs),
        ]
        for kind, name, clients, rate, reqs in scenarios:
            if kind in only:
                rows.append(run_scenario(port, server.pid, name, clients, rate, reqs, args))
        if "paced" in only:
            health = [b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"]
            rows.append(run_scenario(port, server.pid, "health @50/s", 20, 50.0, health, args))
            rows.append(control_row(issue_reqs, args))

        windows = made["windows"]
        call_reqs = [build_request("POST", f"/api/windows/{w}/call-next", tokens["admin"], {"confirm": True}) for w in windows]
        if "call-next" in only:
            if "issue" not in only:  # something to call
                drive(port, issue_reqs, 20, 3.0, procs=args.load_procs)
            for clients in (1, 20):
                rows.append(run_scenario(port, server.pid, "call-next", clients, None, call_reqs, args))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print_table(rows, args)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=1))


def run_scenario(port: int, server_pid: int, name: str, clients: int, rate: float | None, reqs: list[bytes],
                 args: argparse.Namespace) -> dict:
    rates, lats = [], []
    statuses: dict[int, int] = {}
    server_cpu = client_cpu = 0.0
    procs = args.load_procs
    for _ in range(args.runs):
        cpu0 = process_tree_cpu(server_pid)
        r, lat, st, ccpu = drive(port, reqs, clients, args.seconds, rate, procs=procs)
        server_cpu += process_tree_cpu(server_pid) - cpu0
        client_cpu += ccpu
        rates.append(r)
        lats.extend(lat)
        for k, v in st.items():
            statuses[k] = statuses.get(k, 0) + v
    n = max(1, len(lats))
    return {
        "scenario": name, "clients": clients, "req_per_s": statistics.median(rates),
        "median_ms": pct(lats, 50) * 1000, "p99_ms": pct(lats, 99) * 1000,
        "requests": len(lats), "statuses": statuses,
        "server_cpu_ms": server_cpu / n * 1000, "client_cpu_ms": client_cpu / n * 1000,
    }


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    print(f"queue server: {args.workers} worker process(es) × {args.threads} threads; "
          f"{args.runs} runs × {args.seconds:g} s per scenario; {os.cpu_count()} CPUs shared with the load generator")
    try:
        load = Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        load = "?"
    print(f"load average at the end: {load} (other work on the machine inflates latency)")
    print(f"{'scenario':<14}{'clients':>8}{'req/s':>9}{'median ms':>11}{'p99 ms':>9}{'srv CPU ms':>12}"
          f"{'cli CPU ms':>12}{'requests':>10}  statuses")
    for r in rows:
        st = ",".join(f"{k}:{v}" for k, v in sorted(r["statuses"].items()))
        print(f"{r['scenario']:<14}{r['clients']:>8}{r['req_per_s']:>9.0f}{r['median_ms']:>11.2f}"
              f"{r['p99_ms']:>9.2f}{r['server_cpu_ms']:>12.2f}{r['client_cpu_ms']:>12.2f}{r['requests']:>10}  {st}")
    print("srv/cli CPU ms = CPU time per request of the server processes / of the load generator;")
    print(f"on an otherwise idle machine issue throughput is bounded by {os.cpu_count()} cores ÷ their sum.")


if __name__ == "__main__":
    main()
