"""Kiosk cases: numbers per kind and day, links to tickets, the public document check."""

from __future__ import annotations

import pytest

from queue_server import create_app
from queue_server.cases import (
    find_case_by_ticket,
    get_case,
    link_ticket,
    new_verify_ref,
    open_case,
    resolve_ref,
    set_case_status,
)
from queue_server.db import write_tx
from queue_server.errors import NotFound


def test_case_numbers_count_per_kind_and_day(db):
    with write_tx(db) as conn:
        a = open_case(conn, "approval", "elderly_allowance", "高龄津贴申请", kiosk="kiosk-01", day="2026-12-02")
        b = open_case(conn, "approval", "elderly_allowance", "高龄津贴申请", kiosk="kiosk-01", day="2026-12-02")
        c = open_case(conn, "licence_show", "DL", "驾驶证", kiosk="kiosk-01", day="2026-12-02")
        d = open_case(conn, "approval", "elderly_allowance", "高龄津贴申请", kiosk="kiosk-01", day="2026-12-03")
    assert [a["number"], b["number"], c["number"], d["number"]] == [
        "SP20261202000001", "SP20261202000002", "LZ20261202000001", "SP20261203000001"]
    assert a["status"] == "open" and a["kiosk"] == "kiosk-01"


def test_status_and_ticket_link(db):
    with write_tx(db) as conn:
        case = open_case(conn, "approval", "insurance_certificate", "参保证明", kiosk="k", day="2026-12-02")
        set_case_status(conn, case["number"], "referred")
        link_ticket(conn, case["number"], 42)
    assert get_case(db, case["number"])["status"] == "referred"
    assert find_case_by_ticket(db, 42)["number"] == case["number"]
    assert find_case_by_ticket(db, 43) is None
    with pytest.raises(NotFound):
        get_case(db, "SP20261202999999")


def test_the_document_check_page_shows_the_summary_and_the_current_status(db_path, db):
    with write_tx(db) as conn:
        case = open_case(conn, "approval", "elderly_allowance", "高龄津贴申请", kiosk="k", day="2026-12-02")
        set_case_status(conn, case["number"], "approved")
        ref = new_verify_ref(conn, case["number"], {"lines": [["申请人 Applicant", "张*三"], ["结果 Result", "已批准"]]})
    assert len(ref) == 26 and ref.isupper()
    assert resolve_ref(db, ref)["case"]["number"] == case["number"]
    client = create_app({"DB_PATH": str(db_path), "TESTING": True}).test_client()
    page = client.get(f"/v/{ref}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and case["number"] in html and "张*三" in html and "已通过" in html
    assert client.get(f"/api/v/{ref}").json["case"]["status"] == "approved"
    with write_tx(db) as conn:
        set_case_status(conn, case["number"], "revoked")
    assert "已撤销" in client.get(f"/v/{ref}").get_data(as_text=True)
    missing = client.get("/v/AAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert missing.status_code == 404 and "未找到" in missing.get_data(as_text=True)
    assert client.get("/api/v/AAAAAAAAAAAAAAAAAAAAAAAAAA").json["error"]["code"] == "verify_ref_not_found"


def test_a_kiosk_reads_only_the_cases_it_made(db_path, db, hall):
    from queue_server.auth import create_token

    other = create_token(db, "kiosk", "kiosk-02")
    with write_tx(db) as conn:
        mine = open_case(conn, "licence_show", "DL", "驾驶证", kiosk="demo-kiosk", day="2026-11-25")
    client = create_app({"DB_PATH": str(db_path), "TESTING": True}).test_client()

    def get(token: str):
        return client.get(f"/api/cases/{mine['number']}", headers={"Authorization": f"Bearer {token}"})

    assert get(hall["tokens"]["kiosk"]).status_code == 200       # the demo kiosk token: demo-kiosk
    refused = get(other)
    assert refused.status_code == 404 and refused.json["error"]["code"] == "case_not_found"
    assert get(hall["tokens"]["clerk"]).status_code == 200
