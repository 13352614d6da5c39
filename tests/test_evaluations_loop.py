"""The 差评 loop step by step: 核实 → 整改 → 回访 → 办结, the invalid application, the one
extension, overdue cases first; refusals (wrong order 409, wrong role 403, second
extension 409) write nothing; every step is audited and recorded as an event."""

from __future__ import annotations

import hashlib
import json

import pytest

from queue_server import queue as engine
from tests.support.evaluations import Api, assert_error, counts, finished_ticket, seed
from tests.support.queue import FakeClock, hall_time, valid_id


@pytest.fixture
def hall(db, clock):
    return seed(db, clock)


@pytest.fixture
def api(db_path, hall, clock) -> Api:
    return Api(db_path, hall, clock)


@pytest.fixture
def clerk1(db, hall, clock):
    """clerk1 signed in at window 1."""
    uid = hall["users"]["clerk1"]["id"]
    engine.open_window(db, 1, uid, clock=clock)
    return uid


def bad_case(api, db, clock, *, clerk=None, id_number=None, window=1) -> int:
    t = finished_ticket(db, clock, clerk=clerk, id_number=id_number, window=window)
    r = api.as_("display").rate(ticket=t["id"], level=1, reasons=["attitude"], channel="window")
    assert r.status_code == 201
    return int(r.json["rectification"]["id"])


def status(api, case_id) -> str:
    return api.as_("supervisor").get(f"/api/rectifications/{case_id}").json["status"]


def test_the_whole_loop_by_a_named_supervisor(api, db, clock, clerk1):
    case = bad_case(api, db, clock, clerk=clerk1, id_number=valid_id())
    sup = api.login(db, "super1")
    c = sup.get(f"/api/rectifications/{case}").json
    assert (c["status"], c["status_name"], c["deadline"], c["realname"]) == ("pending_verify", "待核实", "2026-12-02", True)
    assert c["allowed_steps"] == ["verify", "apply_invalid", "extend"]
    assert c["evaluation"]["clerk"]["name"] == "王晓明"
    r = sup.step(case, "verify", note="调取录像属实")
    assert r.status_code == 200 and r.json["status"] == "rectifying" and r.json["verified"] is True
    clock.advance(minutes=24 * 60)
    r = sup.step(case, "rectify", measure="对窗口人员进行服务礼仪培训")
    assert (r.json["status"], r.json["rectified_day"], r.json["measure"]) == ("rectified", "2026-11-26",
                                                                              "对窗口人员进行服务礼仪培训")
    assert_error(sup.step(case, "close"), 409, "follow_up_required")   # 实名差评 needs a 回访
    r = sup.step(case, "follow_up", method="phone", outcome="satisfied", note="已电话致歉",
                 evaluation={"level": 4})
    assert r.status_code == 200 and r.json["status"] == "followed_up"
    assert r.json["follow_up"] == {"method": "phone", "outcome": "satisfied", "note": "已电话致歉"}
    second = r.json["second_evaluation"]
    row = db.conn.execute("SELECT count, level, channel, channel_code FROM evaluations WHERE id = ?", (second,)).fetchone()
    assert tuple(row) == (2, 4, "follow_up", "电话")
    r = sup.step(case, "close")
    assert r.json["status"] == "closed" and r.json["allowed_steps"] == []
    assert (r.json["steps"][0]["step"], r.json["steps"][0]["actor"], r.json["steps"][0]["user"]) == \
        ("open", "token:demo-display", None)
    steps = [(s["step"], s["from"], s["to"], s["user"]["name"]) for s in r.json["steps"][1:]]
    assert steps == [("verify", "pending_verify", "rectifying", "督办员"),
                     ("rectify", "rectifying", "rectified", "督办员"),
                     ("follow_up", "rectified", "followed_up", "督办员"),
                     ("close", "followed_up", "closed", "督办员")]
    audit = [json.loads(d) for (d,) in db.conn.execute("SELECT data FROM audit WHERE kind = 'rectification.step' ORDER BY id")]
    assert [a["step"] for a in audit] == ["verify", "rectify", "follow_up", "close"]
    assert all(a["user_id"] == api.hall["users"]["super1"]["id"] for a in audit)
    assert audit[1]["note_sha256"] == hashlib.sha256("对窗口人员进行服务礼仪培训".encode()).hexdigest()
    assert "培训" not in json.dumps(audit, ensure_ascii=False)
    actors = {a for (a,) in db.conn.execute("SELECT actor FROM audit WHERE kind = 'rectification.step'")}
    assert actors == {f"user:{api.hall['users']['super1']['id']}"}
    events = [json.loads(d) for (d,) in db.conn.execute(
        "SELECT data FROM events WHERE type = 'rectification.changed' ORDER BY id")]
    assert [e["step"] for e in events] == ["open", "verify", "rectify", "follow_up", "close"]
    assert events[-1] == {"id": case, "evaluation": c["evaluation"]["id"], "step": "close", "status": "closed",
                          "deadline": "2026-12-02", "provisional": False}


