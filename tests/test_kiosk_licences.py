"""亮证 on a headless kiosk, end to end: card + face → my licences → a purpose → the rotating
QR on screen, read back from the kiosk's screenshot with OpenCV and checked by the clerk
console in chromium (a second scan says replayed); 自助打证's online check; the session wiped
on idle ends the presentation; the face check again after ``reverify_minutes``.

Real touches on the real widget tree, a real queue server on loopback with the demo
licences, the ID-card reader simulator on a pty and the demo camera clip (as in
``tests/test_kiosk_identity.py``). Each scenario runs in its own kiosk process.

``YICHUANG_SCREENSHOTS=1`` (re)writes ``docs/screens/licence-*.png`` (else a temporary dir).
"""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.common import free_port, needs_chromium
from tests.support.kiosk_harness import Driver, run_scenario
from tests.support.kiosk_server import HallServer, start_hall

ROOT = Path(__file__).resolve().parent.parent
ID_PHOTO = ROOT / "tests" / "data" / "faces" / "lin-manuel-miranda.png"
WANG = "370181195003121239"  # the identity screen's demo card (a senior, 王秀兰)

pytestmark = pytest.mark.slow

_STARTS = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
#: A residence permit of the face-check identity that comes into force in a month.
NOT_YET = {"type_code": "11100000000014213W003", "type_name": "居住证", "number": "370100202612000123",
           "holder_name": "林曼努", "holder_id_type": "id_card", "holder_id": "110101198001160019",
           "issuer_name": "济南市公安局", "issuer_uscc": "11370100004190567B", "issue_date": datetime.date.today().isoformat(),
           "valid_from": _STARTS, "valid_to": "2031-12-31"}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from queue_server.demo import demo_licences
    from queue_server.licences.register import load
    from queue_server.migrations import open_db
    from queue_server.settings import set_setting

    server = start_hall(tmp_path_factory.mktemp("hall"), free_port())
    db = open_db(server.db_path)
    load(db, demo_licences())
    load(db, {"licences": [NOT_YET]})  # shown greyed out: 尚未生效（… 起生效）
    set_setting(db, "licences.refresh_seconds", 3)  # see a rotation without waiting a minute
    db.conn.close()
    yield server
    server.stop()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return ROOT / "docs" / "screens" if os.environ.get("YICHUANG_SCREENSHOTS") == "1" else tmp_path


def config(hall: HallServer) -> dict[str, Any]:
    return {
        "server": {"url": hall.url, "token": hall.kiosk_token, "timeout": 5.0, "retry_seconds": 1.0},
        "kiosk": {"hall_name": "济南市章丘区政务服务中心",
                  "hall_name_en": "Zhangqiu District Government Service Center", "idle_seconds": 600.0},
        "idcard": {"driver": "sim", "sim_photo": str(ID_PHOTO)},
        "identity": {"verify_face_for_priority": True},
    }


def read_qr(path: Path) -> str:
    import cv2

    from yichuang import qrimage

    return qrimage.decode(cv2.imread(str(path)))


# -- scenarios (inside the kiosk process) -------------------------------------------------


def _identity_by_face(d: Driver) -> None:
    d.wait_for(lambda: d.screen.name == "identity_card", 10, "identity card screen")
    d.pump(0.3)
    d.tap_key("identity_demo_card")
    d.wait_for(lambda: d.screen.name == "identity_consent", 10, "consent screen")
    d.pump(0.3)
    d.tap_key("identity_agree")
    d.wait_for(lambda: d.screen.name == "identity_result", 60, "face result")
    d.pump(0.2)
    assert d.kiosk.identity.identity.method == "face", d.texts()
    d.tap_key("identity_continue")


