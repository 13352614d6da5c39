"""POST /api/evaluations and its rules: levels, reasons, 一次一评, channels and roles, phone
limits, the masked evaluator, the event and audit record; every refusal has the error
shape and writes nothing. Also the supervisor role in the users/tokens checks."""

from __future__ import annotations

import json

import pytest

from queue_server import queue as engine
from queue_server.auth import create_token, create_user
from queue_server.errors import ValidationError
from queue_server.settings import set_setting
from tests.support.evaluations import Api, assert_error, counts, finished_ticket, kiosk_case, seed
from tests.support.queue import FakeClock, hall_time, valid_id


@pytest.fixture
def hall(db, clock):
    return seed(db, clock)


@pytest.fixture
def api(db_path, hall, clock) -> Api:
    return Api(db_path, hall, clock)


def test_reasons_for_any_token_and_none_without(api):
    for role in ("kiosk", "display", "clerk", "supervisor", "technician"):
        r = api.as_(role).get("/api/evaluations/reasons")
        assert r.status_code == 200
        assert r.json["version"] == "2026.1"
        assert {"code": "attitude", "name": "服务态度不好", "name_en": "Poor service attitude"} in r.json["reasons"]
        assert all(set(x) == {"code", "name", "name_en"} for x in r.json["reasons"])
    assert_error(api.as_(None).get("/api/evaluations/reasons"), 401, "auth_required")


def test_a_good_rating_at_the_window_is_recorded_with_event_and_audit(api, db, clock):
    t = finished_ticket(db, clock, window=3)
    r = api.as_("display").rate(ticket=t["id"], level=4, channel="window")
    assert r.status_code == 201
    assert r.json == {"id": r.json["id"], "level": 4, "count": 1}
    ev = json.loads(db.conn.execute("SELECT data FROM events WHERE type = 'evaluation.created'").fetchone()[0])
    assert {"id", "level", "channel", "service", "window", "ticket", "count", "reasons"} <= set(ev)
    assert (ev["level"], ev["channel"], ev["service"], ev["window"], ev["ticket"], ev["count"], ev["reasons"]) == \
        (4, "window", "QY01", 3, t["id"], 1, [])
    assert ev["channel_code"] == "政务大厅平板电脑" and ev["rectification"] is None
    audit = json.loads(db.conn.execute("SELECT data FROM audit WHERE kind = 'evaluation.created'").fetchone()[0])
    assert audit["evaluation_id"] == r.json["id"] and audit["level"] == 4 and audit["ticket_id"] == t["id"]
    assert db.conn.execute("SELECT COUNT(*) FROM rectifications").fetchone()[0] == 0


def test_a_bad_rating_opens_a_rectification_on_the_working_day_calendar(api, db, clock):
    t = finished_ticket(db, clock)
    r = api.as_("display").rate(ticket=t["id"], level=1, reasons=["attitude", "efficiency"], comment="等太久",
                                channel="window")
    assert r.status_code == 201
    # 2026-11-25 is a Wednesday: Thu, Fri, Mon, Tue, Wed.
    assert r.json["rectification"] == {"id": r.json["rectification"]["id"], "deadline": "2026-12-02",
                                       "provisional": False}
    ev = json.loads(db.conn.execute("SELECT data FROM events WHERE type = 'evaluation.created'").fetchone()[0])
    assert ev["reasons"] == ["attitude", "efficiency"] and ev["rectification"] == r.json["rectification"]["id"]
    assert "等太久" not in json.dumps(ev, ensure_ascii=False)
    changed = db.conn.execute("SELECT data FROM events WHERE type = 'rectification.changed'").fetchone()
    assert json.loads(changed[0])["step"] == "open"


def test_the_province_channel_code_comes_from_configuration(api, db, clock):
    set_setting(db, "evaluations.channel_codes", {"window": "05", "kiosk": "06", "phone": "02", "follow_up": "07"})
    t = finished_ticket(db, clock)
    api.as_("display").rate(ticket=t["id"], level=5, channel="window")
    assert db.conn.execute("SELECT channel, channel_code FROM evaluations").fetchone()[:] == ("window", "05")


