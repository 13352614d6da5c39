"""The clerk's morning over the API (issue 18): the no-show list, 特呼, the repeat guard of
叫下一位, transfer to a closed window, and the audit of a special call."""

from __future__ import annotations

import json

import pytest

from queue_server import create_app
from tests.support.queue import RoleClient


@pytest.fixture
def app(db_path, hall, clock):
    return create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock})


@pytest.fixture
def api(app, hall):
    client = app.test_client()

    class Api(RoleClient):
        default_role = "clerk"

        def issue(self, service: str = "SB01") -> dict:
            r = self.call("POST", "/api/tickets", "kiosk", json={"service": service})
            assert r.status_code == 201
            return r.json

    return Api(client, hall["tokens"])


def _code(r) -> str:
    return r.json["error"]["code"]


# --- the repeat guard ----------------------------------------------------------------------


def test_second_call_next_within_the_guard_is_refused_and_leaves_the_ticket(api, clock):
    a, b = api.issue(), api.issue()
    assert api.call("POST", "/api/windows/6/call-next").json["number"] == a["number"]
    clock.advance(4)
    r = api.call("POST", "/api/windows/6/call-next")
    assert r.status_code == 409 and _code(r) == "just_called"
    assert r.json["error"]["details"]["number"] == a["number"]
    assert "刚叫过 " + a["number"] in r.json["error"]["message"]
    assert api.call("GET", f"/api/tickets/{a['id']}").json["status"] == "called"
    assert api.call("GET", f"/api/tickets/{b['id']}").json["status"] == "waiting"
    # The clerk confirms: the first goes to 过号 and the next is called.
    r = api.call("POST", "/api/windows/6/call-next", json={"confirm": True})
    assert r.status_code == 200 and r.json["number"] == b["number"]
    assert api.call("GET", f"/api/tickets/{a['id']}").json["status"] == "no_show"


def test_call_next_after_the_guard_goes_through(api, clock):
    a, b = api.issue(), api.issue()
    api.call("POST", "/api/windows/6/call-next")
    clock.advance(5)
    r = api.call("POST", "/api/windows/6/call-next")
    assert r.status_code == 200 and r.json["id"] == b["id"]
    assert api.call("GET", f"/api/tickets/{a['id']}").json["status"] == "no_show"


def test_guard_only_protects_a_called_ticket_and_only_at_its_window(api, clock):
    a, _b, _c = api.issue(), api.issue(), api.issue()
    api.call("POST", "/api/windows/6/call-next")
    # Another window is not guarded by window 6's call.
    assert api.call("POST", "/api/windows/7/call-next").status_code == 200
    # Serving (the citizen arrived): the next press finishes it, no question.
    api.call("POST", f"/api/tickets/{a['id']}/start")
    assert api.call("POST", "/api/windows/6/call-next").status_code == 200
    assert api.call("GET", f"/api/tickets/{a['id']}").json["status"] == "done"


def test_guard_setting_is_validated_and_zero_turns_it_off(api, db, clock):
    for bad in (-1, 61, "5", True):
        r = api.call("PUT", "/api/settings/call_repeat_guard_seconds", "admin", json={"value": bad})
        assert r.status_code == 422, bad
    assert api.call("PUT", "/api/settings/call_repeat_guard_seconds", "admin", json={"value": 0}).status_code == 200
    api.issue(), api.issue()
    api.call("POST", "/api/windows/6/call-next")
    assert api.call("POST", "/api/windows/6/call-next").status_code == 200
    r = api.call("GET", "/api/settings", "admin")
    assert {"name": "call_repeat_guard_seconds", "default": 5}.items() <= next(
        s for s in r.json if s["name"] == "call_repeat_guard_seconds").items()


def test_confirm_must_be_a_boolean(api):
    api.issue()
    r = api.call("POST", "/api/windows/6/call-next", json={"confirm": "yes"})
    assert r.status_code == 422 and _code(r) == "bad_field"


# --- the no-show list --------------------------------------------------------------------


def _make_no_shows(api, clock, n: int) -> list[dict]:
    tickets = [api.issue() for _ in range(n)]
    for t in tickets:
        assert api.call("POST", "/api/windows/6/call-next", json={"confirm": True}).json["id"] == t["id"]
        assert api.call("POST", f"/api/tickets/{t['id']}/no-show").status_code == 200
        clock.advance(60)
    return tickets