def test_steps_out_of_order_are_409_and_write_nothing(api, db, clock):
    case = bad_case(api, db, clock)
    sup = api.as_("supervisor")
    before = counts(db)
    for step, body in (("rectify", {"measure": "x"}), ("follow_up", {"method": "phone", "outcome": "satisfied"}),
                       ("close", {}), ("approve_invalid", {}), ("reject_invalid", {})):
        r = sup.step(case, step, **body)
        assert_error(r, 409, "step_out_of_order")
        assert r.json["error"]["details"]["status"] == "pending_verify"
    sup.step(case, "verify")
    before = counts(db)
    assert_error(sup.step(case, "verify"), 409, "step_out_of_order")
    assert_error(sup.step(case, "close"), 409, "step_out_of_order")
    assert counts(db) == before


def test_wrong_roles_are_403_and_write_nothing(api, db, clock, clerk1):
    case = bad_case(api, db, clock, clerk=clerk1)
    before = counts(db)
    for role in ("clerk", "display", "kiosk", "technician"):
        assert_error(api.as_(role).step(case, "verify"), 403, "forbidden")
    assert_error(api.login(db, "clerk1").step(case, "verify"), 403, "forbidden")
    assert_error(api.as_("clerk").get("/api/rectifications"), 403, "forbidden")
    assert_error(api.as_(None).step(case, "verify"), 401, "auth_required")
    # Another clerk cannot apply for the 差评 on clerk1's service; a clerk device token neither.
    assert_error(api.login(db, "clerk2").step(case, "apply_invalid", reason="不是我"), 403, "not_concerned_clerk")
    assert_error(api.as_("clerk").step(case, "apply_invalid", reason="x"), 403, "not_concerned_clerk")
    assert counts(db) == before


def test_the_clerk_concerned_applies_and_a_supervisor_decides(api, db, clock, clerk1):
    case = bad_case(api, db, clock, clerk=clerk1)
    me = api.login(db, "clerk1")
    before = counts(db)
    assert_error(me.step(case, "apply_invalid"), 422, "missing_field")    # a reason is required
    assert counts(db) == before
    r = me.step(case, "apply_invalid", reason="评价人误点，当场表示满意")
    assert r.status_code == 200 and r.json["status"] == "invalid_applied"
    assert_error(me.step(case, "approve_invalid"), 403, "forbidden")       # a clerk never decides
    sup = api.login(db, "super1")
    r = sup.step(case, "reject_invalid", note="录像显示确有争执")
    assert r.json["status"] == "rectifying"
    # Applying again after a rejection is allowed; this time it is approved.
    me.step(case, "apply_invalid", reason="补充：评价人已撤回")
    r = sup.step(case, "approve_invalid", note="核实无效")
    assert r.json["status"] == "invalid" and r.json["status_name"] == "已认定无效"
    assert r.json["allowed_steps"] == ["follow_up", "close"]              # anonymous: may close without 回访
    assert sup.step(case, "close").json["status"] == "closed"
    figs = api.as_("admin").get("/api/stats/evaluations?from=2026-11-25&to=2026-11-25").json["total"]
    assert (figs["rectifications_invalid"], figs["rectifications_on_time"], figs["rectifications_overdue"]) == (1, 0, 0)


def test_a_supervisor_never_decides_on_their_own_application(api, db, clock):
    case = bad_case(api, db, clock)          # a kiosk-less window service without a clerk
    sup = api.login(db, "super1")
    assert sup.step(case, "apply_invalid", reason="重复评价").status_code == 200
    before = counts(db)
    assert_error(sup.step(case, "approve_invalid"), 403, "own_application")
    assert_error(sup.step(case, "reject_invalid"), 403, "own_application")
    assert counts(db) == before
    assert api.login(db, "admin").step(case, "approve_invalid").json["status"] == "invalid"