REFUSALS = [
    # (name, body builder, status, code)
    ("unknown ticket", lambda t: {"ticket": 99999, "level": 5}, 404, "ticket_not_found"),
    ("unknown case", lambda t: {"case": "SP20261125999999", "level": 5}, 404, "case_not_found"),
    ("bad差评 without reason", lambda t: {"ticket": t, "level": 2}, 422, "evaluation_reason_required"),
    ("差评 with empty reasons", lambda t: {"ticket": t, "level": 1, "reasons": []}, 422, "evaluation_reason_required"),
    ("unknown reason", lambda t: {"ticket": t, "level": 2, "reasons": ["rude_robot"]}, 422, "unknown_reason"),
    ("reasons for a good level", lambda t: {"ticket": t, "level": 5, "reasons": ["attitude"]}, 422,
     "reasons_not_allowed"),
    ("level 0", lambda t: {"ticket": t, "level": 0}, 422, "bad_level"),
    ("level 6", lambda t: {"ticket": t, "level": 6}, 422, "bad_level"),
    ("level as text", lambda t: {"ticket": t, "level": "5"}, 422, "bad_level"),
    ("level true", lambda t: {"ticket": t, "level": True}, 422, "bad_level"),
    ("no level", lambda t: {"ticket": t}, 422, "bad_level"),
    ("two targets", lambda t: {"ticket": t, "case": "SP20261125000001", "level": 5}, 422, "evaluation_target"),
    ("no target", lambda t: {"level": 5}, 422, "evaluation_target"),
    ("full name", lambda t: {"ticket": t, "level": 5, "evaluator": "张三"}, 422, "bad_evaluator"),
    ("full ID number", lambda t: {"ticket": t, "level": 5, "evaluator": valid_id()}, 422, "bad_evaluator"),
    ("masked but long digits", lambda t: {"ticket": t, "level": 5, "evaluator": "*37018119500101"}, 422,
     "bad_evaluator"),
    ("comment too long", lambda t: {"ticket": t, "level": 5, "comment": "长" * 501}, 422, "field_too_long"),
    ("bad channel", lambda t: {"ticket": t, "level": 5, "channel": "pc"}, 422, "bad_channel"),
]


