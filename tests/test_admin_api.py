"""The admin API and the engine functions behind it: validation with nothing written, audit
before → after, undo (and its refusals), staff guards and one-time passwords, hours with
closed and 延时服务 days, hall import preview, appointments without personal data."""

from __future__ import annotations

import json

import pytest

from queue_server import create_app
from queue_server import queue as engine
from queue_server.auth import create_token
from queue_server.demo import make_hall
from queue_server.errors import Conflict, ValidationError
from queue_server.queue import hours
from queue_server.queue.hall_config import export_hall
from queue_server.settings import invalidate, set_setting
from tests.support.queue import FakeClock, hall_time


@pytest.fixture
def clock():
    return FakeClock(hall_time("2026-11-25", "10:00"))


@pytest.fixture
def client(db_path, db, clock):
    made = make_hall(db, windows=4, appointments=0, clock=clock)
    app = create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock})
    c = app.test_client()
    c.made = made  # type: ignore[attr-defined]
    c.admin = {"Authorization": f"Bearer {create_token(db, 'admin', 'api-admin')}"}  # type: ignore[attr-defined]
    yield c
    app.extensions["yichuang.bus"].stop()


def audit_count(db) -> int:
    return db.conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]


def last_audit(db) -> dict:
    r = db.conn.execute("SELECT id, kind, data FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return {"id": r[0], "kind": r[1], "data": json.loads(r[2])}


@pytest.mark.parametrize("body, code", [
    ({"code": "QY01", "name": "重复", "category": "qiye"}, "service_exists"),
    ({"code": "ZZ01", "name": "", "category": "qiye"}, "bad_hall_config"),
    ({"code": "ZZ01", "name": "新事项", "category": "nope"}, "bad_hall_config"),
    ({"code": "ZZ01", "name": "新事项", "category": "qiye", "avg_minutes": 0}, "bad_hall_config"),
    ({"code": "ZZ01", "name": "新事项", "category": "qiye", "daily_limit_per_id": 0}, "bad_hall_config"),
    ({"code": "bad code!", "name": "新事项", "category": "qiye"}, "bad_hall_config"),
])
def test_a_bad_service_is_refused_in_chinese_and_nothing_is_written(client, db, body, code):
    before, n = export_hall(db), audit_count(db)
    r = client.post("/api/admin/services", json=body, headers=client.admin)
    assert r.status_code in (409, 422) and r.get_json()["error"]["code"] == code
    assert r.get_json()["error"]["message"]  # Chinese text from the registry
    assert export_hall(db) == before and audit_count(db) == n


def test_edit_a_service_is_audited_and_undone_through_the_same_function(client, db):
    r = client.put("/api/admin/services/QY02", json={"name": "个体工商户登记", "daily_limit_per_id": 2},
                   headers=client.admin)
    assert r.status_code == 200 and r.get_json()["daily_limit_per_id"] == 2
    rec = last_audit(db)
    assert rec["kind"] == "service.changed"
    assert rec["data"]["before"]["name"] == "个体工商户设立登记" and rec["data"]["after"]["name"] == "个体工商户登记"
    undone = client.post(f"/api/admin/audit/{rec['id']}/undo", headers=client.admin)
    assert undone.status_code == 200
    svc = next(s for s in engine.services(db) if s["code"] == "QY02")
    assert svc["name"] == "个体工商户设立登记" and svc["daily_limit_per_id"] is None
    assert last_audit(db)["data"]["undo_of"] == rec["id"]
    # undoing it again: the item no longer is what that record left
    again = client.post(f"/api/admin/audit/{rec['id']}/undo", headers=client.admin)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "undo_stale"


def test_a_new_service_is_undone_by_retiring_it(client, db):
    client.post("/api/admin/services", json={"code": "ZZ01", "name": "新事项", "category": "zonghe"},
                headers=client.admin)
    rec = last_audit(db)
    assert rec["data"]["before"] is None and rec["data"]["after"]["prefix"] == "H"
    assert client.post(f"/api/admin/audit/{rec['id']}/undo", headers=client.admin).status_code == 200
    assert all(s["code"] != "ZZ01" for s in engine.services(db))  # inactive: kiosks no longer offer it


def test_a_new_window_or_category_is_undone_by_removing_it_while_nothing_uses_it(client, db):
    def undo(rid):
        return client.post(f"/api/admin/audit/{rid}/undo", headers=client.admin)

    # A window created by mistake, never opened: undo removes it; undoing that adds it back.
    r = client.post("/api/admin/windows", json={"number": 30, "name": "30号窗口", "services": ["QY01"]},
                    headers=client.admin)
    assert r.status_code == 201, r.get_json()
    made = last_audit(db)
    assert undo(made["id"]).status_code == 200
    assert all(w["number"] != 30 for w in engine.windows(db))
    removed = last_audit(db)
    assert removed["data"]["after"] is None and removed["data"]["undo_of"] == made["id"]
    assert undo(removed["id"]).status_code == 200
    assert [w["name"] for w in engine.windows(db) if w["number"] == 30] == ["30号窗口"]
    # One that was opened stays: close it instead.
    client.post("/api/admin/windows", json={"number": 31, "name": "31号窗口", "services": ["QY01"]},
                headers=client.admin)
    made31 = last_audit(db)
    assert client.post("/api/admin/windows/31/state", json={"status": "open"}, headers=client.admin).status_code == 200
    assert client.post("/api/admin/windows/31/state", json={"status": "closed"}, headers=client.admin).status_code == 200
    r = undo(made31["id"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "window_in_use", r.get_json()
    assert "31" in r.get_json()["error"]["message"]
    assert any(w["number"] == 31 for w in engine.windows(db))

    # A category: removed while it has no services; once one is added it stays.
    assert client.post("/api/admin/categories", json={"code": "linshi", "name": "临时", "prefix": "K"},
                       headers=client.admin).status_code == 201
    cat = last_audit(db)
    assert undo(cat["id"]).status_code == 200
    assert all(c["code"] != "linshi" for c in engine.categories(db))
    assert client.post("/api/admin/categories", json={"code": "linshi2", "name": "临时二", "prefix": "K"},
                       headers=client.admin).status_code == 201
    cat2 = last_audit(db)
    client.post("/api/admin/services", json={"code": "LS01", "name": "临时事项", "category": "linshi2"},
                headers=client.admin)
    r = undo(cat2["id"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "category_in_use"


def test_category_prefix_change_moves_its_services_and_prefixes_stay_unique(client, db):
    r = client.put("/api/admin/categories/qiye", json={"prefix": "B"}, headers=client.admin)
    assert r.get_json()["error"]["code"] == "prefix_taken" and "社保医保" in r.get_json()["error"]["message"]
    assert client.put("/api/admin/categories/qiye", json={"prefix": "K"}, headers=client.admin).status_code == 200
    assert {s["prefix"] for s in engine.services(db) if s["category"] == "qiye"} == {"K"}
    assert engine.issue_ticket(db, "QY01", clock=None)["number"].startswith("K")


def test_window_state_from_the_admin_is_an_event_and_an_audit_record(client, db):
    r = client.post("/api/admin/windows/2/state", json={"status": "paused", "reason": "系统维护"}, headers=client.admin)
    assert r.status_code == 200 and r.get_json()["status"] == "paused"
    rec = last_audit(db)
    assert rec["data"] == {"window": 2, "before": {"status": "open", "pause_reason": None},
                           "after": {"status": "paused", "pause_reason": "系统维护"}, "undo_of": None}
    assert db.conn.execute("SELECT status FROM admin_window_log ORDER BY id DESC LIMIT 1").fetchone()[0] == "paused"
    bad = client.post("/api/admin/windows/2/state", json={"status": "paused"}, headers=client.admin)
    assert bad.get_json()["error"]["code"] == "reason_required"
    assert client.post(f"/api/admin/audit/{rec['id']}/undo", headers=client.admin).status_code == 200
    assert [w for w in engine.windows(db) if w["number"] == 2][0]["status"] == "open"


def test_window_services_must_exist_and_star_stands_alone(client, db):
    for services in (["QY01", "XX99"], ["*", "QY01"], ["QY01", "QY01"]):
        r = client.put("/api/admin/windows/15", json={"services": services}, headers=client.admin)
        assert r.status_code == 422, services
    r = client.put("/api/admin/windows/15", json={"services": ["QY03", "QY01"], "kind": "green"}, headers=client.admin)
    assert r.get_json()["services"] == ["QY03", "QY01"] and r.get_json()["kind"] == "green"


def test_staff_guards_and_one_time_passwords(client, db):
    made = client.post("/api/admin/users", json={"username": "boss2", "display_name": "钱二", "role": "admin"},
                       headers=client.admin).get_json()
    assert len(made["password"]) == 10 and "password_hash" not in json.dumps(made)
    listing = client.get("/api/admin/users", headers=client.admin).get_json()
    assert "scrypt" not in json.dumps(listing)
    login = client.post("/api/login", json={"username": "boss2", "password": made["password"]}).get_json()
    h2 = {"Authorization": f"Bearer {login['token']}"}
    blocked = client.get("/api/admin/catalog", headers=h2)
    assert blocked.status_code == 409 and blocked.get_json()["error"]["code"] == "password_change_required"
    assert client.post("/api/admin/password", json={"old_password": made["password"], "new_password": "boss2-new"},
                       headers=h2).status_code == 200
    assert client.get("/api/admin/catalog", headers=h2).status_code == 200
    me = client.post("/api/login", json={"username": "admin", "password": "admin123"}).get_json()
    h1 = {"Authorization": f"Bearer {me['token']}"}
    mine = client.put(f"/api/admin/users/{me['user']['id']}", json={"active": False}, headers=h1)
    assert mine.get_json()["error"]["code"] == "cannot_change_self"
    # deactivating boss2 ends its session at once
    assert client.put(f"/api/admin/users/{made['user']['id']}", json={"active": False}, headers=h1).status_code == 200
    assert client.get("/api/admin/catalog", headers=h2).status_code == 401
    rec = last_audit(db)
    assert rec["kind"] == "user.changed" and rec["data"]["fields"] == ["active"]
    assert "钱二" not in json.dumps(rec)
    reset = client.post(f"/api/admin/users/{client.made['users']['clerk1']['id']}/reset-password", headers=h1)
    assert reset.status_code == 200 and reset.get_json()["password"] not in json.dumps(last_audit(db))


def test_device_tokens_are_shown_once_and_revoked_by_id(client, db):
    t = client.post("/api/admin/tokens", json={"role": "kiosk", "name": "kiosk-09"}, headers=client.admin).get_json()
    kiosk = {"Authorization": f"Bearer {t['token']}"}
    assert client.get("/api/services", headers=kiosk).status_code == 200
    listed = client.get("/api/admin/tokens", headers=client.admin).get_json()["tokens"]
    assert t["token"] not in json.dumps(listed)
    assert client.post(f"/api/admin/tokens/{t['id']}/revoke", headers=client.admin).get_json()["state"] == "revoked"
    assert client.get("/api/services", headers=kiosk).status_code == 401
    assert last_audit(db)["kind"] == "token.revoked"


def test_closed_and_extended_days_rule_issuing_and_the_next_opening(db, clock):
    make_hall(db, windows=2, appointments=0, clock=clock, enforce_hours=True)
    hours.set_hours(db, closed_days={"2026-11-25": "系统升级"}, extended_days={"2026-11-29": ["09:00-11:00"]})
    invalidate(db)
    with pytest.raises(Conflict) as e:
        engine.issue_ticket(db, "ZH01", clock=clock)
    assert e.value.code == "hall_closed_day"
    assert e.value.zh == "今天（2026-11-25）系统升级，暂停取号。下次开放：明天 08:30"
    nxt = hours.next_opening(db, clock())
    assert (nxt["day"], nxt["time"], nxt["open_now"]) == ("2026-11-26", "08:30", False)
    clock.set("2026-11-29", "10:00")  # a Sunday opened for 延时服务
    assert engine.issue_ticket(db, "ZH01", clock=clock)["number"]
    assert hours.hall_hours(db, clock())["today"]["note"] == "extended"
    clock.set("2026-11-29", "11:30")
    with pytest.raises(Conflict) as e:
        engine.issue_ticket(db, "ZH01", clock=clock)
    assert e.value.code == "hall_closed" and e.value.details["next_opening"] == "明天 08:30"
    with pytest.raises(ValidationError) as bad:
        hours.set_hours(db, closed_days={"2026-12-01": "x"}, extended_days={"2026-12-01": ["09:00-10:00"]})
    assert bad.value.code == "bad_hours"
    with pytest.raises(ValidationError) as bad:
        set_setting(db, "closed_days", {"2026-13-01": "x"})
    assert bad.value.code == "bad_setting_value"


def test_hall_import_preview_lists_changes_without_writing(client, db):
    data = {"categories": [{"code": "new1", "name": "新类别", "prefix": "Q"}],
            "services": [{"code": "QY01", "name": "企业设立登记（新）", "category": "qiye"}], "windows": []}
    before, n = export_hall(db), audit_count(db)
    diff = client.post("/api/admin/hall/preview", json=data, headers=client.admin).get_json()
    assert diff["changes"] == 2
    assert diff["categories"][0] == {"key": "new1", "status": "new", "after": {
        "code": "new1", "name": "新类别", "name_en": "", "prefix": "Q"}}
    qy01 = next(i for i in diff["services"] if i["key"] == "QY01")
    assert qy01["changes"]["name"] == ["企业设立登记", "企业设立登记（新）"]
    assert export_hall(db) == before and audit_count(db) == n
    assert client.post("/api/admin/hall/import", json=data, headers=client.admin).get_json()["changes"] == 2
    assert last_audit(db)["kind"] == "hall.imported"


def test_appointments_book_list_cancel_without_personal_data(client, db):
    r = client.post("/api/admin/appointments", json={"service": "HZ02", "day": "2026-11-26", "slot_start": "09:00",
                                                     "slot_end": "09:30", "name": "王小明",
                                                     "id_number": "110101199003074514"}, headers=client.admin)
    assert r.status_code == 201, r.get_data(as_text=True)
    a = r.get_json()
    assert a["code"].startswith("YY") and a["name_masked"] == "王*明" and a["id_masked"].startswith("1101")
    raw = json.dumps(db.conn.execute("SELECT * FROM appointments WHERE code = ?", (a["code"],)).fetchone()[:])
    assert "王小明" not in raw and "110101199003074514" not in raw
    assert "王" not in json.dumps(last_audit(db))
    listed = client.get("/api/admin/appointments?day=2026-11-26", headers=client.admin).get_json()["appointments"]
    assert [x["code"] for x in listed] == [a["code"]]
    assert client.post(f"/api/admin/appointments/{a['code']}/cancel", headers=client.admin).get_json()["status"] == \
        "cancelled"
    again = client.post(f"/api/admin/appointments/{a['code']}/cancel", headers=client.admin)
    assert again.get_json()["error"]["code"] == "appointment_not_active"
    past = client.post("/api/admin/appointments", json={"service": "HZ02", "day": "2026-11-20", "slot_start": "09:00",
                                                        "slot_end": "09:30"}, headers=client.admin)
    assert past.get_json()["error"]["code"] == "bad_appointment"


def test_pages_send_a_content_security_policy_and_need_no_network(client):
    for path in ("/admin", "/admin/stats", "/admin/catalog"):
        r = client.get(path)
        assert r.status_code == 200 and "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert "http://" not in r.get_data(as_text=True) and "https://" not in r.get_data(as_text=True)
    assert client.get("/admin/nope").status_code == 404
    assert client.get("/admin-static/vendor/chart.umd.min.js").status_code == 200
