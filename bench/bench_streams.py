"""Display streams per process: streams held with memory, a reconnect storm, fan-out latency.

Runs the real server (``queue-server serve``, one process) on a loopback port with a fresh
demo hall and drives it from client processes that hold many ``/api/events`` streams on
raw non-blocking sockets in one ``selectors`` loop each (no thread per screen):

1. **Held.** ``--hold`` screens (default 1,000) connect; the time until every one has its
   snapshot, and the server's resident memory (``VmRSS`` from ``/proc``) before and with
   them all open.
2. **Fan-out.** ``--calls`` calls through ``POST /api/windows/1/call-next``, 50 ms apart;
   the delay from the call's HTTP response to the ``ticket.called`` event on each held
   stream, and to the *last* of them (``time.monotonic()`` is one clock for all processes).
3. **Closed.** The held screens go; how long until ``/api/events/stats`` shows none left.
4. **Storm.** ``--storm`` screens (default 300) for ``--seconds`` (default 180) each connect,
   stay 0.2–2 s, drop the connection (half of them with a reset) and connect again at
   once, while a clerk calls every ``--storm-call-gap`` s. Connect latency = from the TCP
   connect to the snapshot on screen; refused = 503 ``too_many_streams`` or a failed
   connection. After it: how long until no stream is left, and the memory 2 s later.

``--json`` prints the figures as one JSON object (the test suite's storm test uses it).

    .venv/bin/python bench/bench_streams.py                      # 1,000 held, 300 × 3 min storm
    .venv/bin/python bench/bench_streams.py --seconds 30 --calls 50
    .venv/bin/python bench/bench_streams.py --root /work/main    # the same against another tree
"""

from __future__ import annotations

import argparse
import errno
import json
import multiprocessing as mp
import os
import queue
import random
import re
import selectors
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

CALLED = re.compile(rb'event: ticket\.called\ndata: \{[^\n]*?"number":"([A-Z0-9]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_nofile(want: int) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of ``pid`` in MB: ``VmRSS`` (all), or ``RssAnon`` (the process's own
    memory, without the database file's pages that each connection's mmap counts again)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], p: float) -> float:
    xs = sorted(values)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def _request(port: int, token: str) -> bytes:
    return (f"GET /api/events?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Accept: text/event-stream\r\n\r\n").encode()


