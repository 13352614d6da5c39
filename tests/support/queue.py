"""Helpers for the queue server's tests: a settable clock, a seeded hall, a server process."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")


def hall_time(day: str = "2026-11-25", hhmm: str = "10:00") -> float:
    """Unix time of a local hall time (2026-11-25 is a Wednesday)."""
    d = dt.date.fromisoformat(day)
    h, m = (int(x) for x in hhmm.split(":"))
    return dt.datetime(d.year, d.month, d.day, h, m, tzinfo=TZ).timestamp()


class FakeClock:
    """A clock the test moves: ``clock()`` returns the current fake Unix time."""

    def __init__(self, t: float | None = None) -> None:
        self.t = hall_time() if t is None else t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float = 0, *, minutes: float = 0) -> float:
        self.t += seconds + minutes * 60
        return self.t

    def set(self, day: str, hhmm: str) -> None:
        self.t = hall_time(day, hhmm)


def valid_id(first17: str = "37018119500101123") -> str:
    from hardware.idnumber import id_check_digit

    return first17 + id_check_digit(first17)


def wrong_check_digit(first17: str = "37018119800101123") -> str:
    good = valid_id(first17)
    bad = "0" if good[-1] != "0" else "1"
    return first17 + bad


class Server:
    """``queue-server serve`` in a subprocess on a free loopback port."""

    def __init__(self, db_path: Path | str, port: int, *, workers: int = 1, threads: int = 16) -> None:
        self.db_path = str(db_path)
        self.port = port
        self.workers = workers
        self.threads = threads
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> Server:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "queue_server.cli", "serve", "--db", self.db_path, "--port", str(self.port),
             "--workers", str(self.workers), "--threads", str(self.threads)],
            cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            try:
                status, _ = request("GET", self.port, "/api/health")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def kill(self, sig: int = 9) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def request(method: str, port: int, path: str, body: Any = None, token: str | None = None,
            conn: http.client.HTTPConnection | None = None) -> tuple[int, Any]:
    """One HTTP request; returns (status, parsed JSON or None)."""
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = c.getresponse()
        data = resp.read()
        return resp.status, (json.loads(data) if data else None)
    finally:
        if own:
            c.close()


def add_appointment(db, code: str, service: str, slot_start: str, slot_end: str, *, day: str = "2026-11-25",
                    id_number: str | None = None) -> None:
    """An appointment row as the booking platform would have left it."""
    from hardware.idnumber import mask_id_number
    from queue_server.idkey import id_digest

    db.conn.execute(
        "INSERT INTO appointments (code, service_code, day, slot_start, slot_end, name_masked, id_hash, id_masked, "
        "created_at) VALUES (?, ?, ?, ?, ?, '张*', ?, ?, ?)",
        (code, service, day, slot_start, slot_end,
         id_digest(db, id_number) if id_number else None, mask_id_number(id_number) if id_number else None,
         time.time()),
    )


_NO_ROLE_GIVEN = "\0default"


class RoleClient:
    """A Flask test client that acts as one of the demo hall's roles (flaskr's ``AuthActions``):
    ``call(method, path, role)`` sends that role's token; ``role=None`` sends none. A module
    whose calls are mostly one role's sets ``default_role``."""

    default_role: str | None = None

    def __init__(self, client: Any, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def call(self, method: str, path: str, role: str | None = _NO_ROLE_GIVEN, **kw: Any) -> Any:
        if role == _NO_ROLE_GIVEN:
            role = self.default_role
        headers = kw.pop("headers", {})
        if role:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return self.client.open(path, method=method, headers=headers, **kw)
