"""秒批 over HTTP (Flask's test client on the demo hall): the item list, decisions with the
certificate or the referral ticket, refusals that write nothing, idempotency, back-dated
re-runs, a member of staff's decision, the audit record, privacy."""

from __future__ import annotations

import json

import pytest

from queue_server import create_app
from queue_server.approvals.demo import COMPANY_OK, IDS, PROJECT_ENERGY, PROJECT_OK
from queue_server.audit.chain import verify
from queue_server.auth import create_token
from queue_server.demo import make_hall
from tests.support.approvals import Api, application, counts
from tests.support.common import screenshot_dir
from tests.support.queue import wrong_check_digit


@pytest.fixture
def hall(db, clock):
    made = make_hall(db, clock=clock, tokens=True, appointments=0)
    made["tokens"]["kiosk2"] = create_token(db, "kiosk", "kiosk-02")
    return made


@pytest.fixture
def api(db_path, hall, clock):
    app = create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock})
    return Api(app.test_client(), hall["tokens"])


def test_the_item_list_has_the_documented_fields(api):
    r = api.call("GET", "/api/approvals/items", "kiosk")
    assert r.status_code == 200 and len(r.json) >= 6
    for it in r.json:
        assert {"code", "name", "name_en", "category", "inputs", "ruleset"} <= set(it)
        assert set(it["ruleset"]) == {"version", "hash"} and len(it["ruleset"]["hash"]) == 64
        for inp in it["inputs"]:
            assert {"name", "label", "type", "required"} <= set(inp)
    ins = next(i for i in r.json if i["code"] == "insurance_certificate")
    assert [(i["name"], i["type"], i["required"]) for i in ins["inputs"]] == [
        ("from_month", "month", True), ("to_month", "month", True), ("kind", "choice", False)]
    assert next(i for i in r.json if i["code"] == "elderly_allowance")["inputs"] == []
    assert api.call("GET", "/api/approvals/items", "clerk").status_code == 200
    assert api.call("GET", "/api/approvals/items", "display").status_code == 403


def test_an_approved_allowance_has_a_certificate_whose_page_shows_the_case(api, db):
    r = api.apply("elderly_allowance", "elder_ok")
    assert r.status_code == 201, r.json
    body = r.json
    assert (body["decision"], body["reasons"], body["application_date"]) == ("approved", [], "2026-11-25")
    assert body["case"].startswith("SP20261125")
    assert [x["result"] for x in body["rules"]] == ["pass"] * 5 and [x["rule"] for x in body["rules"]] == [
        "R0", "R1", "R2", "R3", "R4"]
    assert body["ruleset"]["version"] == "2026.1" and "ticket" not in body
    url = body["certificate"]["verify_url"]
    assert "/v/" in url
    page = api.call("GET", url[url.index("/v/"):])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and body["case"] in html and "已通过" in html and "王*兰" in html
    assert IDS["elder_ok"] not in html and "3701**********" in html


def test_a_referral_issues_a_ticket_carrying_the_case_and_the_reasons(api, db):
    r = api.apply("elderly_allowance", "elder_young")
    assert r.status_code == 201
    body = r.json
    assert body["decision"] == "referred" and body["status"] == "referred"
    assert [(x["rule"], x["code"]) for x in body["reasons"]] == [("R2", "AGE_BELOW_MIN")]
    assert "年龄" in body["reasons"][0]["message"]
    ticket = body["ticket"]
    assert ticket["service"] == "MZ01" and ticket["number"].startswith("J")
    assert "高龄津贴申请" in ticket["referral_reason"] and "AGE_BELOW_MIN" in ticket["referral_reason"]
    assert ticket["priority"] == "elderly"  # born 1950: 60 or over
    assert body["notice"]["windows"][0] == 14 and "14号窗口" in body["notice"]["window_text"]
    assert "居民身份证原件" in body["notice"]["bring"]
    found = api.call("GET", f"/api/approvals?ticket={ticket['id']}", "clerk")
    assert found.status_code == 200 and found.json["case"] == body["case"]
    assert [t["rule"] for t in found.json["trace"]] == ["R0", "R1", "R2", "R3", "R4"]
    r2 = next(t for t in found.json["trace"] if t["rule"] == "R2")
    assert r2["values"] == {"applicant.age": 76} and r2["facts"] == {"applicant.age": "applicant"}
    assert api.call("GET", f"/api/cases?ticket={ticket['id']}", "clerk").json["number"] == body["case"]


