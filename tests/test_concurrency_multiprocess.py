"""Several server processes on one database file: 20 clients issuing and 10 calling at
once — no duplicate number, no ticket called twice, no ticket lost (DESIGN §4)."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter

import pytest

from queue_server.demo import make_hall
from queue_server.migrations import open_db
from tests.support.common import free_port
from tests.support.queue import Server, request

SERVERS = 4
ISSUERS = 20
CALLERS = 10
TICKETS_PER_ISSUER = 25
SERVICES = ["QY01", "SB01", "GJ01", "SW01", "ZH01", "MZ03", "HZ02", "GC04", "QY03", "SB04"]


@pytest.mark.slow
def test_four_processes_twenty_issuers_ten_callers(tmp_path):
    db_path = tmp_path / "hall.db"
    db = open_db(db_path)
    tokens = make_hall(db, tokens=True, appointments=0)["tokens"]
    servers = [Server(db_path, free_port(), threads=16) for _ in range(SERVERS)]
    try:
        for s in servers:
            s.start()
        ports = [s.port for s in servers]
        issued: list[dict] = []
        called: list[dict] = []
        errors: list[str] = []
        lock = threading.Lock()
        issuing_done = threading.Event()

        def issuer(k: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", ports[k % SERVERS], timeout=30)
            for i in range(TICKETS_PER_ISSUER):
                service = SERVICES[(k + i) % len(SERVICES)]
                status, body = request("POST", 0, "/api/tickets", {"service": service}, tokens["kiosk"], conn=conn)
                with lock:
                    if status == 201:
                        issued.append(body)
                    else:
                        errors.append(f"issue {status} {body}")
            conn.close()

        def caller(k: int) -> None:
            window = k + 1  # windows 1-3 are universal, 4-10 specialised
            conn = http.client.HTTPConnection("127.0.0.1", ports[(k + 1) % SERVERS], timeout=30)
            while True:
                finished = issuing_done.is_set()
                status, body = request("POST", 0, f"/api/windows/{window}/call-next", {"confirm": True}, tokens["admin"],
                                       conn=conn)
                if status == 200:
                    with lock:
                        called.append(body)
                elif status == 204:
                    if finished:
                        break
                    time.sleep(0.01)
                else:
                    with lock:
                        errors.append(f"call {status} {body}")
                    break
            conn.close()

        issuers = [threading.Thread(target=issuer, args=(k,)) for k in range(ISSUERS)]
        callers = [threading.Thread(target=caller, args=(k,)) for k in range(CALLERS)]
        for t in issuers + callers:
            t.start()
        for t in issuers:
            t.join(timeout=120)
        issuing_done.set()
        for t in callers:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in issuers + callers)
        assert errors == []

        total = ISSUERS * TICKETS_PER_ISSUER
        # No duplicate number, none lost.
        assert len(issued) == total
        numbers = [t["number"] for t in issued]
        assert len(set(numbers)) == total, Counter(numbers).most_common(3)
        rows = {r[0]: r[1] for r in db.conn.execute("SELECT id, number FROM tickets")}
        assert {t["id"]: t["number"] for t in issued} == rows
        # Numbers of each prefix are exactly 1..n: no gap, no reuse.
        by_prefix: dict[str, list[int]] = {}
        for n in numbers:
            by_prefix.setdefault(n[0], []).append(int(n[1:]))
        for prefix, seqs in by_prefix.items():
            assert sorted(seqs) == list(range(1, len(seqs) + 1)), prefix
        # No ticket called twice, and every ticket was called once in the end.
        called_ids = [t["id"] for t in called]
        assert len(called_ids) == len(set(called_ids)), Counter(called_ids).most_common(3)
        assert set(called_ids) == set(rows)
        per_ticket = Counter(r[0] for r in db.conn.execute("SELECT ticket_id FROM call_log WHERE kind = 'call'"))
        assert set(per_ticket.values()) == {1}
        assert db.conn.execute("SELECT COUNT(*) FROM tickets WHERE status = 'waiting'").fetchone()[0] == 0
        # The trigger-kept waiting counts agree with the tickets.
        assert db.conn.execute("SELECT COALESCE(SUM(n), 0) FROM waiting_counts").fetchone()[0] == 0
        assert request("GET", ports[0], "/api/health")[0] == 200
    finally:
        for s in servers:
            s.stop()
