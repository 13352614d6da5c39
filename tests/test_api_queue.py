"""The JSON API end to end through Flask's test client: catalogue, tickets, calling,
windows, check-in, progress, state, notice, OpenAPI."""

from __future__ import annotations

import pytest

from queue_server import create_app
from tests.support.queue import RoleClient, valid_id


@pytest.fixture
def app(db_path, hall, clock):
    return create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock})


@pytest.fixture
def api(app, hall):
    client = app.test_client()

    return RoleClient(client, hall["tokens"])


def test_services_list_has_code_name_category_prefix(api):
    r = api.call("GET", "/api/services", "kiosk")
    assert r.status_code == 200
    qy01 = next(s for s in r.json if s["code"] == "QY01")
    assert {"code": "QY01", "name": "企业设立登记", "category": "qiye", "prefix": "A"}.items() <= qy01.items()
    assert len(r.json) >= 30 and len({s["category"] for s in r.json}) >= 8


def test_windows_list(api):
    r = api.call("GET", "/api/windows", "display")
    assert r.status_code == 200 and len(r.json) >= 12
    w1 = r.json[0]
    assert w1 == {**w1, "number": 1, "services": ["*"], "status": "open"}
    assert any(w["kind"] == "green" for w in r.json)


def test_issue_ticket_returns_201_with_the_documented_fields(api):
    r = api.call("POST", "/api/tickets", "kiosk", json={"service": "QY01"})
    assert r.status_code == 201
    t = r.json
    assert {"id", "number", "service", "status", "waiting_ahead", "estimated_wait_minutes", "issued_at"} <= set(t)
    assert (t["number"], t["service"], t["status"], t["issued_by"]) == ("A001", "QY01", "waiting", "demo-kiosk")
    assert api.call("GET", f"/api/tickets/{t['id']}", "kiosk").json["number"] == "A001"
    assert api.call("GET", "/api/tickets?number=a001", "kiosk").json["id"] == t["id"]


def test_issue_with_print_reports_the_print_queue_state(api):
    r = api.call("POST", "/api/tickets", "kiosk", json={"service": "QY01", "print": True})
    assert r.status_code == 201
    assert r.json["print"]["status"] in ("queued", "not_configured")


def test_issue_with_referral_reason_and_id(api):
    idn = valid_id("37018119900101123")
    r = api.call("POST", "/api/tickets", "kiosk",
                 json={"service": "QY02", "id_number": idn, "referral_reason": "人脸比对未通过"})
    assert r.status_code == 201
    assert r.json["referral_reason"] == "人脸比对未通过" and r.json["id_masked"] == "3701**********" + idn[-4:]


def test_call_next_then_lifecycle_over_http(api):
    t = api.call("POST", "/api/tickets", "kiosk", json={"service": "SB01"}).json
    r = api.call("POST", "/api/windows/6/call-next", "clerk")
    assert r.status_code == 200 and r.json["id"] == t["id"] and r.json["window"] == 6
    assert api.call("POST", f"/api/tickets/{t['id']}/recall", "clerk").json["call_count"] == 2
    assert api.call("POST", f"/api/tickets/{t['id']}/start", "clerk").json["status"] == "serving"
    assert api.call("POST", f"/api/tickets/{t['id']}/finish", "clerk").json["status"] == "done"
    assert api.call("POST", "/api/windows/6/call-next", "clerk").status_code == 204


def test_no_show_transfer_cancel_over_http(api):
    a = api.call("POST", "/api/tickets", "kiosk", json={"service": "SB01"}).json
    b = api.call("POST", "/api/tickets", "kiosk", json={"service": "SB01"}).json
    api.call("POST", "/api/windows/6/call-next", "clerk")
    assert api.call("POST", f"/api/tickets/{a['id']}/no-show", "clerk").json["status"] == "no_show"
    moved = api.call("POST", f"/api/tickets/{b['id']}/transfer", "clerk", json={"window": 12, "note": "税务"})
    assert moved.status_code == 200 and moved.json["transfer_window"] == 12
    assert api.call("POST", f"/api/tickets/{b['id']}/cancel", "admin").json["status"] == "cancelled"


