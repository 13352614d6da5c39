"""秒批 → 亮证: an approved item whose result is a licence (个体工商户设立登记 → 个体工商户营业执照)
issues an e-licence in the same transaction as the case; the case, the certificate's /v/
page, the response and the audit name it; the holder lists it and a 亮证 token of it
verifies. A referral issues nothing; a member of staff's later approval issues it then."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from hardware.idnumber import is_valid_uscc
from queue_server import create_app
from queue_server.approvals import documents
from queue_server.approvals.demo import IDS
from queue_server.approvals.items import get_item
from queue_server.audit.chain import verify
from queue_server.licences import identifier, keys
from tests.support.approvals import Api

SHOP = {"trade_name": "泉香居", "scope": ["1001", "1003"], "address": "济南市章丘区明水街道百脉泉街88号"}
TYPE = "11100000MB0143653F002"




@pytest.fixture
def api(db_path, hall, clock):
    app = create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock})
    keys.forget()
    return Api(app.test_client(), hall["tokens"])


def apply_shop(api: Api, **inputs: object) -> dict:
    r = api.apply("sole_proprietor_registration", "insured_ok", inputs={**SHOP, **inputs})
    assert r.status_code == 201, r.json
    return dict(r.json)


def listed(api: Api, who: str = "insured_ok") -> list[dict]:
    r = api.call("GET", f"/api/licences?id_number={IDS[who]}", "kiosk")
    assert r.status_code == 200, r.json
    return [x for x in r.json if x["type_code"] == TYPE]


def present_and_verify(api: Api, licence_id: int, who: str = "insured_ok") -> dict:
    r = api.call("POST", f"/api/licences/{licence_id}/present", "kiosk", json={
        "holder_id_number": IDS[who], "verification": {"method": "face", "score": 0.8}, "purpose": 1})
    assert r.status_code == 201, r.json
    v = api.call("POST", "/api/licences/verify", "verifier", json={"qr": r.json["qr"], "purpose": 1})
    assert v.status_code == 200
    return dict(v.json)


def test_an_approved_registration_issues_the_licence_with_the_case(api, db):
    assert listed(api) == []
    body = apply_shop(api)
    assert body["decision"] == "approved"
    lic = body["licence"]
    # GB/T 36904 identifier of the register's type and issuer, with a valid check character
    parsed = identifier.parse(lic["identifier"])
    assert (parsed.type_code, parsed.issuer_uscc, parsed.version) == (TYPE, "11370181MB28537610", 1)
    assert lic["type_name"] == "个体工商户营业执照" and lic["status"] == "valid" and lic["in_wallet"] is True
    # a new 个体工商户: its own USCC (92 + the hall's region), the business name from the 字号
    assert is_valid_uscc(lic["number"]) and lic["number"].startswith("92370114")
    assert lic["holder"] == "章丘区泉香居商行" and lic["valid_from"] == "2026-11-25" and lic["valid_to"] is None
    assert body["certificate"]["licence"] == lic["identifier"]
    # the case keeps it, in the same transaction as the licence row names the case
    row = db.conn.execute("SELECT id, case_number, source, fields, legal_rep_key FROM licences WHERE identifier = ?",
                          (lic["identifier"],)).fetchone()
    assert (row[1], row[2]) == (body["case"], "approval")
    assert db.conn.execute("SELECT licence_id FROM approval_cases WHERE case_number = ?",
                           (body["case"],)).fetchone()[0] == row[0] == lic["id"]
    fields = json.loads(row[3])
    assert fields == {"组成形式": "个人经营", "经营场所": SHOP["address"], "经营范围": "日用百货销售、五金产品零售"}
    assert IDS["insured_ok"] not in json.dumps(fields) and row[4].startswith("k")
    detail = api.call("GET", f"/api/approvals/{body['case']}", "clerk").json
    assert detail["licence"]["identifier"] == lic["identifier"]
    # the certificate's /v/ page names the licence, holder-safe
    url = body["certificate"]["verify_url"]
    html = api.call("GET", url[url.index("/v/"):]).get_data(as_text=True)
    assert lic["identifier"] in html and "个体工商户营业执照" in html and "亮证" in html
    assert IDS["insured_ok"] not in html
    # the printed certificate says so too
    doc = documents.certificate(get_item("sole_proprietor_registration"), case=body["case"], hall_name="厅",
                                holder={"name_masked": "孙*"}, inputs=SHOP, outputs=[], verify_url=url,
                                decided_by="engine@1.0", issued_at=dt.datetime(2026, 11, 25, 10),
                                ruleset_version="2026.2", licence=lic)
    printed = json.dumps(doc.as_dict(), ensure_ascii=False)
    assert lic["identifier"] in printed and "已存入亮证" in printed and lic["number"] in printed
    # the audit: the decision names the identifier, the register's record names the case
    decided = json.loads(db.conn.execute("SELECT data FROM audit WHERE kind = 'approval.decided'").fetchone()[0])
    assert decided["licence"] == lic["identifier"] and decided["decision"] == "approved"
    issued = json.loads(db.conn.execute("SELECT data FROM audit WHERE kind = 'licence.issued'").fetchone()[0])
    assert (issued["licence_id"], issued["case"], issued["source"]) == (lic["id"], body["case"], "approval")
    assert verify(db).ok
    # the holder (the operator) lists it under 亮证, and a token of it verifies
    mine = listed(api)
    assert [m["identifier"] for m in mine] == [lic["identifier"]]
    v = present_and_verify(api, lic["id"])
    assert (v["valid"], v["reason"]) == (True, "ok")
    assert v["licence"]["type_name"] == "个体工商户营业执照" and v["licence"]["holder_masked"] == "章丘区泉香居商行"
    # a second business of the same operator is a second licence with its own USCC and serial
    second = apply_shop(api, trade_name="百脉居")["licence"]
    assert second["number"] != lic["number"] and second["identifier"] != lic["identifier"]
    assert len(listed(api)) == 2


def test_a_referred_case_issues_no_licence(api, db):
    body = apply_shop(api, scope=["1001", "2001"])  # food sales need a permit first
    assert body["decision"] == "referred" and "licence" not in body
    assert db.conn.execute("SELECT COUNT(*) FROM licences").fetchone()[0] == 0
    assert db.conn.execute("SELECT licence_id FROM approval_cases").fetchone()[0] is None
    assert "licence" not in json.loads(db.conn.execute(
        "SELECT data FROM audit WHERE kind = 'approval.decided'").fetchone()[0])
    assert listed(api) == []


def test_other_items_issue_nothing(api, db):
    assert api.apply("elderly_allowance", "elder_ok").json["decision"] == "approved"
    assert db.conn.execute("SELECT COUNT(*) FROM licences").fetchone()[0] == 0


def login(api: Api, user: str = "clerk1") -> dict[str, str]:
    token = api.call("POST", "/api/login", json={"username": user, "password": "clerk123"}).json["token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_clerks_approval_of_a_referral_issues_the_licence_then(api, db, hall):
    h = login(api)
    body = apply_shop(api, address="济南市历下区泉城路1号")  # not in this district: referred
    assert body["decision"] == "referred" and "licence" not in body
    rejected = apply_shop(api, trade_name="泉香阁", address="济南市历下区泉城路2号")["case"]
    r = api.call("POST", f"/api/approvals/{rejected}/decide", headers=h,
                 json={"decision": "rejected", "note": "经营场所不在本区"})
    assert r.status_code == 200 and "licence" not in r.json
    assert db.conn.execute("SELECT COUNT(*) FROM licences").fetchone()[0] == 0
    ok = api.call("POST", f"/api/approvals/{body['case']}/decide", headers=h,
                  json={"decision": "approved", "note": "核实租赁合同，场所在本区新建道路"})
    assert ok.status_code == 200, ok.json
    lic = ok.json["licence"]
    assert lic["type_name"] == "个体工商户营业执照" and lic["holder"] == "章丘区泉香居商行"
    assert ok.json["certificate"]["licence"] == lic["identifier"]
    uid = hall["users"]["clerk1"]["id"]
    human = [json.loads(d) for (d,) in db.conn.execute(
        "SELECT data FROM audit WHERE kind = 'approval.human_decided' ORDER BY id")]
    assert [x.get("licence") for x in human] == [None, lic["identifier"]]
    issued = db.conn.execute("SELECT actor, data FROM audit WHERE kind = 'licence.issued'").fetchone()
    assert issued[0] == f"user:{uid}" and json.loads(issued[1])["case"] == body["case"]
    assert [m["identifier"] for m in listed(api)] == [lic["identifier"]]
    assert present_and_verify(api, lic["id"])["reason"] == "ok"
    assert verify(db).ok
