"""Appointments from outside (issue 18): POST/DELETE/GET /api/appointments with the booking
role, idempotent retries and conflicts, every validation error, and the check-in rules
(cancelled before the date, late → appointment_late unless accept_ordinary, too early
says when check-in opens)."""

from __future__ import annotations

import json

import pytest

from queue_server import create_app
from tests.support.queue import RoleClient, valid_id, wrong_check_digit

DAY = "2026-11-25"  # a Wednesday; FakeClock starts at 10:00 hall time




@pytest.fixture
def api(db_path, hall, clock):
    client = create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock}).test_client()

    return RoleClient(client, hall["tokens"])


def booking(code: str = "AS20261125001", **kw):
    body = {"code": code, "service": "HZ02", "date": DAY, "slot_start": "10:30", "slot_end": "11:00",
            "id_number": valid_id("11010119900307451"), "name": "王小明"}
    body.update(kw)
    return body


def error(r) -> str:
    return r.get_json()["error"]["code"]


# --- booking -------------------------------------------------------------------------------


def test_booking_answers_201_with_masked_id_and_name_never_the_full_id(api, db):
    body = booking()
    r = api.call("POST", "/api/appointments", "booking", json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    a = r.get_json()
    assert {k: a[k] for k in ("code", "service", "date", "slot_start", "slot_end", "status")} == {
        "code": "AS20261125001", "service": "HZ02", "date": DAY, "slot_start": "10:30", "slot_end": "11:00",
        "status": "booked"}
    assert a["name_masked"] == "王*明" and a["id_masked"].startswith("1101") and "*" in a["id_masked"]
    text = r.get_data(as_text=True)
    assert body["id_number"] not in text and "王小明" not in text
    stored = json.dumps([list(r) for r in db.conn.execute("SELECT * FROM appointments")], ensure_ascii=False)
    assert body["id_number"] not in stored and "王小明" not in stored
    assert api.call("POST", "/api/appointments", "admin", json=booking("AS0002")).status_code == 201


def test_optional_fields_may_be_absent_or_null(api):
    r = api.call("POST", "/api/appointments", "booking",
                 json={k: v for k, v in booking().items() if k not in ("id_number", "name")})
    assert r.status_code == 201 and r.get_json()["id_masked"] is None and r.get_json()["name_masked"] is None
    r = api.call("POST", "/api/appointments", "booking", json=booking("AS0003", id_number=None, name=None))
    assert r.status_code == 201


def test_the_same_body_again_is_200_with_the_same_appointment_another_body_409(api):
    first = api.call("POST", "/api/appointments", "booking", json=booking())
    again = api.call("POST", "/api/appointments", "booking", json=booking())
    assert again.status_code == 200 and again.get_json() == first.get_json()
    for change in ({"slot_start": "10:00"}, {"name": "王小华"}, {"id_number": valid_id("11010119900307452")},
                   {"service": "HZ04"}):
        r = api.call("POST", "/api/appointments", "booking", json=booking(**change))
        assert r.status_code == 409 and error(r) == "appointment_conflict", change
        assert r.get_json()["error"]["details"]["appointment"] == "AS20261125001"


def test_a_retry_after_the_slot_ended_is_still_the_same_appointment(api, clock):
    api.call("POST", "/api/appointments", "booking", json=booking())
    clock.set(DAY, "11:30")
    assert api.call("POST", "/api/appointments", "booking", json=booking()).status_code == 200


@pytest.mark.parametrize("change, code, field", [
    ({"service": "NOPE"}, "unknown_service", "service"),
    ({"id_number": wrong_check_digit()}, "bad_id_number", "id_number"),
    ({"date": "2026-11-29"}, "bad_slot", "date"),                      # a Sunday: closed
    ({"slot_start": "07:00", "slot_end": "07:30"}, "bad_slot", "slot_start"),  # before opening
    ({"slot_start": "11:45", "slot_end": "12:15"}, "bad_slot", "slot_start"),  # across the lunch break
    ({"slot_start": "09:00", "slot_end": "09:30"}, "bad_slot", "slot_end"),    # ended already (now 10:00)
    ({"date": "2026-11-24"}, "bad_slot", "slot_end"),                  # yesterday
    ({"date": "25/11/2026"}, "bad_slot", "date"),
    ({"slot_start": "9:00"}, "bad_slot", "slot_start"),
    ({"slot_end": "10:00"}, "bad_slot", "slot_end"),                   # ends before it starts
    ({"code": "a b"}, "bad_appointment_code", "code"),
])
def test_validation_errors(api, change, code, field):
    r = api.call("POST", "/api/appointments", "booking", json=booking(**change))
    assert r.status_code == 422 and error(r) == code, r.get_data(as_text=True)
    assert r.get_json()["error"]["details"]["field"] == field


def test_a_closed_day_of_the_hall_is_a_bad_slot(api):
    r = api.call("PUT", "/api/admin/hours", "admin", json={"closed_days": {"2026-11-26": "系统升级"}})
    assert r.status_code == 200, r.get_data(as_text=True)
    r = api.call("POST", "/api/appointments", "booking", json=booking(date="2026-11-26"))
    assert error(r) == "bad_slot" and "系统升级" in r.get_json()["error"]["message"]


def test_missing_fields(api):
    r = api.call("POST", "/api/appointments", "booking", json={"code": "AS0001"})
    assert r.status_code == 422 and error(r) == "missing_field"


@pytest.mark.parametrize("role", ["kiosk", "display"])
def test_kiosk_and_display_may_not_book_cancel_or_list(api, role):
    assert api.call("POST", "/api/appointments", role, json=booking()).status_code == 403
    assert api.call("DELETE", "/api/appointments/AS0001", role).status_code == 403
    assert api.call("GET", f"/api/appointments?date={DAY}", role,).status_code == 403


def test_cancel_and_list_including_cancelled(api):
    api.call("POST", "/api/appointments", "booking", json=booking("AS0001"))
    api.call("POST", "/api/appointments", "booking", json=booking("AS0002", slot_start="13:00", slot_end="13:30"))
    r = api.call("DELETE", "/api/appointments/AS0001", "booking")
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    assert api.call("DELETE", "/api/appointments/AS0001", "booking").get_json()["status"] == "cancelled"  # a retry
    assert api.call("DELETE", "/api/appointments/NOPE", "booking").status_code == 404
    for role in ("booking", "clerk", "admin"):
        listed = api.call("GET", f"/api/appointments?date={DAY}", role).get_json()
        assert listed["date"] == DAY
        assert [(a["code"], a["status"]) for a in listed["appointments"]] == [("AS0001", "cancelled"), ("AS0002", "booked")]
    assert api.call("GET", "/api/appointments?date=2026-11-26", "booking").get_json()["appointments"] == []


def test_the_audit_trail_has_the_booking_without_personal_data(api, db):
    api.call("POST", "/api/appointments", "booking", json=booking())
    row = db.conn.execute("SELECT kind, actor, data FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    assert row[0] == "appointment.changed" and row[1] == "token:demo-booking"
    assert "王" not in row[2] and booking()["id_number"][:6] not in row[2]


# --- check-in ------------------------------------------------------------------------------


def check_in(api, **body):
    return api.call("POST", "/api/appointments/check-in", "kiosk", json=body)


def test_a_cancelled_appointment_is_refused_whatever_its_date(api, clock):
    api.call("POST", "/api/appointments", "booking", json=booking("AS0001"))
    api.call("POST", "/api/appointments", "booking", json=booking("AS0002", date="2026-11-26"))
    for code in ("AS0001", "AS0002"):
        api.call("DELETE", f"/api/appointments/{code}", "booking")
        r = check_in(api, code=code)
        assert r.status_code == 409 and error(r) == "appointment_cancelled"
        assert r.get_json()["error"]["message"] == "该预约已取消，不能签到"
    r = check_in(api, id_number=booking()["id_number"])
    assert error(r) == "appointment_cancelled"


def test_an_expired_appointment_is_still_not_active(api, db):
    api.call("POST", "/api/appointments", "booking", json=booking("AS0001"))
    db.conn.execute("UPDATE appointments SET status = 'expired' WHERE code = 'AS0001'")
    assert error(check_in(api, code="AS0001")) == "appointment_not_active"


def test_on_time_check_in_gives_a_y_ticket(api):
    api.call("POST", "/api/appointments", "booking", json=booking())
    r = check_in(api, id_number=booking()["id_number"])
    assert r.status_code == 201 and r.get_json()["number"] == "Y001" and r.get_json()["priority"] == "appointment"


def test_too_early_says_from_what_time_check_in_opens(api):
    api.call("POST", "/api/appointments", "booking", json=booking(slot_start="13:30", slot_end="14:00"))
    r = check_in(api, code="AS20261125001")
    assert r.status_code == 409 and error(r) == "appointment_too_early"
    assert r.get_json()["error"]["details"]["opens_at"] == "12:30"
    assert "12:30 起可以签到" in r.get_json()["error"]["message"]


def test_late_check_in_is_409_with_minutes_late_unless_the_citizen_accepts_an_ordinary_ticket(api, clock, db):
    api.call("POST", "/api/appointments", "booking", json=booking())
    clock.set(DAY, "10:52")  # 22 minutes after 10:30; the grace is 15
    r = check_in(api, code="AS20261125001")
    assert r.status_code == 409 and error(r) == "appointment_late"
    details = r.get_json()["error"]["details"]
    assert details["minutes_late"] == 22 and details["slot"] == "10:30-11:00" and details["service"] == "HZ02"
    assert db.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 0
    r = check_in(api, code="AS20261125001", accept_ordinary=True)
    assert r.status_code == 201
    t = r.get_json()
    assert t["service"] == "HZ02" and t["priority"] is None and not t["number"].startswith("Y")
    assert t["appointment"]["on_time"] is False
    assert error(check_in(api, code="AS20261125001", accept_ordinary=True)) == "already_checked_in"


def test_late_through_the_ticket_endpoint_too(api, clock):
    api.call("POST", "/api/appointments", "booking", json=booking())
    clock.set(DAY, "10:50")
    r = api.call("POST", "/api/tickets", "kiosk", json={"service": "HZ02", "appointment": "AS20261125001"})
    assert error(r) == "appointment_late"
    r = api.call("POST", "/api/tickets", "kiosk",
                 json={"service": "HZ02", "appointment": "AS20261125001", "accept_ordinary": True})
    assert r.status_code == 201 and r.get_json()["priority"] is None


def test_prefixes_list_every_first_letter_including_y_and_v(api):
    letters = api.call("GET", "/api/prefixes", "kiosk").get_json()["prefixes"]
    assert "Y" in letters and "V" in letters and "A" in letters and letters == sorted(letters)