def test_window_queue_open_pause_resume_close(api):
    api.call("POST", "/api/tickets", "kiosk", json={"service": "QY01"})
    q = api.call("GET", "/api/windows/4/queue", "clerk")
    assert [t["number"] for t in q.json] == ["A001"]
    assert api.call("POST", "/api/windows/4/pause", "clerk", json={}).status_code == 422
    assert api.call("POST", "/api/windows/4/pause", "clerk", json={"reason": "午休"}).json["status"] == "paused"
    assert api.call("POST", "/api/windows/4/call-next", "clerk").status_code == 409
    assert api.call("POST", "/api/windows/4/resume", "clerk").json["status"] == "open"
    assert api.call("POST", "/api/windows/4/close", "clerk").json["status"] == "closed"
    assert api.call("POST", "/api/windows/4/open", "clerk").json["status"] == "open"


def test_clerk_login_binds_the_window_to_the_clerk(api):
    api.call("POST", "/api/windows/4/close", "admin")
    tok1 = api.call("POST", "/api/login", json={"username": "clerk1", "password": "clerk123"}).json["token"]
    tok2 = api.call("POST", "/api/login", json={"username": "clerk2", "password": "clerk123"}).json["token"]
    h1, h2 = {"Authorization": f"Bearer {tok1}"}, {"Authorization": f"Bearer {tok2}"}
    assert api.call("POST", "/api/windows/4/open", headers=h1).json["clerk_user_id"] is not None
    api.call("POST", "/api/tickets", "kiosk", json={"service": "QY01"})
    assert api.call("POST", "/api/windows/4/call-next", headers=h2).status_code == 403
    assert api.call("POST", "/api/windows/4/call-next", headers=h1).status_code == 200
    state = api.call("GET", "/api/state", "display").json
    w4 = next(w for w in state["windows"] if w["number"] == 4)
    assert w4["clerk"] == {"name": "王*明", "staff_no": "0101"}


def test_appointment_check_in_over_http(api, db, clock):
    from tests.support.queue import add_appointment

    idn = valid_id("37011219800101123")
    add_appointment(db, "YY900001", "GJ01", "10:00", "10:30", id_number=idn)
    r = api.call("POST", "/api/appointments/check-in", "kiosk", json={"id_number": idn})
    assert r.status_code == 201 and r.json["number"] == "Y001"
    again = api.call("POST", "/api/appointments/check-in", "kiosk", json={"code": "YY900001"})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_checked_in"


def test_progress_is_public_and_has_no_personal_data(api):
    t = api.call("POST", "/api/tickets", "kiosk", json={"service": "QY01", "id_number": valid_id()}).json
    r = api.call("GET", f"/api/progress/{t['progress_code']}")
    assert r.status_code == 200 and r.json["number"] == "A001"
    assert "id_masked" not in r.json and valid_id()[-4:] not in r.get_data(as_text=True)


def test_state_for_displays_with_query_token(api):
    api.call("POST", "/api/tickets", "kiosk", json={"service": "QY01"})
    api.call("POST", "/api/windows/4/call-next", "clerk")
    r = api.call("GET", f"/api/state?token={api.tokens['display']}")
    assert r.status_code == 200
    assert r.json["recent_calls"][0] == {**r.json["recent_calls"][0], "number": "A001", "window": 4}
    assert {"hall", "windows", "recent_calls", "waiting", "last_event_id"} <= set(r.json)


def test_notice_is_admin_only_and_shows_in_state(api):
    assert api.call("PUT", "/api/notice", "clerk", json={"notice": "x"}).status_code == 403
    r = api.call("PUT", "/api/notice", "admin", json={"notice": "系统将于 17:00 维护"})
    assert r.status_code == 200
    assert api.call("GET", "/api/state", "display").json["hall"]["notice"] == "系统将于 17:00 维护"


def test_settings_api(api):
    listed = api.call("GET", "/api/settings", "admin").json
    assert {"max_wait_minutes", "opening_hours"} <= {s["name"] for s in listed}
    assert "id_salt" not in {s["name"] for s in listed}
    assert api.call("PUT", "/api/settings/id_salt", "admin", json={"value": "x"}).json["error"]["code"] \
        == "unknown_setting"
    assert api.call("PUT", "/api/settings/max_wait_minutes", "admin", json={"value": 20}).status_code == 200
    assert api.call("PUT", "/api/settings/max_wait_minutes", "admin", json={"value": "x"}).status_code == 422