def test_no_person_row_is_data_unavailable_never_an_approval(api):
    body = api.apply("elderly_allowance", "elder_unknown").json
    assert body["decision"] == "referred"
    assert [(x["rule"], x["code"]) for x in body["reasons"]] == [("R1", "DATA_UNAVAILABLE"), ("R3", "DATA_UNAVAILABLE")]


def test_a_card_read_without_a_face_match_goes_to_a_person(api):
    body = api.apply("elderly_allowance", "elder_ok", method="card").json
    assert [(x["rule"], x["code"]) for x in body["reasons"]] == [("R0", "IDENTITY_NOT_VERIFIED")]


@pytest.mark.parametrize("who, inputs, decision, codes", [
    ("insured_ok", {"from_month": "2019-01", "to_month": "2026-10"}, "approved", []),
    ("insured_ok", {"from_month": "2020-01", "to_month": "2026-10", "kind": "pension"}, "approved", []),
    ("insured_elsewhere", {"from_month": "2020-01", "to_month": "2020-12"}, "referred", ["NO_LOCAL_RECORD"]),
    ("insured_recent", {"from_month": "2019-01", "to_month": "2022-12"}, "referred", ["PERIOD_BEFORE_ELECTRONIC"]),
    ("insured_recent", {"from_month": "2021-03", "to_month": "2022-12"}, "approved", []),
    ("insured_ok", {"from_month": "2017-01", "to_month": "2020-12"}, "referred", ["PERIOD_BEFORE_ELECTRONIC"]),
    ("insured_frozen", {"from_month": "2020-01", "to_month": "2020-12"}, "referred", ["ACCOUNT_FLAG"]),
])
def test_insurance_certificate(api, who, inputs, decision, codes):
    body = api.apply("insurance_certificate", who, inputs=inputs).json
    assert (body["decision"], [x["code"] for x in body["reasons"]]) == (decision, codes)


def test_other_items_over_http(api):
    i = IDS
    assert api.apply("birth_registration", "parent_ok",
                     inputs={"spouse_id_number": i["parent_spouse"], "child_order": 2}).json["decision"] == "approved"
    mismatch = api.apply("birth_registration", "parent_ok", inputs={"spouse_id_number": i["parent_spouse"],
                                                                    "child_order": 3}).json
    assert [x["code"] for x in mismatch["reasons"]] == ["INFO_MISMATCH"]
    assert api.apply("ride_hailing_driver", "driver_ok").json["decision"] == "approved"
    assert [x["code"] for x in api.apply("ride_hailing_driver", "driver_drink").json["reasons"]] == ["DRIVING_RECORD"]
    assert api.apply("graduate_settlement", "graduate_ok").json["decision"] == "approved"
    assert api.apply("investment_filing", "insured_ok",
                     inputs={"company": COMPANY_OK, "project_code": PROJECT_OK}).json["decision"] == "approved"
    energy = api.apply("investment_filing", "insured_ok", inputs={"company": COMPANY_OK, "project_code": PROJECT_ENERGY})
    assert [x["code"] for x in energy.json["reasons"]] == ["NEEDS_APPROVAL_NOT_FILING"]
    shop = {"trade_name": "泉香居", "scope": ["1001"], "address": "济南市章丘区明水街道百脉泉街88号"}
    assert api.apply("sole_proprietor_registration", "insured_ok", inputs=shop).json["decision"] == "approved"
    taken = api.apply("sole_proprietor_registration", "insured_ok", inputs={**shop, "trade_name": "老李家"}).json
    assert [x["code"] for x in taken["reasons"]] == ["NAME_CONFLICT"]


