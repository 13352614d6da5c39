"""Browser tests (headless Debian chromium via playwright): the console calls, the displays show it.

Set ``YICHUANG_SCREENSHOTS=1`` to (re)write the screenshots under ``docs/screenshots/``;
otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from queue_server import queue as engine
from queue_server.db import connect
from tests.support.common import free_port, needs_chromium, screenshot_dir
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


def issue(db_path: Path, *services: str) -> list[dict[str, Any]]:
    db = connect(db_path)
    try:
        return [engine.issue_ticket(db, s) for s in services]
    finally:
        db.conn.close()


def login(page, url: str, user: str, password: str, window: int) -> None:
    page.goto(f"{url}/counter")
    page.fill("#login-user", user)
    page.fill("#login-pass", password)
    page.click("#login-form button[type=submit]")
    page.click(f"#window-list button[data-window='{window}']")
    page.wait_for_selector("#view-desk:not([hidden])")
    page.wait_for_selector("#btn-call:not([disabled])")  # loaded and idle


def test_a_call_in_the_console_appears_on_the_hall_and_window_displays(browser, server, hall, db_path, tmp_path):
    db = connect(db_path)
    # The first in line was referred by a kiosk (转人工): the clerk must see why, and the masked ID.
    referred = engine.issue_ticket(db, "QY02", id_number="370181199003071233",
                                   referral_reason="人脸比对未通过，请人工核验身份")
    db.conn.close()
    issue(db_path, "SB01", "GJ01", "QY01")
    token = hall["tokens"]["display"]
    shots = screenshot_dir("screenshots", tmp_path)

    hall_page = browser.new_page(viewport={"width": 1920, "height": 1080})
    voice_requests: list[str] = []
    hall_page.on("request", lambda r: voice_requests.append(r.url) if "/api/voice/" in r.url else None)
    hall_page.goto(f"{server.url}/display?token={token}")
    hall_page.wait_for_function("() => document.body.dataset.lastEventId !== undefined")
    assert hall_page.evaluate("document.body.classList.contains('landscape')")

    win_page = browser.new_page(viewport={"width": 1280, "height": 720})
    win_page.goto(f"{server.url}/display/window/1?token={token}")
    win_page.wait_for_function("() => document.body.dataset.lastEventId !== undefined")

    console = browser.new_page(viewport={"width": 1366, "height": 768})
    login(console, server.url, "clerk1", hall["users"]["clerk1"]["password"], 1)
    console.wait_for_selector("#queue-body tr")
    assert console.locator("#queue-body tr").count() == 4
    press(console, "F1")
    console.wait_for_function("() => document.getElementById('cur-number').textContent !== '—'")
    number = console.text_content("#cur-number")
    assert re.fullmatch(r"[A-Z]\d{3}", number or "")
    assert number == referred["number"]
    assert console.text_content("#cur-details dd.referral") == "人脸比对未通过，请人工核验身份"
    assert "3701**********" in (console.text_content("#cur-details") or "")

    hall_page.wait_for_function(f"() => document.getElementById('now-number').textContent === '{number}'", timeout=8000)
    assert hall_page.text_content("#now-window-text") == "请到 1 号窗口"
    assert hall_page.locator("#recent li").first.text_content().startswith(number)
    win_page.wait_for_function(f"() => document.getElementById('current').textContent === '{number}'", timeout=8000)
    # The clerk's name arrives with the state message that follows the call event.
    win_page.wait_for_function("() => document.getElementById('clerk-name').textContent === '王*明'", timeout=8000)
    assert win_page.text_content("#clerk-name") == "王*明"  # masked on public screens
    assert win_page.text_content("#clerk-no") == "0101"
    # The hall display asked for the announcement of exactly this call.
    deadline = time.monotonic() + 3
    while not any(f"number={number}" in u for u in voice_requests) and time.monotonic() < deadline:
        hall_page.wait_for_timeout(100)
    assert any(f"number={number}" in u and "window=1" in u and "kind=call" in u for u in voice_requests)

    # Start, then the details panel and the waiting list follow the console's actions.
    press(console, "s")
    console.wait_for_function("() => document.getElementById('cur-status').textContent.startsWith('办理中')")
    win_page.wait_for_function("() => document.getElementById('status').textContent.startsWith('正在办理')", timeout=8000)
    console.wait_for_function("() => document.querySelectorAll('#queue-body tr').length === 3")

    console.wait_for_timeout(2600)  # the green "called" toast fades
    console.screenshot(path=str(shots / "counter.png"))
    win_page.wait_for_function("() => document.getElementById('current').getAnimations().length === 0", timeout=10000)
    win_page.screenshot(path=str(shots / "window-display.png"))

    # Pausing shows 暂停服务 with the reason on the window screen.
    press(console, "f")
    console.wait_for_function("() => document.getElementById('cur-number').textContent === '—'")
    win_page.wait_for_function("() => document.getElementById('current').textContent === '—'", timeout=8000)
    press(console, "p")
    console.select_option("#pause-reason", label="午间休息")
    console.click("#pause-ok")
    win_page.wait_for_selector("#paused:not([hidden])", timeout=8000)
    assert win_page.text_content("#paused-reason") == "午间休息"
    win_page.screenshot(path=str(shots / "window-display-paused.png"))


def test_two_clerks_at_two_windows_never_get_the_same_ticket(browser, server, hall, db_path):
    from queue_server.settings import set_setting

    db = connect(db_path)
    set_setting(db, "call_repeat_guard_seconds", 0)  # rapid presses on purpose (tests/test_browser_clerk.py has the guard)
    db.conn.close()
    issue(db_path, *(["ZH01"] * 6))
    pages = []
    for user, window in (("clerk1", 1), ("clerk2", 2)):
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        login(page, server.url, user, hall["users"][user]["password"], window)
        pages.append(page)
    seen: list[str] = []
    for _ in range(3):
        # Both press "call next" at the same moment (the clicks are dispatched without waiting).
        for page in pages:
            page.evaluate("document.getElementById('btn-call').click()")
        for page in pages:
            page.wait_for_function(
                "(prev) => { const t = document.getElementById('cur-number').textContent;"
                " return t !== '—' && !prev.includes(t); }", arg=seen, timeout=10000)
            seen.append(page.text_content("#cur-number") or "")
    assert len(seen) == 6 and len(set(seen)) == 6, seen


def test_busy_hall_in_both_layouts_with_an_escaped_notice(browser, server, hall, db_path, tmp_path):
    issue(db_path, "QY01", "SB01", "SB02", "SB04", "GJ01", "HZ01", "SW01", "QY03", "SB03", "ZH01",
          "QY05", "SB05", "GJ02", "ZH01", "SW02", "QY01")
    db = connect(db_path)
    for window in (1, 2, 3, 4, 5, 15, 1, 2, 3):
        engine.call_next(db, window)
    engine.set_notice(db, '<img src=x onerror="window.pwned=1">请携带身份证原件办理')
    db.conn.close()
    token = hall["tokens"]["display"]
    pages = {}
    for layout, size in (("portrait", (1080, 1920)), ("landscape", (1920, 1080))):
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        page.goto(f"{server.url}/display?token={token}")
        page.wait_for_function("() => document.body.dataset.lastEventId !== undefined")
        assert page.evaluate(f"document.body.classList.contains('{layout}')")
        assert page.locator("#recent li").count() == 8
        # Data is text, never markup.
        assert page.text_content("#notice").startswith("<img src=x")
        assert page.locator("#notice img").count() == 0
        assert page.evaluate("window.pwned === undefined")
        # Nothing spills out of the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
        pages[layout] = page
    # ?layout= overrides the aspect ratio.
    forced = browser.new_page(viewport={"width": 1920, "height": 1080})
    forced.goto(f"{server.url}/display?layout=portrait&token={token}")
    assert forced.evaluate("document.body.classList.contains('portrait')")
    forced.close()

    db = connect(db_path)
    engine.set_notice(db, "周六上午 09:00-12:00 延时服务；请携带本人身份证原件，过号请到服务台咨询")
    engine.call_next(db, 4)
    db.conn.close()
    for page in pages.values():
        page.wait_for_function("() => document.getElementById('notice').textContent.startsWith('周六')", timeout=8000)
    pages["landscape"].wait_for_timeout(9000)  # the highlight ends and the notice scrolls in
    shots = screenshot_dir("screenshots", tmp_path)
    pages["landscape"].screenshot(path=str(shots / "display-landscape.png"))
    pages["portrait"].screenshot(path=str(shots / "display-portrait.png"))


def test_a_display_reconnects_after_a_server_restart_and_shows_the_right_state(browser, server, hall, db_path):
    issue(db_path, "QY01", "QY02")
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{server.url}/display?token={hall['tokens']['display']}")
    page.wait_for_function("() => document.body.dataset.lastEventId !== undefined")
    server.stop()
    page.wait_for_selector("#link.down", timeout=10000)
    # While the server is down another process calls a ticket (same database file).
    db = connect(db_path)
    called = engine.call_next(db, 3)
    db.conn.close()
    assert called is not None
    server.start()
    page.wait_for_function(
        f"() => document.getElementById('now-number').textContent === '{called['number']}'", timeout=15000)
    assert page.text_content("#now-window-text") == "请到 3 号窗口"
    assert page.locator("#link.down").count() == 0


FAKE_AUDIO = """
window.__plays = [];
window.Audio = class {
  constructor() { this.listeners = {}; this.src = ""; }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  play() {
    const entry = { src: this.src, start: performance.now(), end: null };
    window.__plays.push(entry);
    setTimeout(() => { entry.end = performance.now(); (this.listeners.ended || []).forEach((f) => f()); }, 400);
    return Promise.resolve();
  }
};
"""


def test_announcements_queue_in_order_and_never_overlap(browser, server, hall, db_path):
    """Three calls and a recall in quick succession: four announcements, one after another."""
    issue(db_path, "ZH01", "ZH01", "ZH01")
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.add_init_script(FAKE_AUDIO)  # a stand-in <audio> that "plays" for 0.4 s
    page.goto(f"{server.url}/display?token={hall['tokens']['display']}")
    page.wait_for_function("() => document.body.dataset.lastEventId !== undefined")
    db = connect(db_path)
    called = [engine.call_next(db, w) for w in (1, 2, 3)]
    engine.recall(db, called[0]["id"], window=1)
    db.conn.close()
    page.wait_for_function("() => window.__plays.length === 4 && window.__plays[3].end !== null", timeout=10000)
    plays = page.evaluate("window.__plays")
    heard = [(re.search(r"number=(\w+)", p["src"]).group(1), re.search(r"kind=(\w+)", p["src"]).group(1))
             for p in plays]
    assert heard == [(c["number"], "call") for c in called] + [(called[0]["number"], "recall")]
    for before, after in zip(plays, plays[1:], strict=False):
        assert after["start"] >= before["end"]  # never two at once
    assert "重呼" in (page.text_content("#recent li:first-child") or "")
    assert page.text_content("#now-kind") == "重呼"


def test_a_screen_with_voice_off_shows_the_call_but_fetches_no_audio(browser, server, hall, db_path):
    issue(db_path, "ZH01")
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "/api/voice/" in r.url else None)
    page.goto(f"{server.url}/display?voice=off&token={hall['tokens']['display']}")
    page.wait_for_function("() => document.body.dataset.lastEventId !== undefined")
    db = connect(db_path)
    called = engine.call_next(db, 1)
    db.conn.close()
    page.wait_for_function(f"() => document.getElementById('now-number').textContent === '{called['number']}'",
                           timeout=8000)
    page.wait_for_timeout(500)
    assert fetched == []
