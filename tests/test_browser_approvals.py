"""The clerk console in headless chromium: calling a 秒批 referral's number shows the case's
whole rule trace; the clerk decides it (reject needs a reason), and the decision is audited."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests

from queue_server.db import connect
from queue_server.demo import make_hall
from tests.support.approvals import application
from tests.support.common import free_port, needs_chromium, screenshot_dir
from tests.support.web import Server, press

pytestmark = [pytest.mark.slow, needs_chromium]
SHOTS = screenshot_dir("screenshots", Path(tempfile.gettempdir()) / "yichuang-screenshots")


@pytest.fixture
def hall(db_path: Path) -> dict[str, Any]:
    db = connect(db_path)
    try:
        return make_hall(db, tokens=True, appointments=0)
    finally:
        db.conn.close()


@pytest.fixture
def server(db_path: Path, hall):
    srv = Server(db_path, free_port()).start()
    yield srv
    srv.stop()


def apply(server: Server, hall: dict[str, Any], item: str, who: str, **kw: Any) -> dict[str, Any]:
    r = requests.post(f"{server.url}/api/approvals", json=application(item, who, **kw),
                      headers={"Authorization": f"Bearer {hall['tokens']['kiosk']}"}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def console(browser, url: str, user: str, window: int):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{url}/counter")
    page.fill("#login-user", user)
    page.fill("#login-pass", "clerk123")
    page.press("#login-pass", "Enter")
    page.click(f"#window-list button[data-window='{window}']")
    page.wait_for_selector("#btn-call:not([disabled])")
    return page


def test_calling_a_referral_shows_the_rule_trace_and_the_clerk_decides(browser, server, hall, db_path):
    case = apply(server, hall, "elderly_allowance", "elder_elsewhere", method="card")
    number = case["ticket"]["number"]
    page = console(browser, server.url, "clerk1", 14)
    press(page, "F1")
    page.wait_for_function(f"() => document.getElementById('cur-number').textContent === '{number}'", timeout=10000)
    page.wait_for_selector("#case-panel:not([hidden])", timeout=10000)
    assert page.text_content("#case-number") == case["case"]
    assert "转人工审核中" in page.text_content("#case-status")
    head = page.text_content("#case-head")
    assert "高龄津贴申请" in head and "张*英" in head and "仅读卡" in head
    r0 = page.text_content("#case-trace tr[data-rule='R0']")
    r1 = page.text_content("#case-trace tr[data-rule='R1']")
    r2 = page.text_content("#case-trace tr[data-rule='R2']")
    assert "未通过" in r0 and "IDENTITY_NOT_VERIFIED" in r0
    assert "户籍在本区" in r1 and "未通过" in r1 and "NOT_LOCAL_HUKOU" in r1
    assert "370102" in r1 and "370114" in r1 and "（persons）" in r1
    assert "通过" in r2 and "88" in r2
    assert "秒批转人工" in page.text_content("#cur-details")
    page.screenshot(path=str(SHOTS / "counter-approval-trace.png"), full_page=True)

    # Reject without a reason: the server refuses; with one, the case is closed and audited.
    page.click("#btn-case-reject")
    page.click("#case-ok")
    # (the message line may still show 已呼叫 from the call: wait for the refusal itself)
    page.wait_for_function("() => document.getElementById('msg').textContent.includes('理由')", timeout=10000)
    assert page.is_visible("#msg")
    page.click("#btn-case-reject")
    page.fill("#case-note", "户籍在历下区，请到户籍地民政部门申请")
    page.click("#case-ok")
    page.wait_for_function("() => document.getElementById('case-status').textContent.includes('未通过')", timeout=10000)
    assert "户籍在历下区" in page.text_content("#case-staff")
    assert page.is_hidden("#case-actions")
    page.screenshot(path=str(SHOTS / "counter-approval-decided.png"), full_page=True)
    db = connect(db_path)
    try:
        actor, data = db.conn.execute(
            "SELECT actor, data FROM audit WHERE kind = 'approval.human_decided'").fetchone()
        uid = hall["users"]["clerk1"]["id"]
        assert actor == f"user:{uid}" and json.loads(data)["decision"] == "rejected"
    finally:
        db.conn.close()


def test_an_ordinary_ticket_shows_no_case_panel(browser, server, hall):
    requests.post(f"{server.url}/api/tickets", json={"service": "MZ01"},
                  headers={"Authorization": f"Bearer {hall['tokens']['kiosk']}"}, timeout=10)
    page = console(browser, server.url, "clerk2", 14)
    press(page, "F1")
    page.wait_for_function("() => document.getElementById('cur-number').textContent.startsWith('J')", timeout=10000)
    page.wait_for_timeout(500)
    assert page.is_hidden("#case-panel")
