"""The public progress page /t/<code> that the QR on a ticket opens."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from queue_server import queue as engine
from queue_server.db import connect
from tests.support.common import launch_chromium, needs_chromium


@pytest.fixture
def hall(db_path: Path) -> dict:
    from queue_server.demo import make_hall

    db = connect(db_path)
    made = make_hall(db, tokens=True, windows=3, appointments=0)
    db.conn.close()
    return made


@pytest.fixture
def app(db_path: Path, hall: dict):
    from queue_server import create_app

    return create_app({"DB_PATH": str(db_path), "TESTING": True, "PROGRESS_REFRESH_SECONDS": 1})


def issue(db_path: Path, *services: str, **kw) -> list[dict]:
    db = connect(db_path)
    try:
        return [engine.issue_ticket(db, s, **kw) for s in services]
    finally:
        db.conn.close()


def test_waiting_ticket_shows_number_service_and_people_ahead(app, db_path):
    tickets = issue(db_path, "QY01", "QY01", "QY01")
    r = app.test_client().get(f"/t/{tickets[2]['progress_code']}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert tickets[2]["number"] in html
    assert "企业设立登记" in html
    assert "济南市章丘区政务服务中心" in html
    assert '"waiting_ahead": 2' in html  # the initial state the script shows
    assert "前面还有" in html and "/api/progress/" in html
    assert r.headers["Cache-Control"] == "no-store"


def test_called_ticket_shows_its_window(app, db_path):
    [t] = issue(db_path, "QY01")
    db = connect(db_path)
    called = engine.call_next(db, 1)
    db.conn.close()
    assert called is not None and called["number"] == t["number"]
    html = app.test_client().get(f"/t/{t['progress_code']}").get_data(as_text=True)
    assert '"status": "called"' in html
    assert called["window_name"] in html


def test_unknown_code_is_a_chinese_404_page(app):
    r = app.test_client().get("/t/doesnotexist")
    assert r.status_code == 404
    html = r.get_data(as_text=True)
    assert "找不到该号码" in html and "<script>" not in html


def test_page_escapes_what_it_shows(app, db_path):
    from queue_server.settings import set_setting

    db = connect(db_path)
    set_setting(db, "hall_name", "<img src=x onerror=alert(1)>大厅")
    db.conn.close()
    [t] = issue(db_path, "QY01")
    html = app.test_client().get(f"/t/{t['progress_code']}").get_data(as_text=True)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;大厅" in html


def test_page_carries_no_personal_data(app, db_path):
    from tests.support.queue import valid_id

    id_number = valid_id()
    [t] = issue(db_path, "QY01", id_number=id_number)
    html = app.test_client().get(f"/t/{t['progress_code']}").get_data(as_text=True)
    assert id_number not in html and id_number[-4:] not in html
    assert "id_masked" not in html and "id_hash" not in html


@pytest.mark.slow
@needs_chromium
def test_phone_sees_the_call_without_reloading(app, db_path, tmp_path):
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    tickets = issue(db_path, "QY01", "QY01")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/t/{tickets[1]['progress_code']}"
    shots = Path(os.environ["YICHUANG_SCREENSHOTS_DIR"]) if os.environ.get("YICHUANG_SCREENSHOTS_DIR") else tmp_path
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                    is_mobile=True, has_touch=True)
            page.goto(url)
            assert page.inner_text("#status") == "排队等候中"
            assert page.inner_text("#ahead") == "1"
            page.screenshot(path=str(shots / "progress-waiting.png"))
            db = connect(db_path)
            engine.call_next(db, 1)  # the first ticket: ours moves up
            engine.call_next(db, 2)  # ours is called at window 2
            db.conn.close()
            page.wait_for_function("() => document.getElementById('status').textContent === '轮到您了'",
                                   timeout=5000)
            assert page.inner_text("#window-no") == "2 号窗口"
            assert page.is_visible("#window") and not page.is_visible("#waiting")
            page.screenshot(path=str(shots / "progress-called.png"))
            browser.close()
    finally:
        server.shutdown()
