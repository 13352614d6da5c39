"""kill -9 the server during a burst of issuing: after a restart every ticket that got a
201 is there, and numbering continues after the last one."""

from __future__ import annotations

import http.client
import signal
import threading
import time

import pytest

from queue_server.db import connect
from queue_server.demo import make_hall
from queue_server.migrations import open_db
from tests.support.common import free_port
from tests.support.queue import Server, request

CLIENTS = 10
SERVICES = ["QY01", "SB01", "GJ01"]


@pytest.mark.slow
def test_kill_9_during_issuing_loses_no_acknowledged_ticket(tmp_path):
    db_path = tmp_path / "hall.db"
    db = open_db(db_path)
    tokens = make_hall(db, tokens=True, appointments=0)["tokens"]
    db.conn.close()
    port = free_port()
    server = Server(db_path, port, threads=16).start()
    acked: list[dict] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        i = 0
        while not stop.is_set():
            try:
                status, body = request("POST", port, "/api/tickets", {"service": SERVICES[(k + i) % 3]},
                                       tokens["kiosk"], conn=conn)
            except (OSError, http.client.HTTPException):
                return  # the server is gone
            i += 1
            if status == 201:
                with lock:
                    acked.append(body)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        deadline = time.time() + 20
        while len(acked) < 300 and time.time() < deadline:
            time.sleep(0.01)
        server.kill(signal.SIGKILL)  # in the middle of the burst
        stop.set()
        for t in threads:
            t.join(timeout=10)
        assert len(acked) >= 300

        server = Server(db_path, port, threads=16).start()
        check = connect(db_path)
        assert check.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = {r[0]: r[1] for r in check.conn.execute("SELECT id, number FROM tickets")}
        for t in acked:
            assert rows.get(t["id"]) == t["number"], t
        assert len(set(rows.values())) == len(rows)
        # Numbering continues after the last stored number of each prefix, with no reuse.
        for service, prefix in (("QY01", "A"), ("SB01", "B"), ("GJ01", "D")):
            last = check.conn.execute("SELECT MAX(seq) FROM tickets WHERE prefix = ?", (prefix,)).fetchone()[0]
            status, body = request("POST", port, "/api/tickets", {"service": service}, tokens["kiosk"])
            assert status == 201
            assert body["number"] == f"{prefix}{last + 1:03d}"
        check.conn.close()
    finally:
        stop.set()
        server.stop()
