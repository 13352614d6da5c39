"""The working-day calendar of 差评 deadlines over HTTP: ``GET /api/evaluations/calendar``
lists a year with each day's kind and source (official, statutory, hall) and whether the year
is provisional; ``POST`` / ``DELETE`` (admin only, audited) enter and remove a day and count
the provisional deadlines again exactly as the CLI does; refusals have the error shape and
write nothing. Also ``calendar refresh`` recounting a deadline stored by an older rule."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from queue_server.cli import main
from queue_server.evaluations.calendar_days import list_days
from tests.support.evaluations import Api, assert_error, counts, finished_ticket, seed
from tests.support.queue import FakeClock, hall_time

URL = "/api/evaluations/calendar"


@pytest.fixture
def clock():
    return FakeClock(hall_time("2026-12-25", "10:00"))    # a Friday; 5 working days reach into 2027


@pytest.fixture
def hall(db, clock):
    return seed(db, clock)


@pytest.fixture
def api(db_path, hall, clock) -> Api:
    return Api(db_path, hall, clock)


def _bad_rating(api: Api, db, clock) -> dict:
    t = finished_ticket(db, clock)
    r = api.as_("display").rate(ticket=t["id"], level=1, reasons=["attitude"], channel="window")
    assert r.status_code == 201
    return r.json["rectification"]


def _days(resp) -> dict[str, dict]:
    return {d["day"]: d for d in resp.get_json()["days"]}


def test_a_known_year_lists_the_official_schedule(api):
    r = api.as_("supervisor").get(URL + "?year=2026")
    assert r.status_code == 200
    data = r.get_json()
    assert data["year"] == 2026 and data["provisional"] is False and data["official_years"][-1] == 2026
    days = _days(r)
    assert days["2026-10-01"] == {"day": "2026-10-01", "kind": "holiday", "source": "official", "name": "国庆节",
                                  "name_en": "National Day", "note": ""}
    assert days["2026-10-10"]["kind"] == "workday" and days["2026-10-10"]["source"] == "official"
    assert days["2026-02-14"]["kind"] == "workday"                  # the Spring Festival 调休 Saturday
    assert {d["source"] for d in days.values()} == {"official"}
    assert "2026-11-25" not in days                                 # an ordinary day is not listed


def test_an_unknown_year_lists_the_statutory_holidays_and_is_provisional(api):
    r = api.as_("admin").get(URL + "?year=2027")
    data = r.get_json()
    assert data["provisional"] is True and data["libraries"]["statutory"].startswith("holidays ")
    days = _days(r)
    assert sorted(days) == ["2027-01-01", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", "2027-04-05",
                            "2027-05-01", "2027-05-02", "2027-06-09", "2027-09-15", "2027-10-01", "2027-10-02",
                            "2027-10-03"]
    assert all(d["kind"] == "holiday" and d["source"] == "statutory" for d in days.values())
    assert days["2027-02-05"]["name"] == "农历除夕" and days["2027-01-01"]["name_en"] == "New Year's Day"
    # Without ?year the hall's current year.
    assert api.as_("supervisor").get(URL).get_json()["year"] == 2026


def test_adding_a_调休_day_recounts_provisional_deadlines_and_is_audited(api, db, clock):
    rect = _bad_rating(api, db, clock)
    # Mon 28 … Thu 31, then Fri 2027-01-01 (元旦) skipped: Mon Jan 4.
    assert rect == {"id": rect["id"], "deadline": "2027-01-04", "provisional": True}
    admin = api.login(db, "admin")
    r = admin.post(URL, json={"day": "2027-01-02", "kind": "workday", "note": "元旦调休"})
    assert r.status_code == 201
    assert r.get_json() == {"day": "2027-01-02", "kind": "workday", "note": "元旦调休", "source": "hall",
                            "deadlines_changed": 1}
    case = api.as_("supervisor").get(f"/api/rectifications/{rect['id']}").get_json()
    assert (case["deadline"], case["provisional"]) == ("2027-01-02", True)      # the entered Saturday counts
    assert db.conn.execute("SELECT deadline FROM rectifications").fetchone()[0] == "2027-01-02"
    days = _days(api.as_("supervisor").get(URL + "?year=2027"))
    assert days["2027-01-02"] == {"day": "2027-01-02", "kind": "workday", "source": "hall", "name": "",
                                  "name_en": "", "note": "元旦调休"}
    uid = api.hall["users"]["admin"]["id"]
    rows = db.conn.execute("SELECT kind, actor, data FROM audit WHERE kind IN "
                           "('evaluations.calendar_day', 'rectification.deadline_changed') ORDER BY id").fetchall()
    assert [(k, a) for k, a, _ in rows] == [("evaluations.calendar_day", f"user:{uid}"),
                                            ("rectification.deadline_changed", f"user:{uid}")]
    assert json.loads(rows[0][2])["day_kind"] == "workday"
    assert json.loads(rows[1][2])["before"] == "2027-01-04" and json.loads(rows[1][2])["after"] == "2027-01-02"

    # An entered holiday over a statutory one is listed in its place, naming what it overrides.
    assert admin.post(URL, json={"day": "2027-02-05", "kind": "holiday", "note": "除夕"}).status_code == 201
    day = _days(api.as_("admin").get(URL + "?year=2027"))["2027-02-05"]
    assert (day["source"], day["statutory"]) == ("hall", "农历除夕")

    # Removing the Saturday counts the deadline back.
    r = admin.client.delete(URL + "/2027-01-02", headers=admin._headers())
    assert r.status_code == 200
    assert r.get_json() == {"day": "2027-01-02", "removed": True, "deadlines_changed": 1}
    assert db.conn.execute("SELECT deadline, provisional FROM rectifications").fetchone()[:] == ("2027-01-04", 1)
    assert [d["day"] for d in list_days(db)] == ["2027-02-05"]
    assert db.conn.execute("SELECT COUNT(*) FROM audit WHERE kind = 'evaluations.calendar_day'").fetchone()[0] == 3


@pytest.mark.parametrize("payload, status, code", [
    ({"day": "2027-13-01", "kind": "holiday"}, 422, "bad_calendar_day"),
    ({"day": "2027-1-1", "kind": "holiday"}, 422, "bad_calendar_day"),
    ({"day": 20270101, "kind": "holiday"}, 422, "bad_calendar_day"),
    ({"day": "2027-02-20", "kind": "weekend"}, 422, "bad_calendar_day"),
    ({"day": "2027-02-20", "kind": ["workday"]}, 422, "bad_calendar_day"),
    ({"day": "2026-10-08", "kind": "holiday"}, 422, "bad_calendar_day"),     # 2026 is known: nothing to enter
    ({"kind": "holiday"}, 422, "missing_field"),
    ({"day": "2027-02-20"}, 422, "missing_field"),
    ({"day": "2027-02-20", "kind": "workday", "note": "x" * 201}, 422, "field_too_long"),
])
def test_bad_days_and_kinds_are_refused_and_write_nothing(api, db, payload, status, code):
    before = counts(db)
    assert_error(api.as_("admin").post(URL, json=payload), status, code)
    assert counts(db) == before and list_days(db) == []


def test_only_an_admin_changes_the_calendar(api, db):
    for role in ("supervisor", "clerk", "display", "kiosk", "technician"):
        assert_error(api.as_(role).post(URL, json={"day": "2027-02-20", "kind": "workday"}), 403, "forbidden")
    assert_error(api.as_(None).post(URL, json={"day": "2027-02-20", "kind": "workday"}), 401, "auth_required")
    assert_error(api.as_("clerk").get(URL), 403, "forbidden")
    assert api.as_("admin").post(URL, json={"day": "2027-02-20", "kind": "workday"}).status_code == 201
    sup = api.as_("supervisor")
    assert_error(sup.client.delete(URL + "/2027-02-20", headers=sup._headers()), 403, "forbidden")
    assert [d["day"] for d in list_days(db)] == ["2027-02-20"]


def test_removing_a_day_not_entered_or_a_bad_one(api, db):
    admin = api.as_("admin")
    before = counts(db)
    r = admin.client.delete(URL + "/2027-01-01", headers=admin._headers())     # statutory, not entered
    assert_error(r, 404, "calendar_day_not_entered")
    assert_error(admin.client.delete(URL + "/tomorrow", headers=admin._headers()), 422, "bad_calendar_day")
    assert_error(admin.get(URL + "?year=27"), 422, "bad_calendar_day")
    assert counts(db) == before


def test_an_admin_on_a_one_time_password_changes_nothing(api, db):
    from queue_server.admin.staff import reset_password

    uid = api.hall["users"]["admin"]["id"]
    pw = reset_password(db, uid)["password"]
    api.hall["users"]["admin"]["password"] = pw
    admin = api.login(db, "admin")
    assert_error(admin.post(URL, json={"day": "2027-02-20", "kind": "workday"}), 409, "password_change_required")
    assert list_days(db) == []


def test_refresh_recounts_a_deadline_stored_by_the_older_weekday_rule(api, db, clock, db_path):
    rect = _bad_rating(api, db, clock)
    # As a release without the statutory holidays stored it: Fri 2027-01-01 counted.
    db.conn.execute("UPDATE rectifications SET deadline = '2027-01-01' WHERE id = ?", (rect["id"],))
    db.conn.commit()
    r = CliRunner().invoke(main, ["evaluations", "calendar", "refresh", "--db", str(db_path)])
    assert r.exit_code == 0 and "1 provisional deadline(s) changed" in r.output
    assert db.conn.execute("SELECT deadline, provisional FROM rectifications").fetchone()[:] == ("2027-01-04", 1)
    assert db.conn.execute("SELECT COUNT(*) FROM audit WHERE kind = 'rectification.deadline_changed'").fetchone()[0] == 1