def _open(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    err = s.connect_ex(("127.0.0.1", port))
    if err not in (0, errno.EINPROGRESS):
        s.close()
        raise OSError(err, os.strerror(err))
    return s


def hold_proc(port: int, token: str, n: int, out: Any, release: Any, stop: Any) -> None:
    """Hold ``n`` streams: ('ready', n, seconds) once all saw the snapshot, then
    (number, [arrival times]) per call; close them all when ``release`` is set."""
    raise_nofile(n + 256)
    sel = selectors.DefaultSelector()
    req = _request(port, token)
    tails: dict[socket.socket, bytes] = {}
    ready: set[socket.socket] = set()
    t0 = time.monotonic()
    for i in range(n):
        s = _open(port)
        sel.register(s, selectors.EVENT_WRITE)
        tails[s] = b""
        if i % 50 == 49:
            time.sleep(0.005)  # keep within the listen backlog
    pending: dict[str, list[float]] = {}
    reported = False
    while not stop.is_set():
        if release.is_set():
            for s in list(tails):
                s.close()
            tails.clear()
            out.put(("released", n, 0.0))
            release.clear()
            break
        for key, mask in sel.select(timeout=0.1):
            s = key.fileobj  # type: ignore[assignment]
            if mask & selectors.EVENT_WRITE:
                try:
                    s.send(req)  # type: ignore[union-attr]
                except OSError:
                    sel.unregister(s)
                    continue
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(65536)  # type: ignore[union-attr]
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
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
        if not reported and len(ready) == n:
            out.put(("ready", n, time.monotonic() - t0))
            reported = True
        for number in [k for k, v in pending.items() if len(v) >= n]:
            out.put((number, pending.pop(number), 0.0))
    for s in list(tails):
        s.close()


class _Screen:
    __slots__ = ("sock", "t0", "buf", "state", "until")

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.t0 = 0.0
        self.buf = b""
        self.state = "idle"  # idle → connecting → waiting → holding → idle
        self.until = 0.0


def storm_proc(port: int, token: str, n: int, seconds: float, hold: tuple[float, float], out: Any,
               seed: int) -> None:
    """``n`` screens connecting, holding a while, dropping, reconnecting for ``seconds``;
    reports ('storm', {latencies, refused, failed, ok}) and closes everything."""
    raise_nofile(n + 256)
    rnd = random.Random(seed)
    sel = selectors.DefaultSelector()
    req = _request(port, token)
    screens = [_Screen() for _ in range(n)]
    for sc in screens:
        sc.until = time.monotonic() + rnd.uniform(0, 1.0)  # stagger the first wave over 1 s
    lat: list[float] = []
    refused = failed = 0
    end = time.monotonic() + seconds

    def drop(sc: _Screen, reset: bool) -> None:
        if sc.sock is not None:
            try:
                sel.unregister(sc.sock)
            except (KeyError, ValueError):
                pass
            if reset:
                sc.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sc.sock.close()
            sc.sock = None
        sc.buf = b""
        sc.state = "idle"

    while True:
        now = time.monotonic()
        if now >= end:
            break
        for sc in screens:
            if sc.state == "idle" and now >= sc.until:
                try:
                    sc.sock = _open(port)
                except OSError:
                    failed += 1
                    sc.until = now + 0.5
                    continue
                sc.t0 = now
                sc.state = "connecting"
                sel.register(sc.sock, selectors.EVENT_WRITE, sc)
            elif sc.state == "holding" and now >= sc.until:
                drop(sc, reset=rnd.random() < 0.5)
                sc.until = now  # reconnect at once, as EventSource does after a drop
            elif sc.state in ("connecting", "waiting") and now - sc.t0 > 30:
                drop(sc, reset=True)
                failed += 1
                sc.until = now
        for key, _mask in sel.select(timeout=0.02):
            sc = key.data
            assert sc.sock is not None
            if sc.state == "connecting":
                err = sc.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    drop(sc, reset=False)
                    failed += 1
                    sc.until = time.monotonic() + 0.5
                    continue
                try:
                    sc.sock.send(req)
                except OSError:
                    drop(sc, reset=False)
                    failed += 1
                    sc.until = time.monotonic() + 0.5
                    continue
                sc.state = "waiting"
                sel.modify(sc.sock, selectors.EVENT_READ, sc)
                continue
            try:
                data = sc.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            t = time.monotonic()
            if not data:
                if sc.state == "waiting":
                    failed += 1
                drop(sc, reset=False)
                sc.until = t + 0.5
                continue
            if sc.state == "waiting":
                sc.buf += data
                if b"event: snapshot" in sc.buf:
                    lat.append(t - sc.t0)
                    sc.state = "holding"
                    sc.buf = b""
                    sc.until = t + rnd.uniform(*hold)
                elif sc.buf.startswith(b"HTTP/1.1 503") or sc.buf.startswith(b"HTTP/1.0 503"):
                    refused += 1
                    drop(sc, reset=False)
                    sc.until = t + 1.0  # the page retries with back-off; 1 s here
    for sc in screens:
        drop(sc, reset=False)
    out.put(("storm", {"latencies": lat, "refused": refused, "failed": failed}, 0.0))


class Hall:
    """A fresh demo hall served by ``queue-server serve`` from ``root``."""

    def __init__(self, root: Path, tickets: int, threads: int):
        from queue_server import queue as engine
        from queue_server.demo import make_hall
        from queue_server.migrations import open_db

        self.tmp = Path(tempfile.mkdtemp(prefix="bench-streams-"))
        db_path = self.tmp / "hall.db"
        db = open_db(db_path)
        self.hall = make_hall(db, windows=4, tokens=True, appointments=0)
        for i in range(tickets):
            engine.issue_ticket(db, ("ZH01", "SB01", "QY01", "GJ01")[i % 4])
        db.conn.close()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "queue_server.cli", "serve", "--db", str(db_path), "--port", str(self.port),
             "--threads", str(threads)],
            cwd=str(root), env=dict(os.environ, PYTHONPATH=str(root)),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import requests

        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.hall['tokens']['admin']}"
        for _ in range(200):
            try:
                if self.session.get(self.url + "/api/health", timeout=0.5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)

    @property
    def display(self) -> str:
        return str(self.hall["tokens"]["display"])

    def streams(self) -> int:
        return int(self.session.get(self.url + "/api/events/stats", timeout=10).json()["streams"])

    def call(self) -> tuple[str | None, float]:
        # confirm: calls come faster than the repeat guard (call_repeat_guard_seconds) allows
        r = self.session.post(f"{self.url}/api/windows/1/call-next", json={"confirm": True}, timeout=10)
        t = time.monotonic()
        r.raise_for_status()
        return (r.json()["number"] if r.status_code == 200 else None), t

    def warm(self, threads: int) -> None:
        """``threads`` API requests at once, a few times: the whole waitress pool has worked."""
        import requests

        def one() -> None:
            with requests.Session() as s:
                s.headers["Authorization"] = self.session.headers["Authorization"]
                for _ in range(4):
                    s.get(self.url + "/api/events/stats", timeout=30)

        ts = [threading.Thread(target=one) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def wait_streams(self, want: int, timeout: float) -> float:
        """Seconds until the server holds ``want`` streams (nan if not within ``timeout``)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.streams() == want:
                return time.monotonic() - t0
            time.sleep(0.05)
        return float("nan")

    def rss(self) -> float:
        return rss_mb(self.proc.pid)

    def anon(self) -> float:
        return rss_mb(self.proc.pid, "RssAnon")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.root).resolve()
    storm_calls = int(args.seconds / args.storm_call_gap) + 5 if args.storm else 0
    hall = Hall(root, args.calls + storm_calls + 10, args.threads)
    res: dict[str, Any] = {"hold": args.hold, "calls": args.calls, "storm": args.storm, "seconds": args.seconds,
                           "cpus": os.cpu_count(), "load_start": os.getloadavg()[0]}
    stop = mp.Event()
    procs: list[mp.Process] = []
    try:
        out: Any = mp.Queue()
        # warm-up: one stream, so the start figure includes the hub and the first snapshot
        warm = mp.Event()
        p = mp.Process(target=hold_proc, args=(hall.port, hall.display, 1, out, warm, stop), daemon=True)
        p.start()
        out.get(timeout=30)
        warm.set()
        out.get(timeout=30)
        p.join(5)
        hall.wait_streams(0, 10)
        time.sleep(0.5)
        res["rss_fresh_mb"], res["anon_fresh_mb"] = hall.rss(), hall.anon()
        hall.warm(args.threads)  # every worker thread has served a request (its connection, its heap)
        time.sleep(0.5)
        res["rss_start_mb"] = hall.rss()
        res["anon_start_mb"] = hall.anon()

        if args.hold:
            release = mp.Event()
            per = [args.hold // args.procs + (1 if i < args.hold % args.procs else 0) for i in range(args.procs)]
            procs = [mp.Process(target=hold_proc, args=(hall.port, hall.display, k, out, release, stop), daemon=True)
                     for k in per if k]
            for p in procs:
                p.start()
            ready, took = 0, 0.0
            deadline = time.monotonic() + 120
            while ready < args.hold and time.monotonic() < deadline:
                try:
                    kind, k, secs = out.get(timeout=max(0.1, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if kind == "ready":
                    ready += k
                    took = max(took, secs)
            res["held"] = ready
            res["held_streams_server"] = hall.streams()
            res["hold_connect_all_s"] = took
            time.sleep(1.0)
            res["rss_held_mb"] = hall.rss()
            res["anon_held_mb"] = hall.anon()
            if ready == args.hold and args.calls:
                per_stream: list[float] = []
                per_call: list[float] = []
                for _ in range(args.calls):
                    number, t_resp = hall.call()
                    arrivals: list[float] = []
                    got = 0
                    while got < len(procs):
                        key, times, _ = out.get(timeout=20)
                        if key != number:
                            raise SystemExit(f"out of order: expected {number}, got {key}")
                        arrivals.extend(times)
                        got += 1
                    delays = [(a - t_resp) * 1000 for a in arrivals]
                    per_stream.extend(delays)
                    per_call.append(max(delays))
                    time.sleep(0.05)
                res["fanout_each_ms"] = per_stream
                res["fanout_last_ms"] = per_call
            for _ in procs:
                release.set()
                kind, _k, _s = out.get(timeout=30)
                while kind != "released":
                    kind, _k, _s = out.get(timeout=30)
            res["hold_gone_s"] = hall.wait_streams(0, 30)
            for p in procs:
                p.join(5)
            time.sleep(2.0)
            res["rss_after_hold_mb"] = hall.rss()
            res["anon_after_hold_mb"] = hall.anon()

        if args.storm:
            per = [args.storm // args.procs + (1 if i < args.storm % args.procs else 0) for i in range(args.procs)]
            sprocs = [mp.Process(target=storm_proc, args=(hall.port, hall.display, k, args.seconds,
                                                          (args.hold_min, args.hold_max), out, i), daemon=True)
                      for i, k in enumerate(per) if k]
            peak = [0.0, 0.0]
            storm_done = threading.Event()

            def clerk() -> None:
                while not storm_done.wait(args.storm_call_gap):
                    try:
                        hall.call()
                    except Exception:  # noqa: BLE001 - a bench: keep storming
                        pass
                    peak[0] = max(peak[0], hall.rss())
                    peak[1] = max(peak[1], hall.anon())

            t = threading.Thread(target=clerk, daemon=True)
            for p in sprocs:
                p.start()
            t.start()
            lat: list[float] = []
            refused = failed = 0
            for _ in sprocs:
                kind, d, _s = out.get(timeout=args.seconds + 120)
                lat += d["latencies"]
                refused += d["refused"]
                failed += d["failed"]
            storm_done.set()
            t.join(5)
            for p in sprocs:
                p.join(5)
            res["storm_connects"] = len(lat)
            res["storm_refused"] = refused
            res["storm_failed"] = failed
            res["storm_connect_ms"] = [x * 1000 for x in lat]
            res["storm_rss_peak_mb"] = max(peak[0], hall.rss())
            res["storm_anon_peak_mb"] = max(peak[1], hall.anon())
            res["storm_gone_s"] = hall.wait_streams(0, 60)
            time.sleep(2.0)
            res["rss_after_storm_mb"] = hall.rss()
            res["anon_after_storm_mb"] = hall.anon()
    finally:
        stop.set()
        for p in procs:
            p.join(2)
        hall.close()
    res["load_end"] = os.getloadavg()[0]
    return res


def summary(res: dict[str, Any]) -> dict[str, Any]:
    """The figures without the raw samples (medians and tails)."""
    out = {k: v for k, v in res.items() if not isinstance(v, list)}
    for key in ("fanout_each_ms", "fanout_last_ms", "storm_connect_ms"):
        xs = res.get(key) or []
        if xs:
            out[key] = {"n": len(xs), "median": statistics.median(xs), "p90": pct(xs, 90), "p99": pct(xs, 99),
                        "max": max(xs)}
    return out


def print_table(s: dict[str, Any]) -> None:
    print(f"bench_streams: queue-server serve (1 process), {s['cpus']} CPUs shared with the load generator; "
          f"load average {s['load_start']:.1f} → {s['load_end']:.1f} (other work on the machine shows in the tails)")
    print(f"{'measure':52} {'n':>6} {'median':>9} {'p90':>9} {'p99':>9} {'max':>9}")
    for key, name in (("fanout_each_ms", "call → event, each held stream (ms)"),
                      ("fanout_last_ms", "call → event at the LAST held stream (ms)"),
                      ("storm_connect_ms", "storm: connect → snapshot (ms)")):
        d = s.get(key)
        if isinstance(d, dict):
            print(f"{name:52} {d['n']:6d} {d['median']:9.1f} {d['p90']:9.1f} {d['p99']:9.1f} {d['max']:9.1f}")
    print()
    def mem(key: str) -> str:
        return f"{s.get('rss_' + key, 0):.0f} MB ({s.get('anon_' + key, 0):.0f} MB)"

    print("memory: server VmRSS (RssAnon: without the database pages every connection's mmap maps again)")
    rows = [("server memory fresh / warm (every thread used): start", f"{mem('fresh_mb')} / {mem('start_mb')}")]
    if s.get("hold"):
        rows += [
            ("streams held (server count)", f"{s.get('held_streams_server', 0)} of {s['hold']}"),
            ("all held streams connected in", f"{s.get('hold_connect_all_s', float('nan')):.1f} s"),
            ("server memory with them held", mem("held_mb")),
            ("… per held stream (RssAnon)",
             f"{(s.get('anon_held_mb', 0) - s['anon_start_mb']) * 1024 / max(1, s['hold']):.1f} KB"),
            ("held streams gone from the server after close", f"{s.get('hold_gone_s', float('nan')):.2f} s"),
            ("server memory 2 s after they closed", mem("after_hold_mb")),
        ]
    if s.get("storm"):
        total = s["storm_connects"] + s["storm_refused"] + s["storm_failed"]
        rows += [
            (f"storm: {s['storm']} screens × {s['seconds']:.0f} s, connects", f"{s['storm_connects']}"),
            ("storm: refused (503) / failed", f"{s['storm_refused']} / {s['storm_failed']} "
                                              f"({100 * (s['storm_refused'] + s['storm_failed']) / max(1, total):.1f} %)"),
            ("storm: server memory peak", f"{s['storm_rss_peak_mb']:.0f} MB ({s['storm_anon_peak_mb']:.0f} MB)"),
            ("storm: streams gone from the server after it", f"{s['storm_gone_s']:.2f} s"),
            ("storm: server memory 2 s after", mem("after_storm_mb")),
        ]
    for name, value in rows:
        print(f"{name:52} {value}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hold", type=int, default=1000, help="streams held at once (0: skip)")
    ap.add_argument("--calls", type=int, default=100, help="calls fanned out to the held streams")
    ap.add_argument("--storm", type=int, default=300, help="screens in the reconnect storm (0: skip)")
    ap.add_argument("--seconds", type=float, default=180.0, help="length of the storm")
    ap.add_argument("--hold-min", type=float, default=0.2, help="storm: shortest stay before dropping (s)")
    ap.add_argument("--hold-max", type=float, default=2.0, help="storm: longest stay before dropping (s)")
    ap.add_argument("--storm-call-gap", type=float, default=0.5, help="storm: seconds between a clerk's calls")
    ap.add_argument("--procs", type=int, default=2, help="client processes")
    ap.add_argument("--threads", type=int, default=64, help="server threads (queue-server serve --threads)")
    ap.add_argument("--root", default=str(ROOT), help="source tree to serve from (compare against another branch)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    res = summary(run(args))
    if args.json:
        print(json.dumps(res))
    else:
        print_table(res)


if __name__ == "__main__":
    main()
