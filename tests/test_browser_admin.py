"""The hall manager's pages in headless chromium, each admin action end to end against the
real server: add a service, reorder a window's services, pause and reopen a window, create
a clerk who then logs in at the console, close today so issuing is refused with the hall's
reason, undo from the change log, statistics with a drill-down. Every page is screenshotted
into docs/screenshots/admin-*.png."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from queue_server import clock as clk
from queue_server import queue as engine
from queue_server.db import connect
from queue_server.queue.catalog import window_row
from tests.support.common import free_port, needs_chromium, screenshot_dir
from tests.support.web import Server, seeded_hall

pytestmark = [pytest.mark.slow, needs_chromium]

SHOTS = screenshot_dir("screenshots", Path(tempfile.gettempdir()) / "yichuang-screenshots")


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from queue_server.migrations import open_db

    path = tmp_path_factory.mktemp("admin") / "hall.db"
    open_db(path).conn.close()
    made = seeded_hall(path, windows=6)
    made["path"] = path
    return made


@pytest.fixture(scope="module")
def server(hall):
    srv = Server(hall["path"], free_port()).start()
    yield srv
    srv.stop()


def api(server: Server, hall: dict[str, Any], method: str, path: str, role: str = "admin", **kw: Any) -> Any:
    return requests.request(method, server.url + path, headers={"Authorization": f"Bearer {hall['tokens'][role]}"},
                            timeout=10, **kw)


def admin_page(browser, server: Server, name: str = ""):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    # confirm() answers yes; prompt() answers the reason the page proposes
    page.on("dialog", lambda d: d.accept(d.default_value) if d.type == "prompt" else d.accept())
    page.goto(f"{server.url}/admin/{name}")
    page.fill("#login-user", "admin")
    page.fill("#login-pass", "admin123")
    page.press("#login-pass", "Enter")
    page.wait_for_selector("#view-main:not([hidden])")
    return page


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")  # the sticky header stays on top in a full-page shot
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"admin-{name}.png"), full_page=True)


def wait_msg(page, text: str) -> None:
    page.wait_for_function("(t) => !document.getElementById('msg').hidden && "
                           "document.getElementById('msg').textContent.includes(t)", arg=text, timeout=10000)


def test_login_refuses_a_wrong_password_in_chinese(browser, server):
    page = browser.new_page()
    page.goto(f"{server.url}/admin")
    page.fill("#login-user", "admin")
    page.fill("#login-pass", "nope-nope")
    page.press("#login-pass", "Enter")
    wait_msg(page, "用户名或密码错误")
    shot(page, "login")
    page.close()


def test_add_a_service_that_kiosks_then_offer(browser, server, hall):
    page = admin_page(browser, server, "catalog")
    page.wait_for_selector("#svc-table tr[data-code='QY01']")
    f = "#svc-form "
    page.fill(f + "input[name=code]", "QY09")
    page.fill(f + "input[name=name]", "企业名称自主申报")
    page.fill(f + "input[name=name_en]", "Company name self-declaration")
    page.select_option(f + "select[name=category]", "qiye")
    page.check(f + "input[name=self_service]")
    page.fill(f + "input[name=target]", "20")
    page.click("#svc-save")
    wait_msg(page, "已保存")
    page.wait_for_selector("#svc-table tr[data-code='QY09']")
    row = page.text_content("#svc-table tr[data-code='QY09']") or ""
    assert "企业名称自主申报" in row and "20" in row
    shot(page, "catalog")
    kiosk = api(server, hall, "GET", "/api/services", "kiosk").json()
    added = next(s for s in kiosk if s["code"] == "QY09")
    assert added["self_service"] is True and added["prefix"] == "A"
    ticket = api(server, hall, "POST", "/api/tickets", "kiosk", json={"service": "QY09"})
    assert ticket.status_code == 201 and ticket.json()["number"].startswith("A")
    # The same code again is refused in plain Chinese and nothing is written.
    page.fill(f + "input[name=code]", "QY09")
    page.fill(f + "input[name=name]", "另一个名称")
    page.select_option(f + "select[name=category]", "qiye")
    page.click("#svc-save")
    wait_msg(page, "事项代码 QY09 已存在")
    names = [s["name"] for s in api(server, hall, "GET", "/api/services", "kiosk").json() if s["code"] == "QY09"]
    assert names == ["企业名称自主申报"]
    page.close()


def test_reorder_a_windows_services_changes_who_is_called_first(browser, server, hall):
    page = admin_page(browser, server, "windows")
    page.click("#win-table tr[data-window='4'] button.edit")
    page.wait_for_selector("#win-services li[data-code='QY01']")
    first = page.locator("#win-services li").first.get_attribute("data-code")
    assert first == "QY01"
    page.click("#win-services li[data-code='QY02'] button.up")  # QY02 before QY01
    assert page.locator("#win-services li").first.get_attribute("data-code") == "QY02"
    page.click("#win-save")
    wait_msg(page, "已保存")
    shot(page, "windows")
    db = connect(hall["path"])
    try:
        assert window_row(db.conn, 4)["services"][:2] == ["QY02", "QY01"]
        # Window 4 now calls a later QY02 ticket before an earlier QY01 one.
        early = engine.issue_ticket(db, "QY01")
        late = engine.issue_ticket(db, "QY02")
        called = engine.call_next(db, 4)
        assert called is not None and called["id"] == late["id"] != early["id"]
    finally:
        db.conn.close()
    page.close()


def test_pause_and_reopen_a_window_from_the_page(browser, server, hall):
    page = admin_page(browser, server, "windows")
    page.click("#win-table tr[data-window='2'] button.pause")
    page.wait_for_selector("#win-table tr[data-window='2'] .pill.paused")
    state = api(server, hall, "GET", "/api/state", "display").json()
    w2 = next(w for w in state["windows"] if w["number"] == 2)
    assert w2["status"] == "paused" and w2["pause_reason"] == "临时离开，请稍候"
    shot(page, "windows-paused")
    page.click("#win-table tr[data-window='2'] button.open")
    page.wait_for_selector("#win-table tr[data-window='2'] .pill.open")
    state = api(server, hall, "GET", "/api/state", "display").json()
    assert next(w for w in state["windows"] if w["number"] == 2)["status"] == "open"
    page.close()


def test_a_new_clerk_logs_in_at_the_console_with_the_one_time_password(browser, server, hall):
    page = admin_page(browser, server, "staff")
    page.fill("#user-form input[name=username]", "clerk9")
    page.fill("#user-form input[name=display_name]", "郑小燕")
    page.fill("#user-form input[name=staff_no]", "0109")
    page.click("#user-form button[type=submit]")
    page.wait_for_selector("#secret-box:not([hidden])")
    password = (page.text_content("#secret-value") or "").strip()
    assert len(password) == 10
    page.wait_for_selector("#user-table tr[data-user='clerk9']")
    shot(page, "staff")
    assert "scrypt" not in page.content()  # hashes never reach the page
    page.click("#secret-done")
    assert (page.text_content("#secret-value") or "") == ""
    console = browser.new_page(viewport={"width": 1366, "height": 768})
    console.goto(f"{server.url}/counter")
    console.fill("#login-user", "clerk9")
    console.fill("#login-pass", password)
    console.press("#login-pass", "Enter")
    console.wait_for_selector("#view-window:not([hidden])")
    assert "郑小燕" in (console.text_content("#hello") or "")
    console.click("#window-list button[data-window='3']")
    console.wait_for_selector("#view-desk:not([hidden])")
    shot(console, "new-clerk-at-console")
    console.close()
    page.close()


def test_a_locked_login_is_refused_at_once_and_the_admin_unlocks_it(browser, server, hall):
    """Issue 16: after too many failed logins the console says so (429, at once); the staff
    page shows the lock and its 解锁登录 button lifts it."""
    db = connect(hall["path"])
    try:
        now = time.time()
        with db.conn:
            db.conn.execute("INSERT OR REPLACE INTO login_attempts (key, failures, last_failure, blocked_until, locked) "
                            "VALUES ('user:clerk2', 10, ?, ?, 1)", (now, now + 900))
    finally:
        db.conn.close()
    console = browser.new_page(viewport={"width": 1366, "height": 768})
    console.goto(f"{server.url}/counter")
    console.fill("#login-user", "clerk2")
    console.fill("#login-pass", "clerk123")
    console.press("#login-pass", "Enter")
    console.wait_for_function("() => document.body.textContent.includes('已临时锁定')", timeout=10000)
    assert console.is_visible("#view-login")
    page = admin_page(browser, server, "staff")
    page.wait_for_selector("#user-table tr[data-user='clerk2'] button.unlock")
    assert "登录已锁定" in (page.text_content("#user-table tr[data-user='clerk2']") or "")
    shot(page, "staff-login-locked")
    page.click("#user-table tr[data-user='clerk2'] button.unlock")
    wait_msg(page, "已解锁")
    page.wait_for_selector("#user-table tr[data-user='clerk2']:not(:has(button.unlock))")
    console.press("#login-pass", "Enter")
    console.wait_for_selector("#view-window:not([hidden])")
    console.close()
    page.close()


def test_a_closed_day_refuses_tickets_with_the_halls_reason(browser, server, hall):
    assert api(server, hall, "PUT", "/api/settings/enforce_opening_hours", json={"value": True}).ok
    today = clk.business_day(time.time(), "Asia/Shanghai")
    page = admin_page(browser, server, "hours")
    page.wait_for_selector("#week-form input[name=mon]")
    page.fill("#closed-form input[name=day]", today)
    page.fill("#closed-form input[name=reason]", "系统升级")
    page.click("#closed-form button[type=submit]")
    wait_msg(page, "已保存")
    page.wait_for_function("() => document.getElementById('hours-now').textContent.includes('今天闭厅：系统升级')")
    shot(page, "hours")
    time.sleep(2.1)  # the other process's settings cache (CACHE_SECONDS)
    r = api(server, hall, "POST", "/api/tickets", "kiosk", json={"service": "ZH01"})
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "hall_closed_day"
    assert "系统升级" in err["message"] and "下次开放" in err["message"]
    hours = api(server, hall, "GET", "/api/hours", "kiosk").json()
    assert hours["open_now"] is False and hours["closed_reason"] == "系统升级"
    assert hours["next_opening"]["day"] > today
    # Reopen the day from the page; tickets follow the weekly hours again.
    page.click("#closed-table button")
    page.wait_for_function("() => !document.getElementById('hours-now').textContent.includes('闭厅')")
    assert api(server, hall, "PUT", "/api/settings/enforce_opening_hours", json={"value": False}).ok
    page.close()


def test_undo_a_change_from_the_change_log(browser, server, hall):
    r = api(server, hall, "PUT", "/api/admin/windows/5", json={"name": "5号窗口 临时名称"})
    assert r.ok, r.text
    page = admin_page(browser, server, "audit")
    page.wait_for_selector("#audit-table tr[data-kind='window.changed'] button.undo")
    row = page.locator("#audit-table tr[data-kind='window.changed']").first
    record = row.get_attribute("data-record")
    assert "临时名称" in (row.text_content() or "")
    row.locator("button.undo").click()
    wait_msg(page, f"已撤销第 {record} 条")
    page.wait_for_selector(f"#audit-table tr td:text('（撤销 #{record}）')")
    shot(page, "audit")
    db = connect(hall["path"])
    try:
        assert window_row(db.conn, 5)["name"] == "5号窗口 企业开办·税务"
    finally:
        db.conn.close()
    page.close()


def test_statistics_page_live_figures_charts_and_drill_down(browser, server, hall):
    db = connect(hall["path"])
    try:
        for _ in range(3):
            engine.issue_ticket(db, "SB01")
        engine.call_next(db, 1)
    finally:
        db.conn.close()
    page = admin_page(browser, server, "stats")
    page.wait_for_selector("body[data-charts]")  # 2 queue charts, then one per provider
    page.wait_for_selector("#live-dot.open")
    page.select_option("#stats-form select[name=group]", "service")
    page.click("#stats-form button[type=submit]")
    page.wait_for_selector("#stats-table tr[data-group='SB01'] a.num[data-figure='issued']")
    before = page.text_content("#live-tiles") or ""
    db = connect(hall["path"])
    try:
        engine.issue_ticket(db, "SB01")  # the live part follows by the event stream
    finally:
        db.conn.close()
    page.wait_for_function("(b) => document.getElementById('live-tiles').textContent !== b", arg=before, timeout=10000)
    page.click("#stats-table tr[data-group='SB01'] a.num[data-figure='issued']")
    page.wait_for_selector("#drill:not([hidden]) #drill-table tbody tr")
    numbers = page.locator("#drill-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.number)")
    assert len(numbers) >= 3 and all(n.startswith("B") for n in numbers)
    shot(page, "stats")
    # Every table exports: a provider's (秒批) as XLSX from its card.
    page.wait_for_selector(".provider[data-provider='approvals'] button.provider-xlsx")
    with page.expect_download() as got:
        page.click(".provider[data-provider='approvals'] button.provider-xlsx")
    import io

    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(got.value.path().read_bytes()))  # the saved file has no extension
    assert got.value.suggested_filename.startswith("approvals-") and book.sheetnames[0] == "figures"
    page.click("#report-make")
    page.wait_for_selector("#report-table tbody tr")
    page.click("#lang-switch")
    page.wait_for_function("() => document.querySelector('#view-main h1').textContent === 'Statistics'")
    shot(page, "stats-en")
    page.close()


def test_changing_todays_weekly_hours_refuses_tickets_with_the_halls_hours(browser, server, hall):
    import datetime as dt

    assert api(server, hall, "PUT", "/api/settings/enforce_opening_hours", json={"value": True}).ok
    now = clk.local(time.time(), "Asia/Shanghai")
    key = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[now.weekday()]
    # Ten minutes three hours from now (the same day): a span that does not hold now.
    start = (now + dt.timedelta(hours=3)).replace(year=now.year, month=now.month, day=now.day)
    if start.hour < 3:  # three hours from now is tomorrow: take a span this morning instead
        start = now.replace(hour=0, minute=5)
    start = min(start, start.replace(hour=23, minute=40))
    span = f"{start:%H:%M}-{start + dt.timedelta(minutes=10):%H:%M}"
    page = admin_page(browser, server, "hours")
    page.wait_for_selector(f"#week-form input[name={key}]")
    before = page.input_value(f"#week-form input[name={key}]")
    page.fill(f"#week-form input[name={key}]", span)
    page.click("#week-form button[type=submit]")
    wait_msg(page, "已保存")
    page.wait_for_function(f"() => document.getElementById('days-table').textContent.includes('{span}')")
    time.sleep(2.1)  # the other process's settings cache (CACHE_SECONDS)
    r = api(server, hall, "POST", "/api/tickets", "kiosk", json={"service": "ZH01"})
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "hall_closed" and span in err["message"], err
    # Put the hours back from the page: tickets are issued again.
    page.fill(f"#week-form input[name={key}]", before)
    page.click("#week-form button[type=submit]")
    wait_msg(page, "已保存")
    page.wait_for_function(f"() => !document.getElementById('days-table').textContent.includes('{span}')")
    assert page.input_value(f"#week-form input[name={key}]") == before
    assert api(server, hall, "PUT", "/api/settings/enforce_opening_hours", json={"value": False}).ok
    page.close()


@pytest.mark.parametrize("name", ["home", "settings", "appointments", "import"])
def test_the_other_pages_render_their_data(browser, server, hall, name, tmp_path: Path):
    page = admin_page(browser, server, "" if name == "home" else name)
    if name == "home":
        page.wait_for_selector("#home-tiles .tile")
    elif name == "settings":
        page.wait_for_selector("#settings-table tr[data-setting='admin.report_time']")
        assert "end-of-day report" in (page.text_content("#settings-table tr[data-setting='admin.report_time']") or "")
    elif name == "appointments":
        page.select_option("#appt-form select[name=service]", "HZ02")
        page.fill("#appt-form input[name=name]", "王小明")
        page.click("#appt-form button[type=submit]")
        wait_msg(page, "预约码")
        page.wait_for_selector("#appt-table tbody tr")
        assert "王*明" in (page.text_content("#appt-table") or "")
        assert "王小明" not in (page.text_content("#appt-table") or "")
    else:
        f = tmp_path / "hall.json"
        f.write_text('{"categories": [], "services": [{"code": "ZH01", "name": "综合咨询（含政策解读）", '
                     '"category": "zonghe"}], "windows": []}', encoding="utf-8")
        page.set_input_files("#import-file", str(f))
        page.click("#import-preview")
        page.wait_for_selector("#import-diff li.diff-changed")
        assert "综合咨询（含政策解读）" in (page.text_content("#import-diff") or "")
        assert page.is_enabled("#import-apply")
    shot(page, name)
    page.close()


def test_the_header_tells_the_manager_about_a_failing_device(browser, server, hall):
    """Issue 15: the hall manager sees failures too, in the admin area's header (linked to /tech)."""
    from queue_server.auth import create_token

    db = connect(hall["path"])
    token = create_token(db, "kiosk", "kiosk-07")
    db.conn.close()
    beat = requests.post(server.url + "/api/devices/heartbeat", headers={"Authorization": f"Bearer {token}"},
                         json={"name": "kiosk-07", "kind": "kiosk", "version": "1", "uptime_s": 60, "disk_free_mb": 900,
                               "components": [{"kind": "printer", "name": "receipt", "state": "error",
                                               "detail": "paper_out"}]}, timeout=10)
    assert beat.status_code == 200
    page = admin_page(browser, server)
    page.wait_for_selector("#device-alerts:not([hidden])")
    alert = page.locator("#device-alerts")
    assert "1 台设备故障" in alert.inner_text() and alert.get_attribute("href") == "/tech"
    assert "kiosk-07" in (alert.get_attribute("title") or "")
    page.close()
