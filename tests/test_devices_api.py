"""Device health over HTTP (queue_server/devices): heartbeats, state = worst component,
stale at read time, device.state_changed events, test actions, the summary, the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from queue_server import create_app
from queue_server.auth import create_token
from queue_server.demo import make_hall


@pytest.fixture
def hall(db, clock):
    made = make_hall(db, clock=clock, tokens=True, appointments=0)
    made["tokens"]["kiosk-02"] = create_token(db, "kiosk", "kiosk-02")
    made["tokens"]["hall-screen"] = create_token(db, "display", "hall-screen")
    return made


@pytest.fixture
def app(db_path, hall, clock):
    return create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock})


class Api:
    def __init__(self, client: Any, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def call(self, method: str, path: str, who: str | None = None, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if who:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return self.client.open(path, method=method, headers=headers, **kw)

    def beat(self, who: str = "kiosk", **body: Any) -> Any:
        name = {"kiosk": "demo-kiosk", "display": "demo-display"}.get(who, who)
        kind = "display" if who in ("display", "hall-screen") else "kiosk"
        data = {"name": name, "kind": kind, "version": "0.1.0", "uptime_s": 12.5, "disk_free_mb": 2048,
                "components": [], **body}
        return self.call("POST", "/api/devices/heartbeat", who, json=data)

    def devices(self) -> list[dict[str, Any]]:
        r = self.call("GET", "/api/devices", "technician")
        assert r.status_code == 200, r.json
        return r.json

    def device(self, name: str = "demo-kiosk") -> dict[str, Any]:
        return next(d for d in self.devices() if d["name"] == name)


@pytest.fixture
def api(app, hall) -> Api:
    return Api(app.test_client(), hall["tokens"])


def comp(kind: str, state: str, detail: str = "", name: str | None = None) -> dict[str, Any]:
    return {"kind": kind, "name": name or f"{kind}-1", "state": state, "detail": detail}


def events(db, type_: str = "device.state_changed") -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in db.conn.execute("SELECT data FROM events WHERE type = ? ORDER BY id", (type_,))]


# -- heartbeat and GET /api/devices -----------------------------------------------------------

def test_a_heartbeat_is_stored_and_listed_with_exactly_the_documented_fields(api, clock):
    r = api.beat(components=[comp("printer", "ok", "正常 / ready", "tcp://10.0.0.31:9100")])
    assert r.status_code == 200
    assert r.json["ok"] is True and r.json["actions"] == [] and r.json["state"] == "ok"
    assert r.json["interval_s"] == 30 and r.json["stale_after_s"] == 90
    [d] = api.devices()
    assert set(d) == {"name", "kind", "version", "last_seen", "state", "components"}
    assert d == {"name": "demo-kiosk", "kind": "kiosk", "version": "0.1.0", "last_seen": clock.t, "state": "ok",
                 "components": [{"kind": "printer", "name": "tcp://10.0.0.31:9100", "state": "ok",
                                 "detail": "正常 / ready", "checked_at": clock.t}]}


@pytest.mark.parametrize("states, expected", [
    ([], "ok"),
    (["ok", "ok"], "ok"),
    (["ok", "unknown"], "unknown"),
    (["unknown", "warning", "ok"], "warning"),
    (["warning", "error", "unknown"], "error"),
    (["error", "ok"], "error"),
])
def test_the_device_state_is_its_worst_component(api, states, expected):
    kinds = ["printer", "idcard", "camera", "scanner", "voice"]
    r = api.beat(components=[comp(kinds[i], s) for i, s in enumerate(states)])
    assert r.status_code == 200 and r.json["state"] == expected
    assert api.device()["state"] == expected


def test_a_device_cannot_speak_for_another(api, db):
    r = api.beat("kiosk", name="kiosk-02")
    assert r.status_code == 403 and r.json["error"]["code"] == "device_name_mismatch"
    assert r.json["error"]["message"] and r.json["error"]["message_en"] and r.json["error"]["advice"]
    r = api.call("POST", "/api/devices/heartbeat", "kiosk", json={"name": "demo-kiosk", "kind": "display"})
    assert r.status_code == 403 and r.json["error"]["code"] == "device_kind_mismatch"
    r = api.call("POST", "/api/devices/heartbeat", "clerk", json={"name": "demo-clerk", "kind": "kiosk"})
    assert r.status_code == 403
    assert db.conn.execute("SELECT COUNT(*) FROM devices").fetchone()[0] == 0
    assert api.devices() == []


@pytest.mark.parametrize("body, code", [
    ({"kind": "kiosk"}, "missing_field"),
    ({"name": "demo-kiosk"}, "missing_field"),
    ({"name": 7, "kind": "kiosk"}, "bad_field"),
    ({"name": "demo-kiosk", "kind": "robot"}, "bad_device_kind"),
    ({"name": "demo-kiosk", "kind": "kiosk", "uptime_s": -1}, "bad_field"),
    ({"name": "demo-kiosk", "kind": "kiosk", "disk_free_mb": "lots"}, "bad_field"),
    ({"name": "demo-kiosk", "kind": "kiosk", "version": "x" * 41}, "field_too_long"),
    ({"name": "demo-kiosk", "kind": "kiosk", "components": {"kind": "printer"}}, "bad_field"),
    ({"name": "demo-kiosk", "kind": "kiosk", "components": ["printer"]}, "bad_component"),
    ({"name": "demo-kiosk", "kind": "kiosk", "components": [comp("fax", "ok")]}, "bad_component"),
    ({"name": "demo-kiosk", "kind": "kiosk", "components": [comp("printer", "broken")]}, "bad_component"),
    ({"name": "demo-kiosk", "kind": "kiosk", "components": [comp("printer", "stale")]}, "bad_component"),
    ({"name": "demo-kiosk", "kind": "kiosk", "components": [{"kind": "printer", "name": "", "state": "ok"}]},
     "bad_component"),
    ({"name": "demo-kiosk", "kind": "kiosk", "components": [comp("printer", "ok", "x" * 501)]}, "bad_component"),
    ({"name": "demo-kiosk", "kind": "kiosk", "components": [comp("printer", "ok"), comp("printer", "error")]},
     "bad_component"),
])
def test_a_bad_heartbeat_is_a_422_and_writes_nothing(api, db, body, code):
    r = api.call("POST", "/api/devices/heartbeat", "kiosk", json=body)
    assert r.status_code == 422, r.json
    assert r.json["error"]["code"] == code
    assert db.conn.execute("SELECT COUNT(*) FROM devices").fetchone()[0] == 0
    assert db.conn.execute("SELECT COUNT(*) FROM device_history").fetchone()[0] == 0


def test_a_malformed_body_is_a_400(api):
    r = api.call("POST", "/api/devices/heartbeat", "kiosk", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.json["error"]["code"] == "malformed_json"


def test_only_technicians_and_admins_read_the_device_list(api):
    api.beat()
    assert api.call("GET", "/api/devices", "admin").status_code == 200
    for who in ("kiosk", "display", "clerk"):
        assert api.call("GET", "/api/devices", who).status_code == 403
    assert api.call("GET", "/api/devices").status_code == 401


# -- stale ----------------------------------------------------------------------------------

def test_stale_is_computed_at_read_time_from_the_setting(api, clock):
    api.beat(components=[comp("printer", "warning")])
    clock.advance(89.9)
    assert api.device()["state"] == "warning"
    clock.advance(0.1)
    assert api.device()["state"] == "stale"
    r = api.call("PUT", "/api/settings/devices.stale_after_s", "admin", json={"value": 3600})
    assert r.status_code == 200
    from queue_server.settings import invalidate

    invalidate()
    assert api.device()["state"] == "warning"
    api.beat(components=[comp("printer", "ok")])
    assert api.device()["state"] == "ok"


@pytest.mark.parametrize("value", [0, 3601, -5, "90", 1.5, True])
def test_stale_after_must_be_an_integer_from_1_to_3600(api, value):
    r = api.call("PUT", "/api/settings/devices.stale_after_s", "admin", json={"value": value})
    assert r.status_code == 422 and r.json["error"]["code"] in ("bad_setting_value", "setting_out_of_range")


@pytest.mark.parametrize("value", [1, 3600])
def test_stale_after_bounds_are_accepted(api, value):
    assert api.call("PUT", "/api/settings/devices.stale_after_s", "admin", json={"value": value}).status_code == 200


# -- events and history ------------------------------------------------------------------------

def test_every_change_of_state_records_one_event_and_no_change_records_none(api, db, clock):
    api.beat(components=[comp("printer", "ok", "正常 / ready", "tcp://p")])
    clock.advance(20)
    api.beat(components=[comp("printer", "ok", "正常 / ready", "tcp://p")])
    clock.advance(20)
    api.beat(components=[comp("printer", "warning", "纸将用完 / paper near end", "tcp://p")])
    clock.advance(20)
    api.beat(components=[comp("printer", "error", "缺纸 / out of paper", "tcp://p")])
    clock.advance(20)
    api.beat(components=[comp("printer", "error", "缺纸 / out of paper", "tcp://p")])
    evs = events(db)
    assert [e["state"] for e in evs] == ["ok", "warning", "error"]
    assert [e["previous"] for e in evs] == [None, "ok", "warning"]
    assert evs[2] | {"since": 0} == {"name": "demo-kiosk", "kind": "kiosk", "state": "error", "previous": "warning",
                                     "detail": "printer tcp://p: 缺纸 / out of paper", "since": 0}


def test_a_dead_device_is_recorded_stale_by_the_next_beat_of_another_and_comes_back(api, db, clock):
    api.beat("kiosk")
    api.beat("hall-screen")
    clock.advance(60)
    api.beat("hall-screen")
    went = clock.t + 30
    clock.advance(45)  # demo-kiosk: 105 s without a beat
    api.beat("hall-screen")
    stale = [e for e in events(db) if e["state"] == "stale"]
    assert len(stale) == 1 and stale[0]["name"] == "demo-kiosk" and stale[0]["previous"] == "ok"
    assert stale[0]["since"] == pytest.approx(went)
    ts = db.conn.execute("SELECT ts FROM events WHERE type = 'device.state_changed' AND data LIKE '%stale%'").fetchone()[0]
    assert ts == pytest.approx(went)
    clock.advance(10)
    api.beat("hall-screen")  # not recorded twice
    api.beat("kiosk")
    evs = [e for e in events(db) if e["name"] == "demo-kiosk"]
    assert [(e["previous"], e["state"]) for e in evs] == [(None, "ok"), ("ok", "stale"), ("stale", "ok")]


def test_the_device_page_data_has_history_since_and_last_error(api, clock):
    api.beat(components=[comp("printer", "ok", name="tcp://p"), comp("idcard", "ok", name="serial:///dev/ttyUSB0")])
    t_err = clock.advance(20)
    api.beat(components=[comp("printer", "error", "缺纸 / out of paper", "tcp://p"),
                         comp("idcard", "ok", name="serial:///dev/ttyUSB0")])
    t_ok = clock.advance(20)
    api.beat(components=[comp("printer", "ok", name="tcp://p"), comp("idcard", "ok", name="serial:///dev/ttyUSB0")])
    r = api.call("GET", "/api/devices/demo-kiosk", "technician")
    d = r.json
    assert d["state"] == "ok" and d["since"] == t_ok
    assert d["last_error"] == "printer tcp://p: 缺纸 / out of paper"
    assert (d["last_error_at"], d["last_error_until"]) == (t_err, t_ok)
    changes = [(h["component"]["kind"] if h["component"] else "device", h["from"], h["to"]) for h in d["history"]]
    assert changes[:4] == [("device", "error", "ok"), ("printer", "error", "ok"), ("device", "ok", "error"),
                           ("printer", "ok", "error")]
    printer = next(c for c in d["components"] if c["kind"] == "printer")
    assert printer["since"] == t_ok and printer["checked_at"] == t_ok
    assert api.call("GET", "/api/devices/nobody", "technician").status_code == 404


def test_a_component_no_longer_reported_goes_away(api):
    api.beat(components=[comp("printer", "ok"), comp("camera", "ok")])
    api.beat(components=[comp("printer", "ok")])
    assert [c["kind"] for c in api.device()["components"]] == ["printer"]


# -- actions --------------------------------------------------------------------------------

def test_a_test_action_is_queued_delivered_at_the_next_beat_and_its_result_read_back(api, db, clock):
    api.beat(components=[comp("printer", "ok")])
    r = api.call("POST", "/api/devices/demo-kiosk/actions", "technician", json={"action": "test_print"})
    assert r.status_code == 202
    action_id = r.json["id"]
    assert r.json["status"] == "queued" and r.json["action"] == "test_print"
    path = f"/api/devices/demo-kiosk/actions/{action_id}"
    assert api.call("GET", path, "technician").json["status"] == "queued"
    clock.advance(20)
    beat = api.beat(components=[comp("printer", "ok")])
    assert [a["id"] for a in beat.json["actions"]] == [action_id]
    assert beat.json["actions"][0]["action"] == "test_print"
    assert api.beat().json["actions"] == []  # handed out once
    assert api.call("GET", path, "technician").json["status"] == "sent"
    # only the device itself posts its result
    assert api.call("POST", path + "/result", "kiosk-02", json={"ok": True}).status_code == 403
    r = api.call("POST", path + "/result", "kiosk", json={"ok": True, "detail": "测试页已打印 / test page printed"})
    assert r.status_code == 200 and r.json["status"] == "done"
    got = api.call("GET", path, "technician").json
    assert got["status"] == "done" and got["ok"] is True and got["result"] == "测试页已打印 / test page printed"
    assert api.call("POST", path + "/result", "kiosk", json={"ok": False}).status_code == 409
    audit = db.conn.execute("SELECT kind, data FROM audit WHERE kind = 'device.action_requested'").fetchall()
    assert len(audit) == 1 and json.loads(audit[0][1])["action_id"] == action_id


def test_actions_are_checked_against_the_device_and_the_role(api, db):
    api.beat("hall-screen")
    api.beat()
    r = api.call("POST", "/api/devices/hall-screen/actions", "technician", json={"action": "test_print"})
    assert r.status_code == 422 and r.json["error"]["code"] == "bad_device_action"
    assert api.call("POST", "/api/devices/hall-screen/actions", "technician",
                    json={"action": "reload_config"}).status_code == 202
    assert api.call("POST", "/api/devices/ghost/actions", "technician",
                    json={"action": "test_print"}).status_code == 404
    assert api.call("POST", "/api/devices/demo-kiosk/actions", "technician", json={}).status_code == 422
    for who in ("kiosk", "clerk", "display"):
        assert api.call("POST", "/api/devices/demo-kiosk/actions", who,
                        json={"action": "test_print"}).status_code == 403
    assert api.call("POST", "/api/devices/demo-kiosk/actions/999/result", "kiosk",
                    json={"ok": True}).status_code == 404
    assert db.conn.execute("SELECT COUNT(*) FROM device_actions").fetchone()[0] == 1


def test_an_action_not_carried_out_in_time_expires_and_is_not_handed_out(api, clock):
    api.beat()
    a = api.call("POST", "/api/devices/demo-kiosk/actions", "technician", json={"action": "probe_idcard"}).json
    clock.advance(301)
    assert api.call("GET", f"/api/devices/demo-kiosk/actions/{a['id']}", "technician").json["status"] == "expired"
    assert api.beat().json["actions"] == []
    listed = api.call("GET", "/api/devices/demo-kiosk/actions", "technician").json["actions"]
    assert [x["status"] for x in listed] == ["expired"]


# -- summary, page ------------------------------------------------------------------------------

def test_the_summary_counts_devices_and_hall_printers_and_names_a_windows_printer(api, db, clock):
    from hardware.printer import PrinterStatus
    from queue_server.db import write_tx
    from queue_server.printing.jobs import add_printer, set_printer_status

    add_printer(db, "counter-3", "tcp://10.0.0.33:9100")
    add_printer(db, "lobby-1", "tcp://10.0.0.31:9100")
    with write_tx(db) as conn:
        set_printer_status(conn, "counter-3", PrinterStatus("paper_out"), paused_reason="paper_out")
    api.beat(components=[comp("printer", "warning", "纸将用完 / paper near end")])
    api.beat("hall-screen")
    s = api.call("GET", "/api/devices/summary?window=3", "clerk").json
    assert s["state"] == "error"
    assert s["counts"] == {"ok": 1, "unknown": 1, "warning": 1, "error": 1, "stale": 0}
    assert [(p["name"], p["state"]) for p in s["problems"]] == [
        ("counter-3", "error"), ("demo-kiosk", "warning"), ("lobby-1", "unknown")]
    assert s["window"]["state"] == "error" and [p["name"] for p in s["window"]["printers"]] == ["counter-3"]
    assert api.call("GET", "/api/devices/summary?window=4", "clerk").json["window"] == {
        "number": 4, "printers": [], "state": "ok"}
    api.call("PUT", "/api/settings/devices.window_printers", "admin", json={"value": {"4": "lobby-1"}})
    from queue_server.settings import invalidate

    invalidate()
    w4 = api.call("GET", "/api/devices/summary?window=4", "clerk").json["window"]
    assert [p["name"] for p in w4["printers"]] == ["lobby-1"]
    assert api.call("GET", "/api/devices/summary?window=x", "clerk").status_code == 422
    assert api.call("GET", "/api/devices/summary", "kiosk").status_code == 403
    body = json.dumps(s, ensure_ascii=False)
    assert "张" not in body and "id_number" not in body


def test_the_overview_and_the_page(api):
    api.beat(components=[comp("printer", "error", "缺纸 / out of paper")])
    for action in ("probe_idcard", "test_print", "reload_config", "test_print"):
        api.call("POST", "/api/devices/demo-kiosk/actions", "technician", json={"action": action})
    o = api.call("GET", "/api/devices/overview", "technician").json
    assert o["counts"]["error"] == 1 and o["devices"][0]["can"] == ["test_print", "probe_idcard", "reload_config"]
    assert [a["action"] for a in o["devices"][0]["actions"]] == ["test_print", "reload_config", "test_print"]
    assert o["devices"][0]["detail"] == "printer printer-1: 缺纸 / out of paper"
    page = api.call("GET", "/tech")
    assert page.status_code == 200 and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "tech.js" in page.get_data(as_text=True)


def test_removing_a_device_keeps_its_history_and_is_audited(api, db):
    api.beat()
    assert api.call("DELETE", "/api/devices/demo-kiosk", "technician").status_code == 200
    assert api.devices() == []
    assert db.conn.execute("SELECT COUNT(*) FROM device_history").fetchone()[0] > 0
    assert db.conn.execute("SELECT COUNT(*) FROM audit WHERE kind = 'device.removed'").fetchone()[0] == 1


# -- CLI ------------------------------------------------------------------------------------

def test_the_devices_cli_lists_shows_queues_and_removes(api, db_path):
    from queue_server.cli import main

    api.beat(components=[comp("printer", "error", "缺纸 / out of paper")])
    run = CliRunner().invoke
    r = run(main, ["devices", "list", "--db", str(db_path)])
    assert r.exit_code == 0 and "demo-kiosk" in r.output and "stale" in r.output  # the fake clock is long past
    r = run(main, ["devices", "list", "--db", str(db_path), "--json"])
    assert json.loads(r.output)[0]["name"] == "demo-kiosk"
    r = run(main, ["devices", "show", "--db", str(db_path), "demo-kiosk"])
    assert json.loads(r.output)["history"]
    r = run(main, ["devices", "action", "--db", str(db_path), "demo-kiosk", "test_print"])
    assert r.exit_code == 0 and "queued test_print" in r.output
    r = run(main, ["devices", "show", "--db", str(db_path), "ghost"])
    assert r.exit_code == 1 and "device_not_found" in r.output
    r = run(main, ["devices", "remove", "--db", str(db_path), "demo-kiosk"])
    assert r.exit_code == 0
