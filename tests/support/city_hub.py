"""Helpers for the city hub's tests and benchmark: the hub (``city-hub serve``) and halls
(``queue-server serve`` with an uplink) as real processes on loopback ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent.parent


def wait_until(fn: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll ``fn`` until it returns something truthy; raise with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class HubProcess:
    """``city-hub serve`` in a subprocess; restartable on the same port."""

    def __init__(self, dsn: str, key_file: Path, port: int, province_dir: Path, threads: int = 16) -> None:
        self.dsn, self.key_file, self.port, self.province_dir = dsn, key_file, port, province_dir
        self.threads = threads
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> HubProcess:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "city_hub.cli", "serve", "--dsn", self.dsn, "--key-file", str(self.key_file),
             "--port", str(self.port), "--threads", str(self.threads), "--province", str(self.province_dir),
             "--province-interval", "0.5"],
            cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"hub exited: {err[-3000:]}")
            try:
                if requests.get(self.url + "/health", timeout=0.5).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("hub did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def hub_cli(*args: str) -> str:
    """Run ``city-hub`` (as a subprocess, like an operator) and return its stdout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "city_hub.cli", *args], cwd=str(ROOT), env=env,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"city-hub {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def hall_cli(*args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "queue_server.cli", *args], cwd=str(ROOT), env=env,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"queue-server {' '.join(args)} failed: {r.stderr}")
    return r.stdout


HALL_NAMES = {"zhangqiu": "章丘区政务服务中心", "changqing": "长清区政务服务中心", "zichuan": "淄川区政务服务中心"}


@dataclass
class Hall:
    code: str
    name: str
    db_path: Path
    port: int
    tokens: dict[str, str]
    services: list[str]
    windows: list[int]
    private_key: str
    server: Any = None
    issued: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, path: str, body: Any = None, role: str = "admin") -> requests.Response:
        return requests.post(self.url + path, json=body if body is not None else {}, timeout=10,
                             headers={"Authorization": f"Bearer {self.tokens[role]}"})

    def issue(self, n: int) -> list[int]:
        ids = []
        for i in range(n):
            r = self.post("/api/tickets", {"service": self.services[i % len(self.services)]}, role="kiosk")
            assert r.status_code == 201, r.text
            ids.append(int(r.json()["id"]))
        self.issued += ids
        return ids

    def serve_all(self) -> int:
        """Call, start and finish every waiting ticket at whatever window takes it."""
        served = 0
        while True:
            progress = False
            for w in self.windows:
                r = self.post(f"/api/windows/{w}/call-next", {"confirm": True})
                if r.status_code == 204:
                    continue
                assert r.status_code == 200, r.text
                tid = r.json()["id"]
                assert self.post(f"/api/tickets/{tid}/start").status_code == 200
                assert self.post(f"/api/tickets/{tid}/finish").status_code == 200
                served += 1
                progress = True
            if not progress:
                return served

    def events(self) -> list[tuple[int, str]]:
        import sqlite3

        conn = sqlite3.connect(self.db_path)
        try:
            return [(int(r[0]), str(r[1])) for r in conn.execute("SELECT id, type FROM events ORDER BY id")]
        finally:
            conn.close()

    def uplink_status(self) -> dict[str, Any]:
        return json.loads(hall_cli("uplink", "status", "--db", str(self.db_path)))


def make_hall(tmp: Path, code: str, port: int, hub_url: str, hub_dsn: str, key_file: Path,
              settings: dict[str, Any] | None = None) -> Hall:
    """Register ``code`` at the hub (``city-hub hall add``), seed a demo hall database,
    configure its uplink (``queue-server uplink configure``); the server is not started."""
    from queue_server.db import connect
    from queue_server.demo import make_hall as seed
    from queue_server.migrations import open_db
    from queue_server.settings import set_setting

    name = HALL_NAMES.get(code, f"{code} 政务服务中心")
    creds = json.loads(hub_cli("hall", "add", code, "--name", name, "--hub-url", hub_url,
                               "--dsn", hub_dsn, "--key-file", str(key_file)))
    db_path = tmp / f"{code}.db"
    open_db(db_path).conn.close()
    db = connect(db_path)
    try:
        made = seed(db, windows=4, tokens=True, appointments=0)
        set_setting(db, "hall_name", name)
        for k, v in (settings or {}).items():
            set_setting(db, k, v)
    finally:
        db.conn.close()
    hall_cli("uplink", "configure", "--db", str(db_path), "--hub", hub_url, "--hall", code,
             "--hall-key", creds["hall_private_key"], "--hub-key", creds["hub_public_key"])
    return Hall(code=code, name=name, db_path=db_path, port=port, tokens=made["tokens"], services=made["services"][:6],
                windows=made["windows"], private_key=creds["hall_private_key"])