@pytest.mark.parametrize("body, status, code", [
    ({"item": "no_such_item"}, 422, "unknown_approval_item"),
    ({"item": None}, 422, "missing_field"),
    ({"applicant": None}, 422, "missing_field"),
    ({"applicant": "370181194403021240"}, 422, "bad_field"),
    ({"applicant": {"id_number": wrong_check_digit("37018119440302124"), "name": "王秀兰"}}, 422, "bad_id_number"),
    ({"applicant": {"name": "王秀兰"}}, 422, "missing_field"),
    ({"verification": {"method": "fingerprint"}}, 422, "bad_verification"),
    ({"verification": None}, 422, "missing_field"),
    ({"verification": {"method": "face", "score": "high"}}, 422, "bad_field"),
    ({"inputs": {"colour": "blue"}}, 422, "bad_approval_input"),
    ({"application_date": "25/11/2026"}, 422, "bad_application_date"),
    ({"application_date": "2026-02-30"}, 422, "bad_application_date"),
    ({"application_date": "2026-11-01"}, 403, "approval_date_admin_only"),
])
def test_bad_requests_are_4xx_with_the_error_shape_and_write_nothing(api, db, body, status, code):
    before = counts(db)
    full = application("elderly_allowance", "elder_ok")
    full.update(body)
    full = {k: v for k, v in full.items() if v is not None}
    r = api.call("POST", "/api/approvals", "kiosk", json=full)
    assert r.status_code == status, r.json
    assert r.json["error"]["code"] == code and r.json["error"]["message"] and r.json["error"]["message_en"]
    assert counts(db) == before


@pytest.mark.parametrize("inputs, name", [
    ({"from_month": "2020-01"}, "to_month"),
    ({"from_month": "2020-13", "to_month": "2020-12"}, "from_month"),
    ({"from_month": "2020-05", "to_month": "2020-01"}, "to_month"),
    ({"from_month": 202001, "to_month": "2020-12"}, "from_month"),
])
def test_bad_inputs_name_the_input(api, db, inputs, name):
    before = counts(db)
    r = api.apply("insurance_certificate", "insured_ok", inputs=inputs)
    assert r.status_code == 422 and r.json["error"]["code"] == "bad_approval_input"
    assert r.json["error"]["details"]["input"] == name and counts(db) == before


