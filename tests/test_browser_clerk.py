"""Issue 18 in headless chromium: the clerk console's no-show list and 回呼, 特呼, the
double-press question and 补打; the hall display's full-screen notice when its token is
revoked (and its recovery), and a paused window leaving 正在叫号; the landing page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from queue_server import queue as engine
from queue_server.db import connect
from tests.support.common import free_port, needs_chromium, screenshot_dir
from tests.support.web import Server, press, seeded_hall

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def hall(db_path: Path) -> dict[str, Any]:
    return seeded_hall(db_path, windows=6)


@pytest.fixture
def server(db_path: Path, hall):
    srv = Server(db_path, free_port()).start()
    yield srv
    srv.stop()


def issue(db_path: Path, *services: str) -> list[dict[str, Any]]:
    db = connect(db_path)
    try:
        return [engine.issue_ticket(db, s) for s in services]
    finally:
        db.conn.close()


def status_of(db_path: Path, ticket_id: int) -> str:
    db = connect(db_path)
    try:
        return str(engine.get_ticket(db, ticket_id)["status"])
    finally:
        db.conn.close()


def console(browser, url: str, hall: dict[str, Any], user: str, window: int):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{url}/counter")
    page.fill("#login-user", user)
    page.fill("#login-pass", hall["users"][user]["password"])
    page.press("#login-pass", "Enter")
    page.click(f"#window-list button[data-window='{window}']")
    page.wait_for_selector("#view-desk:not([hidden])")
    page.wait_for_selector("#btn-call:not([disabled])")
    return page


def wait_number(page, expected: str) -> None:
    page.wait_for_function(f"() => document.getElementById('cur-number').textContent === '{expected}'", timeout=10000)


def wait_msg_has(page, text: str) -> None:
    page.wait_for_function("(t) => document.getElementById('msg').textContent.includes(t)", arg=text, timeout=10000)


def test_double_press_asks_then_no_show_list_recall_and_special_call(browser, server, hall, db_path, tmp_path):
    from queue_server.settings import set_setting

    db = connect(db_path)
    set_setting(db, "call_repeat_guard_seconds", 60)  # a loaded test machine: keep the guard on throughout
    db.conn.close()
    a, b, c, d = issue(db_path, "ZH01", "ZH01", "ZH01", "ZH01")
    shots = screenshot_dir("screenshots", tmp_path)
    page = console(browser, server.url, hall, "clerk1", 1)

    # 叫下一位, then a second press at once: the console asks instead of marking A as absent.
    press(page, "F1")
    wait_number(page, a["number"])
    press(page, "F1")
    page.wait_for_selector("#dlg-just-called[open]")
    assert page.text_content("#just-called-text") == f"刚叫过 {a['number']}，确定过号并叫下一位？"
    page.screenshot(path=str(shots / "counter-just-called.png"))
    page.click("#just-called-cancel")
    page.wait_for_selector("#dlg-just-called", state="hidden")
    assert status_of(db_path, a["id"]) == "called" and current_is(page, a["number"])
    # Asked again and confirmed: A goes to 过号, B is called.
    press(page, "F1")
    page.wait_for_selector("#dlg-just-called[open]")
    page.click("#just-called-ok")
    wait_number(page, b["number"])
    assert status_of(db_path, a["id"]) == "no_show"

    # The no-show list shows A with a 回呼 button; pressing it calls A back here.
    page.wait_for_selector(f"#no-show-body tr[data-number='{a['number']}'] button.recall-no-show")
    page.click(f"#no-show-body tr[data-number='{a['number']}'] button.recall-no-show")
    wait_number(page, a["number"])
    wait_msg_has(page, f"已回呼 {a['number']}")
    assert status_of(db_path, a["id"]) == "called" and status_of(db_path, b["id"]) == "no_show"
    page.wait_for_selector(f"#no-show-body tr[data-number='{b['number']}']")

    # 特呼 D out of order, with a reason; A (still called) goes to 过号.
    page.fill("#special-number", d["number"].lower())
    page.fill("#special-reason", "老人行动不便，优先办理")
    page.click("#btn-special")
    wait_number(page, d["number"])
    wait_msg_has(page, f"已特呼 {d['number']}")
    assert status_of(db_path, c["id"]) == "waiting"
    page.wait_for_selector(f"#no-show-body tr[data-number='{a['number']}']")
    page.wait_for_function("() => document.querySelectorAll('#no-show-body tr').length === 2")
    page.screenshot(path=str(shots / "counter-no-shows.png"), full_page=True)
    # A number that does not exist: the server's plain Chinese reason.
    page.fill("#special-number", "Z999")
    page.click("#btn-special")
    wait_msg_has(page, "找不到该号码")
    db = connect(db_path)
    audit = db.conn.execute("SELECT data FROM audit WHERE kind = 'ticket.special_call'").fetchall()
    db.conn.close()
    assert len(audit) == 1 and "老人行动不便" in audit[0][0]


def current_is(page, number: str) -> bool:
    return (page.text_content("#cur-number") or "") == number


def test_reprint_button_queues_a_reprint_of_the_current_ticket(browser, server, hall, db_path, tmp_path):
    from queue_server.printing.jobs import add_printer

    db = connect(db_path)
    add_printer(db, "desk-1", f"tcp://127.0.0.1:{free_port()}")  # nobody listens: the job stays queued
    db.conn.close()
    (t,) = issue(db_path, "ZH01")
    page = console(browser, server.url, hall, "clerk1", 1)
    assert page.is_disabled("#btn-reprint")
    press(page, "F1")
    wait_number(page, t["number"])
    # The called ticket leaves the waiting list.
    page.wait_for_function("() => document.querySelectorAll('#queue-body tr').length === 0", timeout=10000)
    page.click("#btn-reprint")
    wait_msg_has(page, f"{t['number']} 补打已发送到打印机")
    page.screenshot(path=str(screenshot_dir("screenshots", tmp_path) / "counter-reprint.png"))
    db = connect(db_path)
    jobs = db.conn.execute("SELECT kind, ticket_id, printer FROM print_jobs").fetchall()
    db.conn.close()
    assert [tuple(j) for j in jobs] == [("reprint", t["id"], "desk-1")]


def test_display_shows_a_notice_when_its_token_is_revoked_and_recovers(browser, server, hall, db_path, tmp_path):
    from queue_server.auth import hash_token

    token = hall["tokens"]["display"]
    shots = screenshot_dir("screenshots", tmp_path)
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{server.url}/display?token={token}&voice=off&heartbeat=off&probe=1")
    page.wait_for_function("() => document.body.dataset.lastEventId !== undefined && document.body.dataset.link === 'ok'")
    assert page.is_hidden("#link-notice") if page.query_selector("#link-notice") else True

    db = connect(db_path)
    with db.conn:
        db.conn.execute("UPDATE tokens SET revoked_at = strftime('%s','now') WHERE token_hash = ?",
                        (hash_token(token),))
    db.conn.close()
    # The server trusts a verified token for up to 10 s (its cache), then answers 401.
    page.wait_for_selector("#link-notice:not([hidden])", timeout=25000)
    notice = page.text_content("#link-notice") or ""
    assert "叫号屏未连接 — 请联系技术人员" in notice and "Display not connected" in notice
    assert "令牌无效或已被吊销" in notice and "/tech" in notice
    assert page.evaluate("document.body.dataset.link") == "token"
    page.screenshot(path=str(shots / "display-not-connected.png"))

    # A technician restores the token (or the database): the screen recovers by itself.
    db = connect(db_path)
    with db.conn:
        db.conn.execute("UPDATE tokens SET revoked_at = NULL WHERE token_hash = ?", (hash_token(token),))
    db.conn.close()
    page.wait_for_selector("#link-notice", state="hidden", timeout=25000)
    assert page.evaluate("document.body.dataset.link") == "ok"
    # ... and it shows calls again.
    (t,) = issue(db_path, "ZH01")
    db = connect(db_path)
    engine.call_next(db, 2)
    db.conn.close()
    page.wait_for_function(f"() => document.getElementById('now-number').textContent === '{t['number']}'",
                           timeout=20000)


def test_display_notice_when_the_server_is_away_for_10_seconds(browser, db_path, hall, tmp_path):
    port = free_port()
    srv = Server(db_path, port).start()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"{srv.url}/display/window/1?token={hall['tokens']['display']}"
                  "&heartbeat=off&probe=1")
        page.wait_for_function("() => document.body.dataset.link === 'ok'")
        srv.stop()
        page.wait_for_timeout(5000)
        assert page.evaluate("document.body.dataset.link") == "ok"  # not yet: 10 s
        page.wait_for_selector("#link-notice:not([hidden])", timeout=15000)
        assert "已超过 10 秒无法连接叫号服务器" in (page.text_content("#link-notice") or "")
        page.screenshot(path=str(screenshot_dir("screenshots", tmp_path) / "window-display-not-connected.png"))
        srv.start()
        page.wait_for_selector("#link-notice", state="hidden", timeout=20000)
    finally:
        srv.stop()


def test_a_paused_window_leaves_now_calling_at_once(browser, server, hall, db_path):
    a, b = issue(db_path, "ZH01", "ZH01")
    db = connect(db_path)
    engine.call_next(db, 1)
    engine.call_next(db, 2)
    db.conn.close()
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{server.url}/display?token={hall['tokens']['display']}&voice=off&heartbeat=off")
    page.wait_for_function(f"() => document.getElementById('now-number').textContent === '{b['number']}'")
    db = connect(db_path)
    engine.pause_window(db, 2, "临时离开")
    db.conn.close()
    # Window 2's call leaves 正在叫号; the newest call at an open window (1) shows instead.
    page.wait_for_function(f"() => document.getElementById('now-number').textContent === '{a['number']}'",
                           timeout=10000)
    assert "请到 1 号窗口" in (page.text_content("#now") or "")
    db = connect(db_path)
    engine.close_window(db, 1)
    db.conn.close()
    page.wait_for_function("() => document.getElementById('now-number').textContent === '—'", timeout=10000)


def test_landing_page_links_the_public_parts(browser, server, hall, db_path, tmp_path):
    import requests

    (t,) = issue(db_path, "ZH01")
    r = requests.get(server.url + "/", timeout=5)
    assert r.status_code == 200
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Cache-Control"] == "no-store"
    for path in ("/display", "/display/window/1", "/display/window/15", "/counter", "/admin", "/tech"):
        assert f'href="{path}"' in r.text, path
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url + "/")
    page.screenshot(path=str(screenshot_dir("screenshots", tmp_path) / "landing.png"), full_page=True)
    page.fill("#code", t["progress_code"])
    page.click(".code-form button[type=submit]")
    page.wait_for_url(f"**/t/{t['progress_code']}")
    assert t["number"] in (page.text_content("body") or "")
