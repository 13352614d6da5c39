"""One writer for all display streams (queue_server.web.hub): the selector loop on its own
(socket pairs), then the real server in a reconnect storm and holding 1,000 screens."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from queue_server.db import connect, write_tx
from queue_server.events import EventBus, record_event
from queue_server.queue import hall_state
from queue_server.web.displays import StateCache
from queue_server.web.hub import StreamHub
from tests.support.web import ROOT, SSEReader, seeded_hall


@pytest.fixture
def hall(db_path: Path) -> dict[str, Any]:
    return seeded_hall(db_path)


@pytest.fixture
def hub(db_path: Path, hall: dict[str, Any]) -> Iterator[StreamHub]:
    bus = EventBus(lambda: connect(db_path))
    h = StreamHub(bus, lambda: connect(db_path), hall_state, StateCache().message, settle=0.05)
    yield h
    h.close()
    bus.stop()


@pytest.fixture
def screens() -> Iterator[list[socket.socket]]:
    """Client ends of the socket pairs a test gives the hub; closed at the end."""
    opened: list[socket.socket] = []
    yield opened
    for s in opened:
        s.close()


def attach(hub: StreamHub, screens: list[socket.socket], last_id: int | None = None,
           keepalive: float = 15.0) -> tuple[socket.socket, SSEReader]:
    ours, theirs = socket.socketpair()
    screens.append(ours)
    hub.add(theirs, b"", last_id, keepalive=keepalive)

    def chunks() -> Iterator[bytes]:
        while data := ours.recv(65536):
            yield data

    return ours, SSEReader(chunks())


def notice(db_path: Path, hub: StreamHub, text: str) -> int:
    db = connect(db_path)
    try:
        with write_tx(db) as conn:
            eid = record_event(conn, "notice.changed", {"notice": text})
    finally:
        db.conn.close()
    hub._bus.poke()
    return eid


def wait_for(cond: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return bool(cond())


def test_the_hub_sends_retry_snapshot_live_events_and_the_state_as_event_stream_does(hub, screens, db_path):
    _, reader = attach(hub, screens)
    assert reader.next(skip_retry=False).retry == 3000
    snap = reader.next()
    assert snap.event == "snapshot" and int(snap.id) == snap.json()["last_event_id"]
    _, second = attach(hub, screens)
    assert second.until("snapshot").data == snap.data  # one hall read for both (no event between)
    eid = notice(db_path, hub, "欢迎")
    for r in (reader, second):
        ev = r.next()
        assert (ev.event, ev.id, ev.json()) == ("notice.changed", str(eid), {"notice": "欢迎"})
        state = r.next()
        assert state.event == "state" and state.id is None and state.json()["last_event_id"] == eid


def test_a_resuming_screen_gets_only_the_missed_events_then_the_state(hub, screens, db_path):
    first = notice(db_path, hub, "一")
    notice(db_path, hub, "二")
    _, reader = attach(hub, screens, last_id=first)
    ev = reader.next()
    assert ev.event == "notice.changed" and ev.json() == {"notice": "二"} and int(ev.id) == first + 1
    assert reader.next().event == "state"
    _, fresh = attach(hub, screens, last_id=10**9)  # an id from another database: a snapshot
    assert fresh.next().event == "snapshot"


def test_a_screen_that_goes_away_is_dropped_at_once(hub, screens):
    ours, reader = attach(hub, screens)
    reader.until("snapshot")
    assert hub.count == 1
    t0 = time.monotonic()
    ours.shutdown(socket.SHUT_RDWR)  # (a close alone waits for the reader thread blocked in recv)
    ours.close()
    assert wait_for(lambda: hub.count == 0, 2.0)
    assert time.monotonic() - t0 < 1.0
    assert hub.dropped["eof"] + hub.dropped["error"] == 1


def test_an_idle_screen_gets_keep_alive_comments(hub, screens):
    _, reader = attach(hub, screens, keepalive=0.3)
    reader.until("snapshot")
    t0 = time.monotonic()
    msg = reader.next(skip_comments=False)
    assert msg.comment == "keep-alive" and 0.2 <= time.monotonic() - t0 < 2.0


def test_a_screen_that_stops_reading_is_dropped_and_its_buffer_stays_bounded(hub, screens, db_path):
    hub.max_buffer = 64 * 1024
    hub.stall = 0.5
    stuck, theirs = socket.socketpair()  # nobody reads `stuck`
    screens.append(stuck)
    hub.add(theirs, b"", None)
    _, reader = attach(hub, screens)
    reader.until("snapshot")
    big = "长" * 20_000  # 60 KB of UTF-8 per event
    deadline = time.monotonic() + 10
    while hub.count > 1 and time.monotonic() < deadline:
        notice(db_path, hub, big)
        assert all(len(c.out) <= hub.max_buffer for c in list(hub._conns.values()))
        time.sleep(0.05)
    assert hub.count == 1, "the stuck screen is still held"
    assert hub.dropped["overflow"] + hub.dropped["stall"] == 1
    assert reader.until("notice.changed").json()["notice"] == big  # the reading screen is served


def test_a_stream_closes_once_its_token_is_revoked_and_the_others_stay(hub, screens, db_path, hall):
    """A stolen call screen's token revoked: what it shows stops too, not only its next request."""
    from queue_server.auth import create_token, revoke_token, verify_token

    db = connect(db_path)
    try:
        stolen, kept = create_token(db, "display", "屏-被盗"), create_token(db, "display", "屏-大厅")
        ids = {t: verify_token(db, t).token_id for t in (stolen, kept)}
    finally:
        db.conn.close()
    hub.recheck = 0.2
    ours, gone = socket.socketpair()
    screens.append(ours)
    hub.add(gone, b"", None, token_id=ids[stolen])
    _, staying = attach_with(hub, screens, ids[kept])
    reader = SSEReader(iter(lambda: ours.recv(65536), b""))
    reader.until("snapshot")
    staying.until("snapshot")
    db = connect(db_path)
    try:
        revoke_token(db, stolen)
    finally:
        db.conn.close()
    with pytest.raises(EOFError):
        while True:
            reader.next(timeout=3.0)
    assert hub.dropped["revoked"] == 1 and hub.count == 1
    eid = notice(db_path, hub, "still here")
    assert int(staying.until("notice.changed").id) == eid


