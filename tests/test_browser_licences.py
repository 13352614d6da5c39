"""The clerk console's 核验亮证 box in headless chromium against the real server: a scan shows
the result big and plain, a second scan says replayed with when and by whom, a forged code
is refused, and a scan never triggers the console's single-key shortcuts.
``YICHUANG_SCREENSHOTS=1`` (re)writes ``docs/screenshots/counter-licence-*.png``; a code
shown in another hall is checked with the city's trust list."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import requests

from queue_server import queue as engine
from queue_server.db import connect
from queue_server.demo import make_hall
from tests.support.common import free_port, needs_chromium
from tests.support.licences import LIN, console_scan, open_console, tamper
from tests.support.web import Server

pytestmark = [pytest.mark.slow, needs_chromium]

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@pytest.fixture
def hall(db_path: Path):
    db = connect(db_path)
    try:
        return make_hall(db, windows=6, tokens=True, appointments=0, licences=True)
    finally:
        db.conn.close()


@pytest.fixture
def server(db_path: Path, hall):
    srv = Server(db_path, free_port()).start()
    yield srv
    srv.stop()


def present(server: Server, hall, type_name: str = "机动车驾驶证", purpose: int = 1) -> str:
    auth = {"Authorization": f"Bearer {hall['tokens']['kiosk']}"}
    items = requests.get(f"{server.url}/api/licences", params={"id_number": LIN}, headers=auth, timeout=10).json()
    lid = next(i["id"] for i in items if i["type_name"] == type_name)
    r = requests.post(f"{server.url}/api/licences/{lid}/present", headers=auth, timeout=10, json={
        "holder_id_number": LIN, "verification": {"method": "face", "score": 0.7}, "purpose": purpose})
    assert r.status_code == 201, r.text
    return str(r.json()["qr"])


def test_the_console_checks_a_scanned_licence_and_a_second_scan_says_replayed(browser, server, hall, db_path,
                                                                              tmp_path):
    db = connect(db_path)
    engine.issue_ticket(db, "ZH01")  # someone waits: a stray shortcut key would call them
    db.conn.close()
    page = open_console(browser, server.url)
    qr = present(server, hall)

    assert console_scan(page, qr) == "ok"
    assert page.text_content("#lic-verdict") == "✔ 有效 VALID"
    details = page.text_content("#lic-details") or ""
    assert "机动车驾驶证" in details and "林*努" in details and "济南市公安局交通警察支队" in details
    assert "1101**********0019" in details and LIN not in details
    assert page.text_content("#cur-number") == "—"  # the scan called nobody
    page.screenshot(path=str(tmp_path / "ok.png"), full_page=True)

    assert console_scan(page, qr, paste=True) == "replayed"
    assert "已被核验过" in (page.text_content("#lic-reason") or "")
    assert "1号窗口 王*明" in (page.text_content("#lic-details") or "")
    page.screenshot(path=str(tmp_path / "replayed.png"), full_page=True)

    assert console_scan(page, tamper(present(server, hall))) == "bad_signature"
    assert page.get_attribute("#lic-result", "class") == "lic-result bad"
    assert console_scan(page, "hello", paste=True) == "bad_format"

    page.select_option("#lic-purpose", "3")
    assert console_scan(page, present(server, hall, purpose=1)) == "wrong_purpose"
    assert page.text_content("#cur-number") == "—"

    if os.environ.get("YICHUANG_SCREENSHOTS") == "1":  # (re)write the documented screenshots
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "ok.png", SHOTS / "counter-licence-ok.png")
        shutil.copy(tmp_path / "replayed.png", SHOTS / "counter-licence-replayed.png")


def test_the_console_checks_a_code_shown_in_another_hall_with_the_trust_list(browser, server, db_path, tmp_path):
    """A code from hall A (another database, its own key) scanned in this hall's console:
    unknown before the city's trust list, then valid with the issuing hall and the list's date."""
    import time

    from queue_server.licences import showing, trust
    from queue_server.migrations import open_db

    other = tmp_path / "zhangqiu.db"
    open_db(other).conn.close()
    a = connect(other)
    try:
        make_hall(a, windows=2, tokens=True, appointments=0, licences=True)
        lid = a.conn.execute("SELECT id FROM licences WHERE type_name = '机动车驾驶证' AND status = 'valid'").fetchone()[0]
        qr = showing.present(a, lid, holder_id_number=LIN, method="face", score=0.8, purpose=1, kiosk="token:kiosk-1")
        report = trust.report(a, time.time())
    finally:
        a.conn.close()
    page = open_console(browser, server.url)
    assert console_scan(page, qr["qr"]) == "unknown_key"
    b = connect(db_path)
    try:
        trust.apply_trust_list(b, {"format": 1, "generated_at": int(time.time()),
                                   "halls": [{"hall": "zhangqiu", "name": "章丘区政务服务中心", **report}]})
    finally:
        b.conn.close()
    assert console_scan(page, qr["qr"], paste=True) == "ok"
    details = page.text_content("#lic-details") or ""
    assert "章丘区政务服务中心 (zhangqiu)" in details and "林*努" in details and "状态截至" in details
    assert "null" not in details and "长期" not in details  # unknown is not "no end date"
    page.screenshot(path=str(tmp_path / "other-hall.png"), full_page=True)
    if os.environ.get("YICHUANG_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "other-hall.png", SHOTS / "counter-licence-other-hall.png")