def _show_licence(d: Driver, shots: str) -> dict[str, Any]:
    from kiosk.flows.identity import attach_identity

    out: dict[str, Any] = {}
    assert attach_identity(d.kiosk, demo=True) is not None
    d.tap_key("licence")
    _identity_by_face(d)
    d.wait_for(lambda: d.screen.name == "licence_list" and d.screen.ids.grid.children, 15, "licence list")
    d.pump(0.2)
    out["list_texts"] = d.texts()
    d.tap_key(next(w.key for w in d.walk() if getattr(w, "key", "").startswith("licence:")
                   and "社会保障卡" in getattr(w, "title", "")))
    d.wait_for(lambda: d.screen.name == "licence_purpose", 5, "purpose screen")
    out["purpose_texts"] = d.texts()
    d.tap_key("purpose:1")
    d.wait_for(lambda: d.screen.name == "licence_qr" and d.screen.shown_qr, 15, "the QR")
    first = d.screen.shown_qr
    out["qr_texts"] = d.texts()
    shot = d.screenshot(Path(shots) / "licence-e2e-qr.png")
    out["shot"] = str(shot)
    out["shown_first"] = first
    # the rotation: a fresh token after refresh_seconds (3 s in this hall), same screen
    d.wait_for(lambda: d.screen.shown_qr and d.screen.shown_qr != first, 15, "a refreshed QR")
    out["shown_second"] = d.screen.shown_qr
    out["shot2"] = str(d.screenshot(Path(shots) / "licence-e2e-qr2.png"))
    out["countdown"] = d.screen.countdown
    out["presentation"] = d.kiosk.licence.state.shown.presentation
    # back to the purposes, then 自助打证
    d.tap_key("back")
    d.wait_for(lambda: d.screen.name == "licence_purpose", 5, "purpose screen")
    d.tap_key("licence_print")
    d.wait_for(lambda: d.screen.name == "licence_print" and d.screen.url, 10, "print screen")
    out["print_url"] = d.screen.url
    out["print_texts"] = d.texts()
    out["print_shot"] = str(d.screenshot(Path(shots) / "licence-e2e-print.png"))
    # idle: the session is wiped and the licence flow forgets the citizen
    d.kiosk.idle.idle_seconds = 0.2
    d.kiosk.idle.countdown_seconds = 1
    d.wait_for(lambda: d.screen.name == "home", 10, "home after idle")
    out["after_idle"] = [d.kiosk.licence.state.id_number, d.kiosk.licence.state.shown is None,
                         d.kiosk.identity.card is None]
    return out


def _reverify(d: Driver, admin_token: str) -> dict[str, Any]:
    from kiosk.flows.identity import attach_identity

    out: dict[str, Any] = {}
    assert attach_identity(d.kiosk, demo=True) is not None
    url = d.kiosk.config.server_url

    def set_reverify(minutes: int) -> None:
        r = requests.put(f"{url}/api/settings/licences.reverify_minutes", json={"value": minutes},
                         headers={"Authorization": f"Bearer {admin_token}"}, timeout=5)
        assert r.ok, r.text

    d.tap_key("licence")
    _identity_by_face(d)
    d.wait_for(lambda: d.screen.name == "licence_list" and d.screen.ids.grid.children, 15, "licence list")
    d.tap_key(next(w.key for w in d.walk() if getattr(w, "key", "").startswith("licence:")))
    d.wait_for(lambda: d.screen.name == "licence_purpose", 5, "purpose screen")
    d.tap_key("purpose:2")
    d.wait_for(lambda: d.screen.name == "licence_qr" and d.screen.shown_qr, 15, "the QR")
    first_presentation = d.kiosk.licence.state.shown.presentation
    set_reverify(0)  # as if 30 minutes had passed since the face check
    time.sleep(2.1)  # settings are cached for 2 s per server process
    d.wait_for(lambda: d.screen.reverify, 20, "the re-verify prompt")
    out["reverify_texts"] = d.texts()
    out["qr_hidden"] = d.screen.qr_texture is None
    set_reverify(30)
    time.sleep(2.1)
    d.tap_key("licence_reverify")
    _identity_by_face(d)
    d.wait_for(lambda: d.screen.name == "licence_qr" and d.screen.shown_qr, 20, "the QR again")
    out["new_presentation"] = d.kiosk.licence.state.shown.presentation != first_presentation
    out["purpose"] = d.kiosk.licence.state.purpose
    d.tap_key("licence_done")
    # Straight to the rating of this 亮证 (DESIGN §5), the licence data already forgotten.
    d.wait_for(lambda: d.screen.name == "rating", 5, "the rating screen")
    out["wiped"] = d.kiosk.licence.state.id_number == ""
    out["rated_case"] = d.kiosk.rating.target.case if d.kiosk.rating.target else ""
    d.tap(d.find(key="skip_rating"))
    d.wait_for(lambda: d.screen.name == "home", 5, "home")
    return out


