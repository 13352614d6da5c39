"""The clerk console in headless chromium: recall, transfer, no-show, errors, session expiry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from queue_server import queue as engine
from queue_server.db import connect
from tests.support.common import free_port, needs_chromium
from tests.support.web import Server, press, seeded_hall

pytestmark = [
    pytest.mark.slow,
    needs_chromium,
]


@pytest.fixture
def hall(db_path: Path) -> dict[str, Any]:
    return seeded_hall(db_path, windows=6)


@pytest.fixture
def server(db_path: Path, hall):
    srv = Server(db_path, free_port()).start()
    yield srv
    srv.stop()


def console(browser, url: str, hall: dict[str, Any], user: str, window: int):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{url}/counter")
    page.fill("#login-user", user)
    page.fill("#login-pass", hall["users"][user]["password"])
    page.press("#login-pass", "Enter")
    page.click(f"#window-list button[data-window='{window}']")
    page.wait_for_selector("#view-desk:not([hidden])")
    page.wait_for_selector("#btn-call:not([disabled])")  # loaded and idle
    return page


def wait_msg(page, text: str) -> None:
    page.wait_for_function("(t) => document.getElementById('msg').textContent === t", arg=text, timeout=10000)


def current(page) -> str:
    return page.text_content("#cur-number") or ""


def wait_number(page, expected: str) -> None:
    page.wait_for_function(f"() => document.getElementById('cur-number').textContent === '{expected}'", timeout=10000)


def test_wrong_password_is_a_plain_chinese_message(browser, server, hall):
    page = browser.new_page()
    page.goto(f"{server.url}/counter")
    page.fill("#login-user", "clerk1")
    page.fill("#login-pass", "wrong-password")
    page.press("#login-pass", "Enter")
    page.wait_for_selector("#msg:not([hidden])")
    assert page.text_content("#msg") == "用户名或密码错误"
    assert page.is_visible("#view-login")


def test_recall_transfer_and_no_show_from_the_keyboard(browser, server, hall, db_path):
    db = connect(db_path)
    a = engine.issue_ticket(db, "ZH01")
    b = engine.issue_ticket(db, "ZH01")
    db.conn.close()
    one = console(browser, server.url, hall, "clerk1", 1)
    two = console(browser, server.url, hall, "clerk2", 2)

    press(one, "Space")
    wait_number(one, a["number"])
    press(one, "r")
    wait_msg(one, f"已重呼 {a['number']}")
    one.wait_for_function("() => document.getElementById('cur-details').textContent.includes('呼叫次数 Calls2')")

    # Transfer to window 2 with a note: window 2 sees it first, tagged, and calls it next.
    press(one, "t")
    one.select_option("#transfer-window", "2")
    one.fill("#transfer-note", "需补充营业执照复印件")
    one.click("#transfer-ok")
    wait_number(one, "—")
    # Window 2's list was loaded before window 1 called the ticket, so the number alone may be the
    # stale row: wait for the row that carries the transfer tag.
    two.wait_for_selector(
        f"#queue-body tr:first-child:has(td.num:text('{a['number']}')):has(.tag.transfer)", timeout=10000)
    assert "转入" in (two.text_content("#queue-body tr:first-child") or "")
    press(two, "F1")
    wait_number(two, a["number"])
    assert "需补充营业执照复印件" in (two.text_content("#cur-details") or "")

    # No-show at window 1.
    press(one, "F1")
    wait_number(one, b["number"])
    press(one, "n")
    wait_number(one, "—")
    db = connect(db_path)
    assert engine.get_ticket(db, b["id"])["status"] == "no_show"
    assert engine.get_ticket(db, a["id"])["window"] == 2
    db.conn.close()


def test_an_action_the_hall_no_longer_allows_shows_the_servers_reason(browser, server, hall, db_path):
    db = connect(db_path)
    t = engine.issue_ticket(db, "ZH01")
    db.conn.close()
    page = console(browser, server.url, hall, "clerk1", 1)
    press(page, "F1")
    wait_number(page, t["number"])
    press(page, "s")
    page.wait_for_function("() => document.getElementById('cur-status').textContent.startsWith('办理中')")
    # An admin finishes that ticket from elsewhere just before the clerk presses F: the
    # server refuses and the console shows its reason in Chinese.
    page.evaluate(
        """async ([id, token]) => {
            await fetch(`/api/tickets/${id}/finish`, {method: "POST", headers: {Authorization: "Bearer " + token}});
            document.getElementById("btn-finish").click();
        }""",
        [t["id"], hall["tokens"]["admin"]],
    )
    page.wait_for_selector("#msg:not([hidden])")
    msg = page.text_content("#msg") or ""
    assert msg and not msg.startswith("请求失败") and any("\u4e00" <= ch <= "\u9fff" for ch in msg), msg
    # And the event stream brings the console up to date.
    wait_number(page, "—")


def test_pause_with_reason_then_resume(browser, server, hall, db_path):
    page = console(browser, server.url, hall, "clerk1", 1)
    press(page, "p")
    page.fill("#pause-text", "系统维护，请到 2 号窗口")
    page.click("#pause-ok")
    page.wait_for_function("() => document.getElementById('desk-status').textContent.includes('系统维护')")
    assert page.is_disabled("#btn-call")
    press(page, "p")
    page.wait_for_function("() => document.getElementById('desk-status').textContent.startsWith('服务中')")
    assert page.is_enabled("#btn-call")


def test_a_revoked_session_returns_to_the_login(browser, server, hall, db_path):
    page = console(browser, server.url, hall, "clerk1", 1)
    token = page.evaluate("sessionStorage.getItem('yc.token')")
    requests.post(f"{server.url}/api/logout", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    page.wait_for_timeout(200)
    if page.is_visible("#view-desk"):  # the console may already have noticed by itself
        page.keyboard.press("F1")
    page.wait_for_selector("#view-login:not([hidden])", timeout=15000)
    msg = page.text_content("#msg") or ""
    assert msg.startswith("登录已失效"), msg


def test_transfer_to_another_service_keeps_the_number(browser, server, hall, db_path):
    db = connect(db_path)
    t = engine.issue_ticket(db, "ZH01")
    db.conn.close()
    page = console(browser, server.url, hall, "clerk1", 1)
    press(page, "F1")
    wait_number(page, t["number"])
    press(page, "t")
    page.check("input[name=to][value=service]")
    page.select_option("#transfer-service", "SB02")
    page.fill("#transfer-note", "养老保险关系转移，请到社保窗口")
    page.click("#transfer-ok")
    wait_number(page, "—")
    db = connect(db_path)
    after = engine.get_ticket(db, t["id"])
    db.conn.close()
    assert after["number"] == t["number"] and after["service"] == "SB02" and after["status"] == "waiting"
    assert after["transfer_note"] == "养老保险关系转移，请到社保窗口"