@pytest.mark.parametrize("name, make, status, code", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_have_the_error_shape_and_write_nothing(api, db, clock, name, make, status, code):
    t = finished_ticket(db, clock)
    before = counts(db)
    body = {"channel": "window", **make(t["id"])}
    assert_error(api.as_("display").rate(**body), status, code)
    assert counts(db) == before


def test_a_ticket_not_yet_done_is_409_and_a_second_evaluation_409(api, db, clock):
    waiting = engine.issue_ticket(db, "QY01", clock=clock)
    before = counts(db)
    assert_error(api.as_("display").rate(ticket=waiting["id"], level=5, channel="window"), 409, "ticket_not_done")
    assert counts(db) == before
    engine.call_next(db, 1, clock=clock)
    before = counts(db)
    assert_error(api.as_("display").rate(ticket=waiting["id"], level=5, channel="window"), 409, "ticket_not_done")
    assert counts(db) == before
    engine.finish(db, waiting["id"], clock=clock)
    assert api.as_("display").rate(ticket=waiting["id"], level=5, channel="window").status_code == 201
    before = counts(db)
    for body in ({"level": 5}, {"level": 1, "reasons": ["attitude"]}):
        assert_error(api.as_("display").rate(ticket=waiting["id"], channel="window", **body), 409,
                     "already_evaluated")
    # The same service by another channel is still the same service.
    code = db.conn.execute("SELECT progress_code FROM tickets WHERE id = ?", (waiting["id"],)).fetchone()[0]
    assert_error(api.as_(None).rate(code=code, level=3, channel="phone"), 409, "already_evaluated")
    assert counts(db) == before


def test_channels_follow_the_token_role(api, db, clock):
    t = finished_ticket(db, clock)
    before = counts(db)
    assert_error(api.as_("display").rate(ticket=t["id"], level=5, channel="kiosk"), 403, "forbidden")
    assert_error(api.as_("kiosk").rate(ticket=t["id"], level=5, channel="window"), 403, "forbidden")
    assert_error(api.as_("clerk").rate(ticket=t["id"], level=5, channel="window"), 403, "forbidden")
    assert_error(api.as_("technician").rate(ticket=t["id"], level=5, channel="window"), 403, "forbidden")
    assert_error(api.as_(None).rate(ticket=t["id"], level=5, channel="window"), 401, "auth_required")
    assert_error(api.as_(None).rate(ticket=t["id"], level=5, channel="phone"), 422, "missing_field")
    assert_error(api.as_("display").rate(ticket=t["id"], level=5, channel="phone"), 403, "forbidden")
    assert_error(api.as_(None).rate(code="abcd1234", level=5, channel="window"), 422, "bad_channel")
    assert counts(db) == before
    # No channel given: the role says which.
    assert api.as_("kiosk").rate(ticket=t["id"], level=5).status_code == 201
    assert db.conn.execute("SELECT channel FROM evaluations").fetchone()[0] == "kiosk"


def test_a_kiosk_case_is_rated_by_its_number_once(api, db, clock):
    case = kiosk_case(db, clock)
    r = api.as_("kiosk").rate(case=case["number"], level=2, reasons=["facilities"], channel="kiosk",
                              evaluator="王*明")
    assert r.status_code == 201 and r.json["rectification"]["deadline"] == "2026-12-02"
    row = db.conn.execute("SELECT case_number, service, window, clerk_user_id, evaluator, realname, channel_code "
                          "FROM evaluations").fetchone()
    assert tuple(row) == (case["number"], "SB01", None, None, "王*明", 1, "政务大厅其他终端")
    ev = json.loads(db.conn.execute("SELECT data FROM events WHERE type = 'evaluation.created'").fetchone()[0])
    assert ev["case"] == case["number"] and "ticket" not in ev
    assert_error(api.as_("kiosk").rate(case=case["number"].lower(), level=5, channel="kiosk"), 409,
                 "already_evaluated")


def test_a_ticket_taken_with_an_id_card_is_a_named_rating_with_only_the_masked_id(api, db, clock):
    idn = valid_id("37018119800101123")
    t = finished_ticket(db, clock, id_number=idn)
    assert api.as_("display").rate(ticket=t["id"], level=5, channel="window").status_code == 201
    evaluator, realname = db.conn.execute("SELECT evaluator, realname FROM evaluations").fetchone()
    assert realname == 1 and "*" in evaluator and idn not in evaluator
    dump = "\n".join(str(tuple(r)) for t_ in ("evaluations", "audit", "events")
                     for r in db.conn.execute(f"SELECT * FROM {t_}"))
    assert idn not in dump and idn[6:14] not in dump


def test_on_site_ratings_close_after_the_configured_hours(api, db, clock):
    t = finished_ticket(db, clock)
    clock.advance(minutes=24 * 60 + 1)
    before = counts(db)
    assert_error(api.as_("display").rate(ticket=t["id"], level=5, channel="window"), 409, "rating_closed")
    assert counts(db) == before


def test_phone_rating_by_code_without_a_token(api, db, clock):
    t = finished_ticket(db, clock)
    code = db.conn.execute("SELECT progress_code FROM tickets WHERE id = ?", (t["id"],)).fetchone()[0]
    assert_error(api.as_(None).rate(code="nosuchcode", level=5, channel="phone"), 404, "ticket_not_found")
    clock.advance(minutes=3 * 24 * 60)
    r = api.as_(None).rate(code=code, level=3, comment="还行", channel="phone")
    assert r.status_code == 201
    row = db.conn.execute("SELECT channel, channel_code, recorded_by, service_day, day FROM evaluations").fetchone()
    assert tuple(row) == ("phone", "二维码", "phone", "2026-11-25", "2026-11-28")


def test_phone_rating_closes_after_phone_days(api, db, clock):
    set_setting(db, "evaluations.phone_days", 2)
    t = finished_ticket(db, clock)
    code = db.conn.execute("SELECT progress_code FROM tickets WHERE id = ?", (t["id"],)).fetchone()[0]
    clock.advance(minutes=2 * 24 * 60 + 1)
    before = counts(db)
    assert_error(api.as_(None).rate(code=code, level=5, channel="phone"), 409, "rating_closed")
    assert counts(db) == before


def test_phone_attempts_are_limited_per_code_and_per_address(api, db, clock):
    set_setting(db, "evaluations.phone_limit_per_code", 2)
    set_setting(db, "evaluations.phone_limit_per_address", 4)
    waiting = engine.issue_ticket(db, "QY01", clock=clock)
    code = db.conn.execute("SELECT progress_code FROM tickets WHERE id = ?", (waiting["id"],)).fetchone()[0]
    for _ in range(2):
        assert_error(api.as_(None).rate(code=code, level=5, channel="phone"), 409, "ticket_not_done")
    r = api.as_(None).rate(code=code, level=5, channel="phone")
    assert_error(r, 429, "too_many_ratings")
    assert 0 < int(r.headers["Retry-After"]) <= 3600
    # Guessing codes from one address: the address limit stops it too.
    assert_error(api.as_(None).rate(code="guess0001", level=5, channel="phone"), 404, "ticket_not_found")
    assert_error(api.as_(None).rate(code="guess0002", level=5, channel="phone"), 429, "too_many_ratings")
    # An hour later the windows are new.
    clock.advance(minutes=61)
    assert_error(api.as_(None).rate(code="guess0003", level=5, channel="phone"), 404, "ticket_not_found")
    stored = [r[0] for r in db.conn.execute("SELECT key FROM evaluation_rate_limits")]
    assert not any("127.0.0.1" in k for k in stored)
    assert db.conn.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0] == 0