def attach_with(hub: StreamHub, screens: list[socket.socket], token_id: int) -> tuple[socket.socket, SSEReader]:
    ours, theirs = socket.socketpair()
    screens.append(ours)
    hub.add(theirs, b"", None, token_id=token_id)
    return ours, SSEReader(iter(lambda: ours.recv(65536), b""))


def test_nothing_is_lost_or_doubled_when_screens_connect_while_events_flow(hub, screens, db_path):
    readers = []
    ids = []
    for i in range(12):
        ids.append(notice(db_path, hub, f"n{i}"))
        _, r = attach(hub, screens)
        readers.append(r)
    ids.append(notice(db_path, hub, "end"))
    # The hub registers a stream in its own thread, so under load a screen may be registered
    # only after "end" was committed: its snapshot then covers every event and none follows.
    after = notice(db_path, hub, "after")  # each stream's next notice after its last expected one
    for r in readers:
        cursor = int(r.until("snapshot").id)
        if cursor >= after:  # registered after the last event: its snapshot holds them all
            continue
        seen = []
        while (m := r.next()).event != "notice.changed" or int(m.id) != after:
            if m.event == "notice.changed":
                seen.append(int(m.id))
        assert seen == [i for i in ids if i > cursor]


def _bench(*args: str, timeout: float) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_streams.py"), "--json", *args],
                         cwd=str(ROOT), capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_reconnect_storm_new_screens_connect_at_once_dead_ones_go_and_memory_returns():
    """300 screens dropping and reconnecting for 20 s (the issue's 3 minutes scaled to CI)
    against ``queue-server serve`` (64 threads): none refused, connect p99 bounded, every
    dropped stream gone within seconds, memory back near the warm start."""
    res = _bench("--hold", "0", "--storm", "300", "--seconds", "20", timeout=120)
    assert res["storm_refused"] == 0 and res["storm_failed"] == 0
    assert res["storm_connects"] > 300 * 5  # every screen came back many times
    lat = res["storm_connect_ms"]
    assert lat["p99"] < 2000, lat  # today: refused for 20–40 s; the machine is shared, hence the margin
    assert res["storm_gone_s"] < 3.0
    assert res["anon_after_storm_mb"] - res["anon_start_mb"] < 25, res  # today: +36 MB held in 60 s


@pytest.mark.slow
def test_one_process_holds_a_thousand_screens_and_fans_a_call_out_to_all():
    res = _bench("--hold", "1000", "--calls", "5", "--storm", "0", timeout=150)
    assert res["held"] == 1000 and res["held_streams_server"] == 1000
    assert res["fanout_last_ms"]["max"] < 2000, res["fanout_last_ms"]
    assert res["hold_gone_s"] < 3.0
    assert (res["anon_held_mb"] - res["anon_start_mb"]) * 1024 / 1000 < 200, res  # KB per held stream

