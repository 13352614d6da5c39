"""Device health costs: a heartbeat, and the reads of a hall with many devices.

A hall of ``--kiosks`` kiosks (5 components each) and ``--displays`` display pages, each with
its own token, beating through the Flask app (no network); 30 days of history behind them.
Times:

* ``POST /api/devices/heartbeat`` with nothing changed (the common beat: one write
  transaction, the stale sweep, the actions check);
* the same with a component changing state (history rows and a ``device.state_changed`` event);
* ``GET /api/devices`` (the exact list), ``GET /api/devices/overview`` (what /tech polls every
  5 s), ``GET /api/devices/summary?window=3`` (what every clerk console polls every 30 s),
  ``GET /api/devices/<name>`` (one device with its history);
* the kiosk's own round: ``DeviceWatcher.check()`` against the loopback ESC/POS printer
  simulator (DLE EOT on the open connection) and the SAM reader simulator on a pty.

Printed: median and p99 in milliseconds over the runs. A hall beats kiosks × 1/20 s +
displays × 1/20 s; 60 devices → 3 beats a second.

    .venv/bin/python bench/bench_devices.py
    .venv/bin/python bench/bench_devices.py --kiosks 40 --displays 40 --runs 300
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def timed(fn: Callable[[int], object], runs: int) -> list[float]:
    out = []
    for i in range(runs):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--kiosks", type=int, default=30)
    ap.add_argument("--displays", type=int, default=30)
    ap.add_argument("--runs", type=int, default=300)
    args = ap.parse_args()

    from queue_server import create_app
    from queue_server.auth import create_token
    from queue_server.demo import make_hall
    from queue_server.migrations import open_db

    tmp = Path(tempfile.mkdtemp(prefix="bench-devices-"))
    path = tmp / "hall.db"
    db = open_db(path)
    now = [time.time() - 30 * 86400]

    def clock() -> float:
        return now[0]

    hall = make_hall(db, clock=clock, tokens=True, appointments=0)
    kiosks = {f"kiosk-{i:02d}": create_token(db, "kiosk", f"kiosk-{i:02d}") for i in range(args.kiosks)}
    displays = {f"screen-{i:02d}": create_token(db, "display", f"screen-{i:02d}") for i in range(args.displays)}
    app = create_app({"DB_PATH": str(path), "CLOCK": clock})
    client = app.test_client()
    tech = {"Authorization": f"Bearer {hall['tokens']['technician']}"}
    clerk = {"Authorization": f"Bearer {hall['tokens']['clerk']}"}

    def components(state: str = "ok") -> list[dict[str, Any]]:
        return [{"kind": "printer", "name": "tcp://10.0.0.31:9100", "state": state, "detail": "纸将用完 / paper near end"
                 if state == "warning" else "正常 / ready"},
                {"kind": "idcard", "name": "serial:///dev/ttyUSB0", "state": "ok", "detail": "SAM 0001, no card"},
                {"kind": "camera", "name": "/dev/video0", "state": "ok", "detail": "640×480"},
                {"kind": "scanner", "name": "/dev/ttyACM0", "state": "ok", "detail": "port opens at 9600 baud"},
                {"kind": "voice", "name": "espeak-ng", "state": "ok", "detail": "espeak-ng + aplay"}]

    def beat(name: str, token: str, kind: str, state: str = "ok") -> None:
        body = {"name": name, "kind": kind, "version": "0.1.0", "uptime_s": 3600, "disk_free_mb": 5000,
                "components": components(state) if kind == "kiosk" else []}
        r = client.post("/api/devices/heartbeat", json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.json

    # 30 days of history: every kiosk's printer warns and recovers twice a day.
    t0 = time.perf_counter()
    for _day in range(30):
        for half in (0, 1):
            for name, token in kiosks.items():
                beat(name, token, "kiosk", "warning" if half else "ok")
            for name, token in displays.items():
                beat(name, token, "display")
            now[0] += 43200
    now[0] = time.time()
    history = db.conn.execute("SELECT COUNT(*) FROM device_history").fetchone()[0]
    print(f"hall: {args.kiosks} kiosks, {args.displays} displays, {history} history rows "
          f"(built in {time.perf_counter() - t0:.1f} s)")

    names = list(kiosks)

    def steady(i: int) -> None:
        name = names[i % len(names)]
        now[0] += 0.01
        beat(name, kiosks[name], "kiosk", "ok")

    flip = {"n": 0}

    def changing(i: int) -> None:
        name = names[i % len(names)]
        now[0] += 0.01
        flip["n"] += 1
        beat(name, kiosks[name], "kiosk", "warning" if (i // len(names)) % 2 == 0 else "ok")

    for name in names:  # all ok first, so the first round of `changing` changes every one
        beat(name, kiosks[name], "kiosk", "ok")

    def get(path: str, headers: dict[str, str]) -> Callable[[int], object]:
        def run(_i: int) -> None:
            r = client.get(path, headers=headers)
            assert r.status_code == 200
        return run

    rows = [
        ("heartbeat, nothing changed", timed(steady, args.runs)),
        ("heartbeat, a component changed", timed(changing, args.runs)),
        ("GET /api/devices", timed(get("/api/devices", tech), args.runs)),
        ("GET /api/devices/overview", timed(get("/api/devices/overview", tech), args.runs)),
        ("GET /api/devices/summary?window=3", timed(get("/api/devices/summary?window=3", clerk), args.runs)),
        ("GET /api/devices/<name> (history)", timed(get(f"/api/devices/{names[0]}", tech), args.runs)),
    ]
    rows.append(("kiosk watcher check (printer + reader)", _watcher_round(min(args.runs, 200))))
    print(f"{'what':44} {'median ms':>10} {'p99 ms':>8} {'runs':>6}")
    for what, values in rows:
        print(f"{what:44} {statistics.median(values):10.2f} {pct(values, 99):8.2f} {len(values):6d}")


def _watcher_round(runs: int) -> list[float]:
    """The kiosk's own check: DLE EOT on the loopback printer, SAM probe on the pty reader."""
    from hardware.printer.sim import SimulatedNetworkPrinter
    from kiosk.config import from_dict
    from kiosk.flows.printer import KioskPrinter
    from kiosk.flows.session import Kiosk
    from kiosk.voice import SilentSpeaker

    with SimulatedNetworkPrinter() as printer:
        cfg = from_dict({"printer": {"url": printer.url}, "idcard": {"driver": "sim"}, "scanner": {"mode": "none"}})
        kiosk = Kiosk(cfg, printer=KioskPrinter.from_config(cfg.section("printer")), speaker=SilentSpeaker())
        try:
            kiosk.devices.check()
            return timed(lambda _i: kiosk.devices.check(), runs)
        finally:
            kiosk.card_reader.close()
            kiosk.printer.close()


if __name__ == "__main__":
    main()