def test_malformed_json_is_a_400(api, db):
    before = counts(db)
    r = api.call("POST", "/api/approvals", "kiosk", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.json["error"]["code"] == "malformed_json" and counts(db) == before


def test_idempotency_key_returns_the_same_case_once(api, db):
    h = {"Idempotency-Key": "tap-1234"}
    first = api.apply("elderly_allowance", "elder_young", headers=h)
    before = counts(db)
    again = api.apply("elderly_allowance", "elder_young", headers=h)
    assert again.status_code == 201 and again.json["case"] == first.json["case"] and again.json["replayed"]
    assert again.json["ticket"]["id"] == first.json["ticket"]["id"]
    assert counts(db) == before
    other = api.apply("elderly_allowance", "elder_young", headers={"Idempotency-Key": "tap-5678"})
    assert other.json["case"] != first.json["case"]
    kiosk2 = api.apply("elderly_allowance", "elder_young", role="kiosk2", headers=h)  # keys are per token
    assert kiosk2.json["case"] != first.json["case"]


def test_an_idempotency_key_reused_with_another_body_is_refused_and_writes_nothing(api, db):
    """Audit: the same key with another applicant answered 201 with the first applicant's case."""
    h = {"Idempotency-Key": "tap-shared"}
    first = api.apply("elderly_allowance", "elder_ok", headers=h)
    assert first.status_code == 201 and first.json["decision"] == "approved"
    before = counts(db)
    other = api.apply("elderly_allowance", "elder_young", headers=h)  # another person, same key
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    assert other.json["error"]["message"] and first.json["case"] not in other.get_data(as_text=True)
    assert counts(db) == before
    changed = api.apply("insurance_certificate", "insured_ok", headers={"Idempotency-Key": "tap-ins"},
                        inputs={"from_month": "2019-01", "to_month": "2022-12"})
    assert changed.status_code == 201
    before = counts(db)
    again = api.apply("insurance_certificate", "insured_ok", headers={"Idempotency-Key": "tap-ins"},
                      inputs={"from_month": "2020-01", "to_month": "2022-12"})  # same person, other inputs
    assert again.status_code == 422 and again.json["error"]["code"] == "idempotency_key_reused"
    assert counts(db) == before
    same = api.apply("elderly_allowance", "elder_ok", headers=h)  # the real retry still replays
    assert same.status_code == 201 and same.json["case"] == first.json["case"] and same.json["replayed"]
    digests = [r[0] for r in db.conn.execute("SELECT request_digest FROM approval_idempotency")]
    assert len(digests) == 2 and all(d.startswith("k1:") for d in digests)
    dump = "\n".join(db.conn.iterdump())
    assert IDS["elder_ok"] not in dump and IDS["insured_ok"] not in dump


@pytest.mark.parametrize("first, second", [
    # both approved: the key is found inside the case's write transaction
    (("insurance_certificate", "insured_ok", {"from_month": "2019-01", "to_month": "2022-12"}),
     ("insurance_certificate", "insured_ok", {"from_month": "2020-01", "to_month": "2022-12"})),
    # both referred: the queue replays the first referral's ticket
    (("elderly_allowance", "elder_young", None), ("elderly_allowance", "elder_receiving", None)),
])
def test_a_key_reused_with_another_body_in_a_race_is_refused_too(api, db, monkeypatch, first, second):
    """The second request passed the first look-up before the first one committed: the checks
    further on compare the bodies as well."""
    from queue_server.approvals import service

    h = {"Idempotency-Key": "tap-race"}
    made = api.apply(first[0], first[1], headers=h, inputs=first[2])
    assert made.status_code == 201
    real = service._replayed_case
    looks = {"n": 0}

    def blind_first_look(db_, key, request):
        looks["n"] += 1
        return "" if looks["n"] == 1 else real(db_, key, request)

    monkeypatch.setattr(service, "_replayed_case", blind_first_look)
    before = counts(db)
    raced = api.apply(second[0], second[1], headers=h, inputs=second[2])
    assert looks["n"] == 2
    assert raced.status_code == 422 and raced.json["error"]["code"] == "idempotency_key_reused"
    assert counts(db) == before
    again = api.apply(first[0], first[1], headers=h, inputs=first[2])
    assert again.json["case"] == made.json["case"] and again.json["replayed"]


def test_source_references_are_stamped_with_the_hall_clock(api, db, clock):
    """Audit: the ``at`` of a decision's source references came from the wall clock."""
    clock.set("2026-11-25", "10:17")
    number = api.apply("elderly_allowance", "elder_ok").json["case"]
    refs = json.loads(db.conn.execute("SELECT sources FROM approval_cases WHERE case_number = ?",
                                      (number,)).fetchone()[0])
    assert {r["source"] for r in refs} >= {"persons", "benefits", "applicant", "settings"}
    assert {r["at"] for r in refs} == {round(clock(), 3)}
    record = json.loads(db.conn.execute("SELECT data FROM audit WHERE kind = 'approval.decided'").fetchone()[0])
    assert {r["at"] for r in record["sources"]} == {round(clock(), 3)}


def test_a_back_dated_rerun_is_for_admins_only_and_uses_that_date(api):
    assert api.apply("elderly_allowance", "elder_ok", application_date="2026-11-01").status_code == 403
    assert api.apply("elderly_allowance", "elder_ok", application_date="2026-11-25").status_code == 201
    r = api.apply("elderly_allowance", "elder_ok", role="admin", application_date="2012-05-01")
    assert r.status_code == 201 and r.json["application_date"] == "2012-05-01"
    assert [(x["rule"], x["code"]) for x in r.json["reasons"]] == [("R2", "DATA_UNAVAILABLE")]  # no min_age in force


def test_a_kiosk_reads_only_its_own_cases_and_the_clerk_sees_the_trace(api):
    number = api.apply("elderly_allowance", "elder_elsewhere").json["case"]
    assert api.call("GET", f"/api/approvals/{number}", "kiosk").status_code == 200
    assert api.call("GET", f"/api/approvals/{number}", "kiosk2").status_code == 404
    detail = api.call("GET", f"/api/approvals/{number}", "clerk").json
    assert detail["status"] == "referred" and detail["holder"]["name_masked"] == "张*英"
    r1 = next(t for t in detail["trace"] if t["rule"] == "R1")
    assert r1["result"] == "fail" and r1["values"] == {"person.hukou_region": "370102", "hall.region": "370114"}
    assert r1["text"] == "户籍在本区" and "实施办法" in r1["basis"]
    assert {s["source"] for s in detail["sources"]} >= {"persons", "benefits", "applicant", "settings"}
    assert api.call("GET", "/api/approvals/SP20991231999999", "clerk").status_code == 404


def login(api, user: str) -> dict[str, str]:
    token = api.call("POST", "/api/login", json={"username": user, "password": "clerk123"}).json["token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_clerk_decides_a_referred_case_and_that_is_audited_with_the_staff_id(api, db, hall):
    h = login(api, "clerk1")
    uid = hall["users"]["clerk1"]["id"]
    young = api.apply("elderly_allowance", "elder_young").json["case"]
    other = api.apply("elderly_allowance", "elder_elsewhere").json["case"]
    approved = api.apply("elderly_allowance", "elder_ok").json["case"]
    r = api.call("POST", f"/api/approvals/{young}/decide", headers=h, json={"decision": "rejected"})
    assert r.status_code == 422 and r.json["error"]["code"] == "approval_note_required"
    r = api.call("POST", f"/api/approvals/{young}/decide", headers=h,
                 json={"decision": "rejected", "note": "未满 80 周岁，明年 8 月后再申请"})
    assert r.status_code == 200 and r.json["status"] == "rejected" and r.json["staff"]["by"] == f"user:{uid}"
    again = api.call("POST", f"/api/approvals/{young}/decide", headers=h, json={"decision": "approved"})
    assert again.status_code == 409 and again.json["error"]["code"] == "approval_not_referred"
    assert api.call("POST", f"/api/approvals/{approved}/decide", headers=h,
                    json={"decision": "approved"}).status_code == 409
    assert api.call("POST", f"/api/approvals/{other}/decide", "kiosk",
                    json={"decision": "approved"}).status_code == 403
    assert api.call("POST", f"/api/approvals/{other}/decide", headers=h,
                    json={"decision": "maybe"}).json["error"]["code"] == "bad_staff_decision"
    ok = api.call("POST", f"/api/approvals/{other}/decide", headers=h,
                  json={"decision": "approved", "note": "户口簿显示已迁入本区"})
    assert ok.status_code == 200 and ok.json["status"] == "approved" and ok.json["certificate"]["verify_url"]
    rows = db.conn.execute("SELECT actor, data FROM audit WHERE kind = 'approval.human_decided' ORDER BY id").fetchall()
    assert [(a, json.loads(d)["case"], json.loads(d)["decision"]) for a, d in rows] == [
        (f"user:{uid}", young, "rejected"), (f"user:{uid}", other, "approved")]
    # the note may name the citizen: the chain keeps its keyed digest, the case the purgeable text
    from queue_server.idkey import text_digest

    assert "note" not in json.loads(rows[0][1])
    assert json.loads(rows[0][1])["note_digest"] == text_digest(db, "未满 80 周岁，明年 8 月后再申请")


def test_the_decision_record_is_complete_and_holds_no_personal_data(api, db):
    number = api.apply("elderly_allowance", "elder_ok").json["case"]
    actor, data = db.conn.execute("SELECT actor, data FROM audit WHERE kind = 'approval.decided'").fetchone()
    record = json.loads(data)
    assert actor == "engine@1.0" and record["decided_by"] == "engine@1.0"
    assert (record["case"], record["item"], record["decision"], record["kiosk"]) == (
        number, "elderly_allowance", "approved", "demo-kiosk")
    assert record["verification_method"] == "face" and record["application_date"] == "2026-11-25"
    assert record["parameters"]["min_age"] == {"value": 80, "since": "2013-07-01"}
    assert [r["rule"] for r in record["rules"]] == ["R0", "R1", "R2", "R3", "R4"]
    assert record["rules"][1]["facts"] == {"person.hukou_region": "persons", "hall.region": "settings"}
    persons = next(s for s in record["sources"] if s["source"] == "persons")
    assert persons["adapter"] == "local" and persons["status"] == "ok" and persons["digest"].startswith("k1:")
    assert "370114" not in data and "王" not in data and IDS["elder_ok"] not in data  # references, not copies
    dump = "\n".join(db.conn.iterdump())
    for who in IDS.values():
        assert who not in dump  # no full ID number anywhere in the hall database


def test_audit_verify_catches_a_tampered_decision(api, db):
    api.apply("elderly_allowance", "elder_young")
    assert verify(db).ok
    row_id, data = db.conn.execute("SELECT id, data FROM audit WHERE kind = 'approval.decided'").fetchone()
    db.conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    for (name,) in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'"):
        db.conn.execute(f"DROP TRIGGER {name}")
    db.conn.execute("UPDATE audit SET data = ? WHERE id = ?", (data.replace('"referred"', '"approved"'), row_id))
    result = verify(db)
    assert not result.ok and result.bad_id == row_id and "hash" in result.problem


def test_no_printer_means_not_queued_and_a_named_printer_gets_the_certificate(api, db):
    from queue_server.printing.jobs import add_printer

    body = api.apply("elderly_allowance", "elder_ok").json
    assert body["certificate"]["print"]["status"] == "not_queued"
    add_printer(db, "kiosk-01", "sim://kiosk-01", {"paper": 80})
    body = api.apply("elderly_allowance", "elder_ok", printer="kiosk-01").json
    assert body["certificate"]["print"] == {"status": "queued", "job_id": body["certificate"]["print"]["job_id"],
                                           "printer": "kiosk-01"}
    payload = json.loads(db.conn.execute("SELECT payload FROM print_jobs WHERE kind = 'document'").fetchone()[0])
    assert payload["title"] == "高龄津贴核准通知"
    assert IDS["elder_ok"] not in json.dumps(payload, ensure_ascii=False)
    referred = api.apply("elderly_allowance", "elder_receiving", printer="kiosk-01").json
    assert referred["notice"]["print"]["status"] == "queued"
    notice = json.loads(db.conn.execute("SELECT payload FROM print_jobs ORDER BY id DESC LIMIT 1").fetchone()[0])
    assert notice["title"] == "一次性告知单"
    assert any(b.get("text") == referred["ticket"]["number"] for b in notice["blocks"])


def test_an_unreachable_http_source_refers_with_data_unavailable(api, db):
    from queue_server.settings import set_setting

    set_setting(db, "approvals.sources", {"persons": {"url": "http://127.0.0.1:9/persons", "timeout": 0.3}})
    body = api.apply("elderly_allowance", "elder_ok").json
    assert body["decision"] == "referred"
    assert [(x["rule"], x["code"]) for x in body["reasons"]] == [("R1", "DATA_UNAVAILABLE"), ("R3", "DATA_UNAVAILABLE")]
    detail = api.call("GET", f"/api/approvals/{body['case']}", "clerk").json
    persons = next(s for s in detail["sources"] if s["source"] == "persons")
    assert (persons["adapter"], persons["status"], persons["digest"]) == ("http", "unavailable", None)


def test_a_closed_hall_still_records_the_referral_and_says_why_there_is_no_ticket(api, db):
    from queue_server.settings import set_setting

    set_setting(db, "enforce_opening_hours", True)
    set_setting(db, "opening_hours", {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    body = api.apply("elderly_allowance", "elder_young").json
    assert body["decision"] == "referred" and "ticket" not in body
    assert body["ticket_error"]["code"] == "hall_closed" and body["notice"]["window_text"]


def test_the_printed_certificate_and_notice_say_what_the_case_says(api, db, tmp_path):
    """The document jobs' bytes decoded: the certificate's QR is the verify URL, the notice
    has the reasons, what to bring, the windows and the queue number. Previews of both are
    rendered from those bytes to docs/screens/."""

    from hardware.printer import PrinterOptions
    from hardware.printer.document import DocumentData, render_document
    from queue_server.printing.jobs import add_printer
    from tests.support.escpos_decode import QR, decode, render_png, text_lines

    add_printer(db, "kiosk-01", "sim://kiosk-01", {"paper": 80})
    ok = api.apply("elderly_allowance", "elder_ok", printer="kiosk-01").json
    referred = api.apply("elderly_allowance", "elder_elsewhere", printer="kiosk-01").json
    payloads = [json.loads(r[0]) for r in db.conn.execute("SELECT payload FROM print_jobs ORDER BY id")]
    cert = render_document(DocumentData.from_dict(payloads[0]), PrinterOptions(paper=80))
    lines = text_lines(cert)
    assert "高龄津贴核准通知" in lines and f"办件编号：{ok['case']}" in lines
    assert "申请人：王*兰 3701**********1240" in lines and "津贴档次：80–89 周岁档" in lines
    assert [q.payload for q in decode(cert) if isinstance(q, QR)] == [ok["certificate"]["verify_url"]]
    notice = render_document(DocumentData.from_dict(payloads[1]), PrinterOptions(paper=80))
    lines = text_lines(notice)
    assert "一次性告知单" in lines and referred["ticket"]["number"] in lines
    assert any("户籍不在本区" in line for line in lines) and "· 户口簿" in lines
    assert any("14号窗口 民政事务" in line for line in lines)
    assert [q.payload for q in decode(notice) if isinstance(q, QR)][0].endswith(
        "/t/" + referred["ticket"]["progress_code"])
    screens = screenshot_dir("screens", tmp_path)
    render_png(cert, 576, screens / "approval-certificate-80mm.png")
    render_png(notice, 576, screens / "approval-notice-80mm.png")


def test_if_the_referral_hook_fails_the_case_is_still_recorded_and_linked(api, db, monkeypatch):
    from queue_server.approvals import service

    calls = {"n": 0}
    real = service._Record.print_notice

    def flaky(self, conn, ticket):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("printer table locked")  # inside the ticket's transaction
        return real(self, conn, ticket)

    monkeypatch.setattr(service._Record, "print_notice", flaky)
    body = api.apply("elderly_allowance", "elder_young").json
    assert calls["n"] == 2 and body["decision"] == "referred"
    assert api.call("GET", f"/api/cases?ticket={body['ticket']['id']}", "clerk").json["number"] == body["case"]
    assert db.conn.execute("SELECT COUNT(*) FROM audit WHERE kind = 'approval.decided'").fetchone()[0] == 1
    assert db.conn.execute("SELECT COUNT(*) FROM cases").fetchone()[0] == 1