def test_writes_poke_the_event_bus(app, api):
    bus = app.extensions["yichuang.bus"]
    sub = bus.subscribe()
    try:
        api.call("POST", "/api/tickets", "kiosk", json={"service": "QY01"})
        ev = sub.get(timeout=2)
        while ev.type != "ticket.issued":
            ev = sub.get(timeout=2)
        assert ev.data["number"] == "A001"
    finally:
        bus.unsubscribe(sub)
        bus.stop()


def test_openapi_describes_every_api_route(app, api):
    from queue_server.api.openapi import PATHS, openapi_path

    doc = api.call("GET", "/api/openapi.json").json
    assert doc["openapi"].startswith("3.")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = openapi_path(rule.rule)
        assert path in doc["paths"], path
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][path], (method, path)
        if rule.endpoint.startswith("api."):
            # The queue API's own routes carry a hand-written description.
            assert path in PATHS, path


def test_idempotency_key_returns_the_same_ticket_on_retry(api, db):
    h = {"Idempotency-Key": "kiosk-01-session-7"}
    first = api.call("POST", "/api/tickets", "kiosk", json={"service": "QY01"}, headers=dict(h))
    again = api.call("POST", "/api/tickets", "kiosk", json={"service": "QY01"}, headers=dict(h))
    assert first.status_code == again.status_code == 201
    assert again.json["id"] == first.json["id"] and again.json["replayed"] is True
    other = api.call("POST", "/api/tickets", "kiosk", json={"service": "QY01"},
                     headers={"Idempotency-Key": "kiosk-01-session-8"})
    assert other.json["number"] == "A002"
    # The key is scoped to the token: another caller's same key is a new request.
    clerk = api.call("POST", "/api/tickets", "clerk", json={"service": "QY01"}, headers=dict(h))
    assert clerk.json["number"] == "A003"
    assert db.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 3


def test_a_retry_key_reused_with_another_request_is_refused_not_answered_with_the_first_ticket(api, db):
    from tests.support.queue import valid_id

    h = {"Idempotency-Key": "kiosk-01-session-9"}
    first = api.call("POST", "/api/tickets", "kiosk", json={"service": "QY01", "id_number": valid_id("37018119800101123")},
                     headers=dict(h))
    assert first.status_code == 201
    for body in ({"service": "QY02", "id_number": valid_id("37018119800101123")},  # another service
                 {"service": "QY01", "id_number": valid_id("37018119900101123")},  # another citizen
                 {"service": "QY01"}):
        r = api.call("POST", "/api/tickets", "kiosk", json=body, headers=dict(h))
        assert r.status_code == 422 and r.json["error"]["code"] == "idempotency_key_reused", r.json
        assert "id_masked" not in r.json  # nobody else's ticket
    same = api.call("POST", "/api/tickets", "kiosk", json={"service": "QY01", "id_number": valid_id("37018119800101123")},
                    headers=dict(h))
    assert same.status_code == 201 and same.json["id"] == first.json["id"] and same.json["replayed"] is True
    assert db.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 1
    stored = db.conn.execute("SELECT request_digest FROM idempotency_keys").fetchone()[0]
    assert valid_id("37018119800101123") not in stored and ":" in stored  # keyed digest, no ID number


def test_concurrent_retries_with_one_idempotency_key_issue_one_ticket(app, hall, db):
    import threading

    results: list[tuple[int, int]] = []
    lock = threading.Lock()
    go = threading.Event()

    def retry() -> None:
        client = app.test_client()
        go.wait()
        r = client.post("/api/tickets", json={"service": "SB01"},
                        headers={"Authorization": f"Bearer {hall['tokens']['kiosk']}", "Idempotency-Key": "tap-1"})
        with lock:
            results.append((r.status_code, r.json["id"]))

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join()
    assert {s for s, _ in results} == {201}
    assert len({tid for _, tid in results}) == 1
    assert db.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 1