def test_no_show_list_newest_first_with_recallable_and_why_not(api, db, clock):
    tickets = _make_no_shows(api, clock, 5)  # no_show_recall_last = 3 (default)
    r = api.call("GET", "/api/windows/6/no-shows")
    assert r.status_code == 200
    got = [(t["number"], t["recallable"], t["not_recallable"]) for t in r.json]
    numbers = [t["number"] for t in reversed(tickets)]
    assert got == [(numbers[0], True, None), (numbers[1], True, None), (numbers[2], True, None),
                   (numbers[3], False, "not_among_last"), (numbers[4], False, "not_among_last")]
    assert all(t["status"] == "no_show" and t["window"] == 6 for t in r.json)
    # Past no_show_recall_minutes (30) every one is too old, which wins over not_among_last.
    clock.advance(minutes=31)
    r = api.call("GET", "/api/windows/6/no-shows")
    assert {t["not_recallable"] for t in r.json} == {"too_old"} and not any(t["recallable"] for t in r.json)
    # Another window's list is its own.
    assert api.call("GET", "/api/windows/7/no-shows").json == []


def test_no_show_list_matches_what_recall_allows(api, clock):
    tickets = _make_no_shows(api, clock, 4)
    listed = {t["id"]: t["recallable"] for t in api.call("GET", "/api/windows/6/no-shows").json}
    old = tickets[0]
    assert listed[old["id"]] is False
    r = api.call("POST", f"/api/tickets/{old['id']}/recall", json={"window": 6})
    assert r.status_code == 409 and _code(r) == "no_show_expired"
    newest = tickets[-1]
    assert listed[newest["id"]] is True
    r = api.call("POST", f"/api/tickets/{newest['id']}/recall", json={"window": 6})
    assert r.status_code == 200 and r.json["status"] == "called"


def test_no_show_list_roles_and_unknown_window(api):
    assert api.call("GET", "/api/windows/6/no-shows", "kiosk").status_code == 403
    assert api.call("GET", "/api/windows/6/no-shows", "display").status_code == 403
    assert api.call("GET", "/api/windows/6/no-shows", None).status_code == 401
    assert api.call("GET", "/api/windows/6/no-shows", "admin").status_code == 200
    r = api.call("GET", "/api/windows/99/no-shows")
    assert r.status_code == 404 and _code(r) == "window_not_found"


# --- 特呼 ----------------------------------------------------------------------------------


def test_special_call_calls_that_number_and_closes_the_current_one(app, api, db, clock):
    a, b, c = api.issue(), api.issue(), api.issue()
    api.call("POST", "/api/windows/6/call-next")  # a is called at 6
    bus = app.extensions["yichuang.bus"]
    before = bus.last_id
    r = api.call("POST", "/api/windows/6/call", json={"number": c["number"].lower(), "reason": "老人行动不便"})
    assert r.status_code == 200
    assert (r.json["id"], r.json["status"], r.json["window"], r.json["call_count"]) == (c["id"], "called", 6, 1)
    assert api.call("GET", f"/api/tickets/{a['id']}").json["status"] == "no_show"
    assert api.call("GET", f"/api/tickets/{b['id']}").json["status"] == "waiting"
    # The same event (voice, screens) as a normal call, and the call log the displays read.
    events = [e for e in db.conn.execute("SELECT type, data FROM events WHERE id > ? ORDER BY id", (before,))]
    called = [json.loads(d) for t, d in events if t == "ticket.called"]
    assert called and called[-1]["number"] == c["number"] and called[-1]["window"] == 6
    state = api.call("GET", "/api/state", "display").json
    assert state["recent_calls"][0] == {**state["recent_calls"][0], "number": c["number"], "window": 6, "kind": "call"}
    # Audited with the clerk and the reason.
    row = db.conn.execute("SELECT actor, data FROM audit WHERE kind = 'ticket.special_call'").fetchone()
    data = json.loads(row[1])
    assert data == {**data, "number": c["number"], "window": 6, "reason": "老人行动不便", "was": "waiting",
                    "ticket": c["id"]}
    assert row[0].startswith(("user:", "token:"))


def test_special_call_by_a_logged_in_clerk_records_the_clerk(api, db):
    t = api.issue("QY01")
    login = api.call("POST", "/api/login", None, json={"username": "clerk1", "password": "clerk123"}).json
    h = {"Authorization": f"Bearer {login['token']}"}
    assert api.call("POST", "/api/windows/4/open", None, headers=h).status_code == 200
    r = api.call("POST", "/api/windows/4/call", None, headers=h, json={"number": t["number"]})
    assert r.status_code == 200
    actor, data = db.conn.execute("SELECT actor, data FROM audit WHERE kind = 'ticket.special_call'").fetchone()
    assert actor == f"user:{login['user']['id']}"
    assert json.loads(data)["clerk_user_id"] == login["user"]["id"] and json.loads(data)["reason"] == ""