class _Face:
    """A face-verified identity as the identity check hands it over (for the screenshots)."""

    method = "face"
    id_number = "110101198001160019"
    name_masked = "林*努"
    id_masked = "1101**********0019"
    face_distance = 0.71


def _screens(d: Driver, shots: str) -> dict[str, Any]:
    """Every new screen in zh, en and elder mode, with real data from the server."""
    from kiosk.flows.licence import licence_flow

    texts: dict[str, list[str]] = {}
    app = d.root.manager.current_screen.app
    for suffix, lang, elder in (("zh", "zh", False), ("en", "en", False), ("elder", "zh", True)):
        d.kiosk.wipe()
        d.kiosk.set_language(lang)
        d.kiosk.set_elder(elder)
        app.sync_from_session()
        d.pump(0.2)
        d.screenshot(Path(shots) / f"home-{suffix}.png")
        texts[f"home-{suffix}"] = d.texts()
        flow = licence_flow(d.kiosk)
        flow.wipe()
        flow.identity_done(None)  # cancelled identity check: the list says so
        d.root.go("licence_list")
        d.pump(0.3)
        d.screenshot(Path(shots) / f"licence-cancelled-{suffix}.png")
        texts[f"cancelled-{suffix}"] = d.texts()
        flow.identity_done(_Face())
        d.root.manager.current = "home"
        d.root.go("licence_list")
        d.wait_for(lambda: d.screen.ids.grid.children, 10, "licences")
        d.screenshot(Path(shots) / f"licence-list-{suffix}.png")
        texts[f"list-{suffix}"] = d.texts()
        d.tap_key("next_page")  # the last page: the residence permit not yet in force
        d.pump(0.3)
        d.screenshot(Path(shots) / f"licence-list-last-{suffix}.png")
        texts[f"list-last-{suffix}"] = d.texts()
        greyed = [w for w in d.walk() if getattr(w, "key", "").startswith("licence:") and w.disabled]
        texts[f"greyed-{suffix}"] = [f"{w.opacity} {tuple(w.fg)}" for w in greyed]
        d.root.manager.current = "home"
        d.root.go("licence_list")
        d.wait_for(lambda: d.screen.ids.grid.children, 10, "licences")
        d.tap_key(next(w.key for w in d.walk() if getattr(w, "key", "").startswith("licence:")
                       and "驾驶证" in getattr(w, "title", "")))
        d.wait_for(lambda: d.screen.name == "licence_purpose", 5, "purposes")
        d.screenshot(Path(shots) / f"licence-purpose-{suffix}.png")
        texts[f"purpose-{suffix}"] = d.texts()
        d.tap_key("purpose:1")
        d.wait_for(lambda: d.screen.name == "licence_qr" and d.screen.shown_qr, 10, "QR")
        d.screenshot(Path(shots) / f"licence-qr-{suffix}.png")
        texts[f"qr-{suffix}"] = d.texts()
        qr_screen = d.screen
        flow.state.needs_reverify = True
        qr_screen._fetched(qr_screen._generation, None, None)
        d.screenshot(Path(shots) / f"licence-reverify-{suffix}.png")
        texts[f"reverify-{suffix}"] = d.texts()
        qr_screen.reverify = False
        flow.state.needs_reverify = False
        d.tap_key("back")
        d.wait_for(lambda: d.screen.name == "licence_purpose", 5, "purposes")
        d.tap_key("licence_print")
        d.wait_for(lambda: d.screen.name == "licence_print" and d.screen.url, 10, "print")
        d.screenshot(Path(shots) / f"licence-print-{suffix}.png")
        texts[f"print-{suffix}"] = d.texts()
    d.kiosk.wipe()
    return texts


# -- tests ------------------------------------------------------------------------------------


