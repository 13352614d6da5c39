"""A real queue server on a free loopback port, seeded with the demo hall, for kiosk tests."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests


@dataclass
class HallServer:
    url: str
    port: int
    db_path: Path
    tokens: dict[str, str]
    appointments: list[dict[str, Any]]
    server: Any = None
    thread: threading.Thread | None = None

    @property
    def kiosk_token(self) -> str:
        return self.tokens["kiosk"]

    def api(self, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens['admin']}"}
        r = requests.request(method, self.url + path, headers=headers, timeout=5, **kw)
        r.raise_for_status()
        return r.json()

    def ticket(self, number: str) -> dict[str, Any]:
        return self.api("GET", "/api/tickets", params={"number": number})

    def ticket_count(self) -> int:
        from queue_server.db import connect

        db = connect(self.db_path)
        try:
            return int(db.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])
        finally:
            db.conn.close()

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.thread is not None:
            self.thread.join(timeout=5)


def seed_hall(db_path: Path) -> dict[str, Any]:
    """Create and seed the demo hall at ``db_path``; returns tokens and appointments."""
    from queue_server.demo import make_hall
    from queue_server.migrations import open_db

    db = open_db(db_path)
    try:
        made = make_hall(db, tokens=True)
    finally:
        db.conn.close()
    return {"tokens": made["tokens"], "appointments": made["appointments"]}


def serve(db_path: Path, port: int, threads: int = 8) -> tuple[Any, threading.Thread]:
    """Serve the hall at ``db_path`` on 127.0.0.1:``port`` in a daemon thread."""
    from waitress import create_server

    from queue_server import create_app

    server = create_server(create_app({"DB_PATH": str(db_path)}), host="127.0.0.1", port=port,
                           threads=threads)
    thread = threading.Thread(target=server.run, daemon=True, name=f"hall-{port}")
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.05)
    return server, thread


def start_hall(tmp: Path, port: int, settings: dict[str, Any] | None = None) -> HallServer:
    """The demo hall served on ``port``; ``settings`` are set before it serves."""
    db_path = tmp / "hall.db"
    made = seed_hall(db_path)
    if settings:
        from queue_server.db import connect
        from queue_server.settings import set_setting

        db = connect(db_path)
        try:
            for name, value in settings.items():
                set_setting(db, name, value)
        finally:
            db.conn.close()
    server, thread = serve(db_path, port)
    (tmp / "hall.json").write_text(json.dumps(made, ensure_ascii=False), encoding="utf-8")
    return HallServer(f"http://127.0.0.1:{port}", port, db_path, made["tokens"],
                      made["appointments"], server, thread)
