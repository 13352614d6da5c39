"""The SSE event stream: snapshot on connect, live events, keep-alive, resume, cleanup."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from queue_server import create_app
from queue_server import queue as engine
from queue_server.db import connect, write_tx
from queue_server.events import EventBus, last_event_id, record_event
from queue_server.web.stream import event_stream, parse_last_event_id
from tests.support.common import free_port
from tests.support.web import Server, SSEReader, close_stream, seeded_hall


@pytest.fixture
def hall(db_path: Path) -> dict[str, Any]:
    return seeded_hall(db_path)


@pytest.fixture
def app(db_path: Path, hall: dict[str, Any]):
    app = create_app({"DB_PATH": str(db_path), "TESTING": True})
    yield app
    if "yichuang.streams_stop" in app.extensions:
        app.extensions["yichuang.streams_stop"].set()
    app.extensions["yichuang.bus"].stop()


class Stream:
    """A streaming test-client response with a reader thread; closed via the stop flag."""

    def __init__(self, app, path: str, headers: dict[str, str] | None = None):
        self.app = app
        self.resp = app.test_client().get(path, headers=headers or {})
        assert self.resp.status_code == 200, self.resp.get_data()
        assert self.resp.mimetype == "text/event-stream"
        self.reader = SSEReader(self.resp.response)

    def close(self) -> None:
        stop: threading.Event = self.app.extensions["yichuang.streams_stop"]
        stop.set()
        self.reader.join(5)
        self.resp.close()
        stop.clear()


def call_one(db_path: Path, app, window: int = 1, service: str = "QY01") -> dict[str, Any]:
    db = connect(db_path)
    try:
        engine.issue_ticket(db, service)
        ticket = engine.call_next(db, window)
    finally:
        db.conn.close()
    app.extensions["yichuang.bus"].poke()
    assert ticket is not None
    return ticket


def test_stream_needs_a_token(app):
    resp = app.test_client().get("/api/events")
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "auth_required"


def test_clerk_session_token_is_refused_in_the_url_but_accepted_in_a_header(app, hall):
    client = app.test_client()
    r = client.post("/api/login", json={"username": "clerk1", "password": hall["users"]["clerk1"]["password"]})
    token = r.json["token"]
    assert client.get(f"/api/events?token={token}").status_code == 401
    s = Stream(app, "/api/events", {"Authorization": f"Bearer {token}"})
    try:
        assert s.reader.next().event == "snapshot"
    finally:
        s.close()


def test_connect_sends_retry_then_a_snapshot_with_the_last_event_id(app, hall, db_path):
    call_one(db_path, app)
    s = Stream(app, f"/api/events?token={hall['tokens']['display']}")
    try:
        first = s.reader.next(skip_retry=False)
        assert first.retry == 3000
        snap = s.reader.next()
        assert snap.event == "snapshot"
        state = snap.json()
        assert int(snap.id) == state["last_event_id"] > 0
        assert state["hall"]["name"] == "济南市章丘区政务服务中心"
        assert state["recent_calls"][0]["number"] == "A001"
        assert {w["number"] for w in state["windows"]} >= {1, 2, 3}
    finally:
        s.close()


def test_a_call_arrives_as_a_small_event_then_the_shared_state(app, hall, db_path):
    s = Stream(app, f"/api/events?token={hall['tokens']['display']}")
    try:
        snap_id = int(s.reader.until("snapshot").id)
        ticket = call_one(db_path, app, window=2)
        issued = s.reader.until("ticket.issued")
        called = s.reader.until("ticket.called")
        assert int(called.id) > int(issued.id) > snap_id
        data = called.json()
        assert data["number"] == ticket["number"] and data["window"] == 2
        assert "id_masked" not in data and "referral_reason" not in data  # no personal data
        state = s.reader.until("state").json()
        assert state["last_event_id"] >= int(called.id)
        w2 = next(w for w in state["windows"] if w["number"] == 2)
        assert w2["current"]["number"] == ticket["number"]
    finally:
        s.close()


def test_a_stream_ends_once_its_token_is_revoked(app, hall, db_path, monkeypatch):
    """Without the hub (the Flask test client's path) the stream checks its token too."""
    from queue_server.auth import revoke_token
    from queue_server.web import displays

    monkeypatch.setattr(displays, "STREAM_RECHECK_SECONDS", 0.2)
    s = Stream(app, f"/api/events?token={hall['tokens']['display']}")
    try:
        s.reader.until("snapshot")
        db = connect(db_path)
        try:
            revoke_token(db, hall["tokens"]["display"])
        finally:
            db.conn.close()
        with pytest.raises(EOFError):
            while True:
                s.reader.next(timeout=3.0)
    finally:
        s.close()


def test_resume_with_last_event_id_replays_only_the_missed_events(app, hall, db_path):
    s = Stream(app, f"/api/events?token={hall['tokens']['display']}")
    last = int(s.reader.until("snapshot").id)
    s.close()
    call_one(db_path, app, window=1)
    call_one(db_path, app, window=2)
    s = Stream(app, f"/api/events?token={hall['tokens']['display']}", {"Last-Event-ID": str(last)})
    try:
        got = []
        while (m := s.reader.next()).event != "state":
            got.append(m)
        # The first ticket of the business day also records a day.reset.
        assert [m.event for m in got if m.event.startswith("ticket.")] == [
            "ticket.issued", "ticket.called", "ticket.issued", "ticket.called"]
        assert "snapshot" not in [m.event for m in got]
        ids = [int(m.id) for m in got]
        assert ids == sorted(ids) and ids[0] == last + 1
    finally:
        s.close()


def test_resume_from_query_parameter_and_too_far_back_gets_a_snapshot(db_path, hall):
    bus = EventBus(lambda: connect(db_path))
    db = connect(db_path)
    with write_tx(db) as conn:
        for i in range(5):
            record_event(conn, "notice.changed", {"notice": f"n{i}"})
    top = last_event_id(db)
    snap = {"last_event_id": top, "hall": {}}
    gen = event_stream(bus, db, lambda _db: snap, last_id=top - 5, max_replay=3)
    try:
        assert next(gen).startswith("retry:")
        opening = next(gen)
        assert opening.startswith(f"id: {top}\nevent: snapshot\n")
    finally:
        gen.close()
        bus.stop()
        db.conn.close()
    assert parse_last_event_id("17") == 17
    assert parse_last_event_id("x17") is None and parse_last_event_id(None) is None


def test_future_last_event_id_after_a_database_reset_gets_a_snapshot(app, hall):
    s = Stream(app, f"/api/events?token={hall['tokens']['display']}&last_event_id=999999")
    try:
        assert s.reader.next().event == "snapshot"
    finally:
        s.close()


def test_keep_alive_comment_when_idle(db_path, hall):
    bus = EventBus(lambda: connect(db_path))
    db = connect(db_path)
    gen = event_stream(bus, db, lambda _db: {"last_event_id": 0}, keepalive=0.3)
    try:
        next(gen), next(gen)  # retry, snapshot
        t0 = time.monotonic()
        assert next(gen) == ": keep-alive\n\n"
        assert 0.25 <= time.monotonic() - t0 < 2.0
    finally:
        gen.close()
        bus.stop()
        db.conn.close()


def test_streams_beyond_the_limit_get_503_so_the_api_keeps_its_threads(app, hall):
    app.config["SSE_MAX_STREAMS"] = 1
    s = Stream(app, f"/api/events?token={hall['tokens']['display']}")
    try:
        s.reader.until("snapshot")
        r = app.test_client().get(f"/api/events?token={hall['tokens']['display']}")
        assert r.status_code == 503 and r.json["error"]["code"] == "too_many_streams"
        assert r.headers["Retry-After"] == "10"
    finally:
        s.close()


def test_closing_the_stream_unsubscribes(app, hall):
    bus = app.extensions["yichuang.bus"]
    s = Stream(app, f"/api/events?token={hall['tokens']['display']}")
    s.reader.until("snapshot")
    assert bus.subscriber_count == 1
    s.close()
    assert bus.subscriber_count == 0
    # A generator closed by the server (client gone) unsubscribes too.
    db = connect(app.config["DB_PATH"])
    gen = event_stream(bus, db, lambda _db: {"last_event_id": 0})
    next(gen), next(gen)
    assert bus.subscriber_count == 1
    gen.close()
    assert bus.subscriber_count == 0
    db.conn.close()


def test_a_subscriber_dropped_by_the_bus_resubscribes_and_fills_the_gap(db_path, hall):
    bus = EventBus(lambda: connect(db_path))
    db = connect(db_path)
    gen = event_stream(bus, db, lambda _db: {"last_event_id": last_event_id(_db)})
    try:
        next(gen), next(gen)
        for q in list(bus._subs):  # what the bus does to a subscriber whose queue overflowed
            bus.unsubscribe(q)
        w = connect(db_path)
        with write_tx(w) as conn:
            eid = record_event(conn, "notice.changed", {"notice": "欢迎"})
        w.conn.close()
        bus.poke()
        out = next(gen)
        assert f"id: {eid}\nevent: notice.changed\n" in out
        assert bus.subscriber_count == 1
    finally:
        gen.close()
        bus.stop()
        db.conn.close()


@pytest.mark.slow
def test_real_server_streams_a_call_and_resumes_after_a_restart(db_path, hall):
    """End to end over HTTP with waitress: snapshot, a call, restart, Last-Event-ID resume."""
    port = free_port()
    display = hall["tokens"]["display"]
    admin = {"Authorization": f"Bearer {hall['tokens']['admin']}"}
    kiosk = {"Authorization": f"Bearer {hall['tokens']['kiosk']}"}
    with Server(db_path, port) as srv:
        resp = requests.get(f"{srv.url}/api/events?token={display}", stream=True, timeout=10)
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        reader = SSEReader(resp.iter_content(chunk_size=None))
        assert reader.until("snapshot").event == "snapshot"
        requests.post(f"{srv.url}/api/tickets", json={"service": "SB01"}, headers=kiosk, timeout=5).raise_for_status()
        t0 = time.monotonic()
        r = requests.post(f"{srv.url}/api/windows/1/call-next", headers=admin, timeout=5)
        assert r.status_code == 200
        called = reader.until("ticket.called")
        assert time.monotonic() - t0 < 1.0
        assert called.json()["number"] == r.json()["number"] == "B001"
        last = called.id
        srv.stop()
        with pytest.raises((EOFError, requests.RequestException, TimeoutError)):
            reader.until("never", timeout=5)
        close_stream(resp)
        # Changes while the server was down (another process on the same file).
        db = connect(db_path)
        engine.issue_ticket(db, "SB01")
        missed = engine.call_next(db, 2)
        db.conn.close()
        srv.start()
        resp = requests.get(f"{srv.url}/api/events?token={display}", headers={"Last-Event-ID": str(last)},
                            stream=True, timeout=10)
        reader = SSEReader(resp.iter_content(chunk_size=None))
        assert reader.next().event == "ticket.issued"
        again = reader.next()
        assert again.event == "ticket.called" and again.json()["number"] == missed["number"] == "B002"
        close_stream(resp)


@pytest.mark.slow
def test_real_server_frees_the_stream_of_a_client_that_went_away(db_path, hall):
    """A display that disappears (closed socket) releases its thread at the next keep-alive."""
    tech = {"Authorization": f"Bearer {hall['tokens']['technician']}"}
    with Server(db_path, free_port(), env={"YICHUANG_SSE_KEEPALIVE_SECONDS": "0.5"}) as srv:
        streams = []
        for _ in range(3):
            resp = requests.get(f"{srv.url}/api/events?token={hall['tokens']['display']}", stream=True, timeout=10)
            reader = SSEReader(resp.iter_content(chunk_size=None))
            reader.until("snapshot")
            streams.append(resp)
        stats = requests.get(f"{srv.url}/api/events/stats", headers=tech, timeout=5).json()
        assert stats["streams"] == 3
        for resp in streams:
            close_stream(resp)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if requests.get(f"{srv.url}/api/events/stats", headers=tech, timeout=5).json()["streams"] == 0:
                break
            time.sleep(0.2)
        assert requests.get(f"{srv.url}/api/events/stats", headers=tech, timeout=5).json()["streams"] == 0


def test_event_text_is_never_mixed_up_between_two_halls_in_one_process(tmp_path):
    from queue_server.events import events_after
    from queue_server.migrations import open_db
    from queue_server.web.stream import _formatted

    texts = []
    for name in ("a", "b"):
        db = open_db(tmp_path / f"{name}.db")
        with write_tx(db) as conn:
            record_event(conn, "notice.changed", {"notice": f"hall {name}"})
        (ev,) = events_after(db, 0)
        texts.append(_formatted(ev))
        db.conn.close()
    assert texts[0].startswith("id: 1\n") and texts[1].startswith("id: 1\n")
    assert '"hall a"' in texts[0] and '"hall b"' in texts[1]
