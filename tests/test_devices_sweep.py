"""A device that stops beating is recorded stale by the server itself (queue_server/devices/
sweeper.py), not only inside another device's heartbeat: a hall whose only kiosk died still
gets its ``device.state_changed`` event — in the engine, in the thread, and in a real
``queue-server serve``."""

from __future__ import annotations

import json
import time

import pytest

from queue_server.auth import create_token
from queue_server.db import connect
from queue_server.devices import store
from queue_server.devices.sweeper import StaleSweeper, interval_for, sweep
from queue_server.settings import set_setting
from tests.support.common import free_port
from tests.support.queue import Server, request


def _beat(db, clock, name: str = "kiosk-01") -> None:
    store.record_heartbeat(db, {"name": name, "kind": "kiosk", "components": []}, token_name=name,
                           token_role="kiosk", now=clock())


def _states(db) -> list[tuple[str, str | None, str, float]]:
    rows = db.conn.execute("SELECT data FROM events WHERE type = 'device.state_changed' ORDER BY id").fetchall()
    return [(d["name"], d["previous"], d["state"], d["since"]) for d in (json.loads(r[0]) for r in rows)]


def test_the_only_device_is_recorded_stale_without_any_other_heartbeat(db, clock):
    _beat(db, clock)
    last = clock()
    clock.advance(89)
    assert sweep(db, clock()) == []  # not yet
    clock.advance(2)
    assert sweep(db, clock()) == ["kiosk-01"]
    assert _states(db)[-1] == ("kiosk-01", "ok", "stale", pytest.approx(last + 90))
    clock.advance(60)
    assert sweep(db, clock()) == []  # recorded once
    assert [s[2] for s in _states(db)] == ["ok", "stale"]
    _beat(db, clock)  # it comes back
    assert _states(db)[-1][1:3] == ("stale", "ok")


def test_the_sweep_follows_the_setting(db, clock):
    set_setting(db, "devices.stale_after_s", 600)
    _beat(db, clock)
    clock.advance(300)
    assert sweep(db, clock()) == []
    clock.advance(300)
    assert sweep(db, clock()) == ["kiosk-01"]


@pytest.mark.parametrize("limit,every", [(90, 30), (3, 1), (1, 1), (30, 10), (3600, 30)])
def test_the_sweep_looks_every_third_of_the_limit_within_1_to_30_s(limit, every):
    assert interval_for(limit) == every


def test_the_thread_records_a_dead_kiosk_with_no_other_beat(db_path, db, clock):
    _beat(db, clock)
    clock.advance(120)
    sweeper = StaleSweeper(db_path, clock=clock, interval=0.05).start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(s[2] == "stale" for s in _states(db)):
            time.sleep(0.05)
    finally:
        sweeper.stop()
    assert [(s[0], s[2]) for s in _states(db)] == [("kiosk-01", "ok"), ("kiosk-01", "stale")]


def test_a_running_server_records_its_only_kiosk_stale(db_path):
    db = connect(db_path)
    try:
        set_setting(db, "devices.stale_after_s", 2)
        token = create_token(db, "kiosk", "kiosk-01")
    finally:
        db.conn.close()
    server = Server(db_path, free_port()).start()
    try:
        status, _ = request("POST", server.port, "/api/devices/heartbeat",
                            {"name": "kiosk-01", "kind": "kiosk", "components": []}, token=token)
        assert status == 200
        db = connect(db_path)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and len(_states(db)) < 2:
                time.sleep(0.1)
            assert [(s[0], s[1], s[2]) for s in _states(db)] == [("kiosk-01", None, "ok"), ("kiosk-01", "ok", "stale")]
        finally:
            db.conn.close()
    finally:
        server.stop()


def test_the_defaults_make_a_dead_device_stale_within_three_beats():
    """Issue 15: beats every 15–30 s, `devices.stale_after_s` 90 by default, a killed kiosk
    stale within three beats — the kiosk's default beat, the example configuration and the
    displays' beat agree with that."""
    import tomllib

    from kiosk.config import SETTINGS as KIOSK
    from queue_server.settings import SETTINGS as SERVER
    from tests.support.common import ROOT

    kiosk_beat = next(s.default for s in KIOSK if (s.section, s.key) == ("devices", "heartbeat_s"))
    server = {s.name: s.default for s in SERVER}
    example = tomllib.loads((ROOT / "kiosk.example.toml").read_text(encoding="utf-8"))
    assert example["devices"]["heartbeat_s"] == kiosk_beat
    limit = server["devices.stale_after_s"]
    assert limit == 90 and 15 <= kiosk_beat <= 30
    for beat in (kiosk_beat, server["devices.heartbeat_s"]):
        assert 2 * beat < limit <= 3 * beat  # stale after the third missed beat, not before the second