def test_every_licence_screen_in_chinese_english_and_elder_mode(hall: HallServer, shots: Path) -> None:
    t = run_scenario("tests.test_kiosk_licences:_screens", timeout=180, config=config(hall), shots=str(shots))
    assert "亮证" in t["home-zh"] and "Show a licence" in t["home-en"] and "亮证" in t["home-elder"]
    assert "未完成身份核验" in t["cancelled-zh"] and "The identity check was not completed" in t["cancelled-en"]
    for mode in ("zh", "en", "elder"):
        joined = " ".join(t[f"list-{mode}"])
        assert "机动车驾驶证" in joined and "1101**********0019" in joined and "110101198001160019" not in joined
    assert "我的电子证照" in t["list-zh"] and "My e-licences" in t["list-en"]
    # a licence not yet in force is listed, with the day it starts, and cannot be shown
    last = {mode: "\n".join(t[f"list-last-{mode}"]) for mode in ("zh", "en", "elder")}
    assert f"尚未生效（{_STARTS} 起生效）" in last["zh"] and f"Not yet in force (from {_STARTS})" in last["en"]
    assert "居住证" in last["zh"] and "居住证" in last["elder"]
    # … greyed out, not faded: its reason stays readable (full opacity, dark text)
    assert t["greyed-elder"] == ["1.0 (0.2, 0.22, 0.25, 1)"], t["greyed-elder"]
    assert "Why are you showing it?" in t["purpose-en"] and "请选择用证事由" in t["purpose-elder"]
    assert "Show this QR code" in t["qr-en"] and any("Refreshes in" in x for x in t["qr-en"])
    assert "重新刷脸" in t["reverify-zh"] and "Check my face again" in t["reverify-en"]
    assert "Licence copy" in t["print-en"] and "证照打印件" in t["print-elder"]
    # elder mode shows fewer purposes per page (3 of 6)
    assert sum(1 for x in t["purpose-elder"] if x in ("窗口核验", "住宿登记", "金融业务", "交通出行")) < 4


@needs_chromium
def test_licence_qr_from_the_kiosk_screen_verifies_at_the_clerk_console(hall: HallServer, shots: Path,
                                                                         browser) -> None:
    from tests.support.licences import console_scan, open_console

    out = run_scenario("tests.test_kiosk_licences:_show_licence", timeout=180, config=config(hall),
                       shots=str(shots))
    assert "王*兰    3701**********1239" in out["list_texts"]
    assert any("社会保障卡" in t for t in out["list_texts"]) and WANG not in " ".join(out["list_texts"])
    assert any("窗口核验" in t for t in out["purpose_texts"])
    assert "社会保障卡" in out["qr_texts"] and any("秒后自动刷新" in t for t in out["qr_texts"])
    # the QR read back from the kiosk's screenshot is the token the screen shows
    scanned = read_qr(Path(out["shot"]))
    assert scanned == out["shown_first"] and scanned.startswith("ZW1:")
    assert read_qr(Path(out["shot2"])) == out["shown_second"] != scanned
    # … and the clerk console in the browser accepts it once
    page = open_console(browser, hall.url)
    assert console_scan(page, scanned) == "ok"
    assert "社会保障卡" in (page.text_content("#lic-details") or "")
    assert console_scan(page, scanned, paste=True) == "replayed"
    assert "1号窗口 王*明" in (page.text_content("#lic-details") or "")
    assert console_scan(page, out["shown_second"]) == "ok"  # each token once, not each session
    # 自助打证: the online check opens and shows the masked holder
    page2 = requests.get(out["print_url"], timeout=5)
    assert page2.status_code == 200 and "王*兰" in page2.text and WANG not in page2.text
    assert any("扫码" in t for t in out["print_texts"])
    # idle wiped the citizen and ended the presentation on the server
    assert out["after_idle"] == ["", True, True]
    from queue_server.db import connect

    db = connect(hall.db_path)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            ended = db.conn.execute("SELECT ended_at FROM licence_presentations WHERE id = ?",
                                    (out["presentation"],)).fetchone()[0]
            if ended is not None:
                break
            time.sleep(0.1)
        assert ended is not None
    finally:
        db.conn.close()


def test_after_reverify_minutes_the_kiosk_asks_for_the_face_again(hall: HallServer) -> None:
    out = run_scenario("tests.test_kiosk_licences:_reverify", timeout=240, config=config(hall),
                       admin_token=hall.tokens["admin"])
    assert any("重新刷脸" in t for t in out["reverify_texts"]) and out["qr_hidden"]
    assert out["new_presentation"] and out["purpose"] == 2
    assert out["wiped"] and out["rated_case"].startswith("LZ")