def test_one_extension_with_a_reason_then_409(api, db, clock):
    case = bad_case(api, db, clock)
    sup = api.as_("supervisor")
    before = counts(db)
    assert_error(sup.step(case, "extend"), 422, "missing_field")
    assert_error(sup.step(case, "extend", reason="需协调", days=16), 422, "bad_step_input")
    assert counts(db) == before
    r = sup.step(case, "extend", reason="需协调不动产中心", days=3)
    # 2026-12-02 + 3 working days: Thu 3, Fri 4, Mon 7.
    assert (r.json["status"], r.json["deadline"], r.json["extension"]) == \
        ("pending_verify", "2026-12-07", {"days": 3, "reason": "需协调不动产中心"})
    before = counts(db)
    assert_error(sup.step(case, "extend", reason="再延"), 409, "extension_used")
    assert counts(db) == before
    sup.step(case, "verify")
    before = counts(db)
    assert_error(sup.step(case, "extend", reason="再延", days=2), 409, "extension_used")
    assert counts(db) == before
    assert sup.get(f"/api/rectifications/{case}").json["deadline"] == "2026-12-07"


def test_an_overdue_case_rises_to_the_top_and_cannot_be_extended(api, db, clock):
    old = bad_case(api, db, clock)                   # deadline 2026-12-02
    clock.set("2026-11-30", "10:00")
    newer = bad_case(api, db, clock, window=2)       # deadline 2026-12-07
    closed = bad_case(api, db, clock, window=3)
    sup = api.as_("supervisor")
    sup.step(closed, "verify")
    sup.step(closed, "rectify", measure="m")
    sup.step(closed, "close")
    clock.set("2026-12-03", "09:00")                 # the day after the first deadline
    listed = sup.get("/api/rectifications").json["rectifications"]
    assert [c["id"] for c in listed] == [old, newer, closed]
    assert (listed[0]["overdue"], listed[0]["status_name"]) == (True, "整改超期")
    assert listed[1]["overdue"] is False
    assert [c["id"] for c in sup.get("/api/rectifications?status=overdue").json["rectifications"]] == [old]
    assert [c["id"] for c in sup.get("/api/rectifications?status=done").json["rectifications"]] == [closed]
    assert_error(sup.get("/api/rectifications?status=whatever"), 422, "bad_step_input")
    assert_error(sup.step(old, "extend", reason="太晚了"), 409, "extension_too_late")
    sup.step(old, "verify")
    r = sup.step(old, "rectify", measure="补办")
    assert r.json["late"] is True and r.json["overdue"] is False
    figs = api.as_("admin").get("/api/stats/evaluations?from=2026-11-25&to=2026-11-30&group=day").json
    assert figs["total"]["rectifications_overdue"] == 1 and figs["total"]["rectifications_on_time"] == 1


def test_follow_up_inputs_and_second_evaluation_rules(api, db, clock):
    case = bad_case(api, db, clock)
    sup = api.as_("supervisor")
    sup.step(case, "verify")
    sup.step(case, "rectify", measure="m")
    before = counts(db)
    assert_error(sup.step(case, "follow_up", method="pigeon", outcome="satisfied"), 422, "bad_step_input")
    assert_error(sup.step(case, "follow_up", method="phone", outcome="satisfied", evaluation={"level": 2}), 422,
                 "evaluation_reason_required")
    assert counts(db) == before
    r = sup.step(case, "follow_up", method="sms", outcome="unsatisfied",
                 evaluation={"level": 2, "reasons": ["quality"], "comment": "还是没解决"})
    assert r.status_code == 200
    # A second 差评 opens its own case.
    cases = sup.get("/api/rectifications").json["rectifications"]
    assert len(cases) == 2 and {c["evaluation"]["count"] for c in cases} == {1, 2}


def test_unknown_case_and_step(api):
    sup = api.as_("supervisor")
    assert_error(sup.step(999, "verify"), 404, "rectification_not_found")
    assert_error(sup.step(1, "dance"), 404, "unknown_step")
    assert_error(sup.get("/api/rectifications/999"), 404, "rectification_not_found")


def test_a_case_opened_during_the_national_day_holiday(db_path, db):
    clock = FakeClock(hall_time("2026-10-03", "10:00"))    # the hall opened on a holiday (延时服务)
    api = Api(db_path, seed(db, clock), clock)
    case = bad_case(api, db, clock)
    assert api.as_("supervisor").get(f"/api/rectifications/{case}").json["deadline"] == "2026-10-13"