def test_special_call_of_a_recallable_no_show(api, clock):
    t = _make_no_shows(api, clock, 1)[0]
    r = api.call("POST", "/api/windows/6/call", json={"number": t["number"]})
    assert r.status_code == 200 and r.json["status"] == "called" and r.json["call_count"] == 2


def test_special_call_errors(api, clock):
    old = _make_no_shows(api, clock, 1)[0]
    clock.advance(minutes=31)  # too old to recall
    waiting_qy = api.issue("QY01")
    r = api.call("POST", "/api/windows/6/call", json={"number": "A999"})
    assert r.status_code == 404 and _code(r) == "ticket_not_found"
    r = api.call("POST", "/api/windows/6/call", json={"number": old["number"]})
    assert r.status_code == 409 and _code(r) == "bad_ticket_state"
    r = api.call("POST", "/api/windows/6/call", json={"number": waiting_qy["number"]})
    assert r.status_code == 409 and _code(r) == "service_not_at_window"
    assert "6 号窗口" in r.json["error"]["message"]
    # A called ticket is not waiting either.
    api.call("POST", "/api/windows/4/call-next")
    r = api.call("POST", "/api/windows/5/call", json={"number": waiting_qy["number"]})
    assert r.status_code == 409 and _code(r) == "bad_ticket_state"
    # Body, role and window checks.
    assert _code(api.call("POST", "/api/windows/6/call", json={})) == "missing_field"
    assert api.call("POST", "/api/windows/6/call", json={"number": 12}).status_code == 422
    assert api.call("POST", "/api/windows/6/call", "kiosk", json={"number": "A001"}).status_code == 403
    assert api.call("POST", "/api/windows/99/call", json={"number": "A001"}).status_code == 404
    api.call("POST", "/api/windows/6/pause", json={"reason": "午休"})
    fresh = api.issue()
    r = api.call("POST", "/api/windows/6/call", json={"number": fresh["number"]})
    assert r.status_code == 409 and _code(r) == "window_paused"


def test_universal_window_may_special_call_any_service(api):
    t = api.issue("GJ01")
    assert api.call("POST", "/api/windows/1/call", json={"number": t["number"]}).status_code == 200


# --- transfer to a closed window ---------------------------------------------------------


def test_transfer_to_a_closed_window_names_the_open_ones(api):
    t = api.issue("SB01")
    api.call("POST", "/api/windows/6/call-next")
    assert api.call("POST", "/api/windows/7/close").status_code == 200
    r = api.call("POST", f"/api/tickets/{t['id']}/transfer", json={"window": 7})
    assert r.status_code == 409 and _code(r) == "window_closed"
    details = r.json["error"]["details"]
    assert details["window"] == 7 and details["open_windows"] == [1, 2, 3]  # 6 is its own
    assert "7 号窗口未开启" in r.json["error"]["message"] and "1、2、3" in r.json["error"]["message"]
    assert api.call("GET", f"/api/tickets/{t['id']}").json["status"] == "called"
    # Paused is not closed: the clerk is coming back.
    api.call("POST", "/api/windows/7/open")
    api.call("POST", "/api/windows/7/pause", json={"reason": "临时离开"})
    assert api.call("POST", f"/api/tickets/{t['id']}/transfer", json={"window": 7}).status_code == 200


def test_transfer_to_a_closed_window_when_no_window_is_open(api):
    t = api.issue("GJ01")
    api.call("POST", "/api/windows/10/call-next")
    for w in (1, 2, 3):
        api.call("POST", f"/api/windows/{w}/close")
    r = api.call("POST", f"/api/tickets/{t['id']}/transfer", json={"window": 2, "service": "GJ02"})
    # With a new service the clerk's own window counts: it serves GJ02 and is open.
    assert r.status_code == 409 and r.json["error"]["details"]["open_windows"] == [10]
    api.call("POST", "/api/windows/10/close")
    r = api.call("POST", f"/api/tickets/{t['id']}/transfer", "admin", json={"window": 2})
    assert r.status_code == 409 and r.json["error"]["details"]["open_windows"] == []
    assert "没有开启的窗口" in r.json["error"]["message"]