def test_the_numbered_second_evaluation_follows_a_rectification_only(api, db, clock):
    t = finished_ticket(db, clock)
    first = api.as_("display").rate(ticket=t["id"], level=2, reasons=["quality"], channel="window").json
    case = first["rectification"]["id"]
    sup = api.as_("supervisor")
    assert_error(api.as_("display").rate(ticket=t["id"], level=4, channel="window"), 409, "already_evaluated")
    assert sup.step(case, "verify").status_code == 200
    assert_error(api.as_("display").rate(ticket=t["id"], level=4, channel="window"), 409, "already_evaluated")
    assert sup.step(case, "rectify", measure="补充一次性告知清单").status_code == 200
    code = db.conn.execute("SELECT progress_code FROM tickets WHERE id = ?", (t["id"],)).fetchone()[0]
    second = api.as_(None).rate(code=code, level=5, channel="phone")
    assert second.status_code == 201 and second.json["count"] == 2 and "rectification" not in second.json
    assert_error(api.as_(None).rate(code=code, level=5, channel="phone"), 409, "already_evaluated")
    counts_by = dict(db.conn.execute("SELECT count, level FROM evaluations").fetchall())
    assert counts_by == {1: 2, 2: 5}


def test_a_2027_差评_is_provisional_and_never_crashes(db_path, db):
    clock = FakeClock(hall_time("2027-03-01", "10:00"))
    hall = seed(db, clock)
    api = Api(db_path, hall, clock)
    t = finished_ticket(db, clock)
    r = api.as_("display").rate(ticket=t["id"], level=1, reasons=["attitude"], channel="window")
    assert r.status_code == 201
    assert r.json["rectification"]["deadline"] == "2027-03-08" and r.json["rectification"]["provisional"] is True
    listed = api.as_("supervisor").get("/api/rectifications").json["rectifications"]
    assert listed[0]["provisional"] is True and listed[0]["deadline"] == "2027-03-08"
    # An admin enters the (hypothetical) holiday Mon 2027-03-08: the deadline moves and is re-audited.
    from queue_server.evaluations.calendar_days import add_day

    assert add_day(db, "2027-03-08", "holiday")["deadlines_changed"] == 1
    assert api.as_("supervisor").get("/api/rectifications").json["rectifications"][0]["deadline"] == "2027-03-09"
    assert db.conn.execute("SELECT COUNT(*) FROM audit WHERE kind = 'rectification.deadline_changed'").fetchone()[0] == 1
    figs = api.as_("admin").get("/api/stats/evaluations?from=2027-03-01&to=2027-03-01").json
    assert figs["rows"][0]["rectifications_opened"] == 1


def test_the_pad_reads_a_finished_tickets_state(api, db, clock):
    t = finished_ticket(db, clock, service="SB01", window=2)
    clock.advance(12)
    s = api.as_("display").get(f"/api/evaluations/ticket/{t['id']}").json
    assert s == {"ticket": t["id"], "number": t["number"], "status": "done", "service": "SB01",
                 "service_name": "个人参保缴费证明打印", "service_name_en": "Social insurance payment certificate",
                 "window": 2, "rated": False, "finished_seconds_ago": 12}
    # A display page passes its token in the URL (read-only role).
    r = api.client.get(f"/api/evaluations/ticket/{t['id']}?token={api.tokens['display']}")
    assert r.status_code == 200
    api.as_("display").rate(ticket=t["id"], level=5, channel="window")
    assert api.as_("display").get(f"/api/evaluations/ticket/{t['id']}").json["rated"] is True


def test_the_evaluation_list_is_for_supervisors_and_filters(api, db, clock):
    a, b = finished_ticket(db, clock), finished_ticket(db, clock, window=2)
    api.as_("display").rate(ticket=a["id"], level=5, channel="window")
    api.as_("display").rate(ticket=b["id"], level=1, reasons=["integrity"], channel="window")
    assert_error(api.as_("clerk").get("/api/evaluations"), 403, "forbidden")
    assert_error(api.as_("display").get("/api/evaluations"), 403, "forbidden")
    items = api.as_("supervisor").get("/api/evaluations").json["evaluations"]
    assert [e["level"] for e in items] == [1, 5]
    bad = api.as_("supervisor").get("/api/evaluations?bad=1").json["evaluations"]
    assert len(bad) == 1 and bad[0]["reasons"][0]["name"] == "廉洁自律问题"
    assert bad[0]["rectification"]["status"] == "pending_verify"
    assert api.as_("admin").get("/api/evaluations?window=1").json["evaluations"][0]["ticket"] == a["id"]
    one = api.as_("supervisor").get(f"/api/evaluations/{bad[0]['id']}").json
    assert one["level_name"] == "非常不满意" and one["ticket_number"] == b["number"]
    assert_error(api.as_("supervisor").get("/api/evaluations/999"), 404, "evaluation_not_found")


def test_supervisor_is_a_user_and_token_role_and_unknown_roles_are_refused(db):
    assert create_user(db, "sup9", "secret99", display_name="督办", role="supervisor")
    assert create_token(db, "supervisor", "sup-device")
    with pytest.raises(ValidationError) as e:
        create_token(db, "nobody", "x")
    assert e.value.code == "bad_role"
