"""自助办理 (秒批) on the headless kiosk, end to end: real touches on the real widget tree, a
real queue server on loopback with the demo hall's synthetic people, the ID-card reader
simulator on a pty and the demo camera clip for the face check, and the server's print
queue printing on a loopback TCP printer registered as the kiosk's printer.

* 高龄津贴 approved: the certificate's ESC/POS bytes decoded — its QR is the verification
  URL, and that page shows the case;
* a referral: the 一次性告知 and a number, which the clerk calls in the console (chromium)
  and sees the reasons;
* 人工办理 from the middle of the flow;
* the new screens in Chinese, English and elder mode (``docs/screens/approval-*.png``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.approvals_kiosk import config
from tests.support.common import free_port, needs_chromium, screenshot_dir
from tests.support.escpos_decode import QR, decode, text_lines
from tests.support.kiosk_harness import run_scenario
from tests.support.kiosk_server import start_hall

ROOT = Path(__file__).resolve().parent.parent
SHOTS = screenshot_dir("screens", Path(tempfile.gettempdir()) / "yichuang-screens")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def printer() -> Any:
    from hardware.printer.sim import SimulatedNetworkPrinter

    with SimulatedNetworkPrinter() as sim:
        yield sim


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, printer: Any) -> Any:
    from queue_server.db import connect
    from queue_server.printing.jobs import add_printer
    from queue_server.printing.worker import WorkerConfig, start_workers, stop_workers

    server = start_hall(tmp_path_factory.mktemp("hall"), free_port())
    db = connect(server.db_path)
    add_printer(db, "kiosk-01", printer.url, {"paper": 80})
    db.conn.close()
    start_workers(server.db_path, WorkerConfig(idle_poll=0.05, rescan=0.1))
    yield server
    stop_workers(server.db_path)
    server.stop()


# -- tests ----------------------------------------------------------------------------------

def test_elderly_allowance_approved_prints_a_certificate_whose_qr_opens_the_case(hall, printer):
    out = run_scenario("tests.support.approvals_kiosk:_approved", timeout=240, config=config(hall),
                       shots=str(SHOTS), mode="zh")
    assert out["decision"] == "approved", out
    assert "高龄津贴申请" in " ".join(out["items_texts"]) and "个人参保缴费证明打印" in " ".join(out["items_texts"])
    form = " ".join(out["form_texts"])
    assert "王*兰" in form and "3701**********1240" in form and "身份已核验（人脸比对）" in form
    assert "户籍信息（公安）" in form and "本事项无需填写任何内容" in form
    assert "370181194403021240" not in form
    assert any("户籍信息（公安）" in t for t in out["consent_texts"])
    assert "已通过" in out["result_texts"] and any("已打印" in t for t in out["result_texts"])
    assert out["rating_target"] == out["result"]["case"]
    assert out["after_wipe"] == ["home", True, True, True, True, True]
    # the certificate came out of the kiosk's printer through the server's print queue
    receipt = printer.wait_for_receipts(1, timeout=10)[-1]
    lines = text_lines(receipt.data)
    assert "高龄津贴核准通知" in lines and f"办件编号：{out['result']['case']}" in lines
    assert "申请人：王*兰 3701**********1240" in lines
    qrs = [q.payload for q in decode(receipt.data) if isinstance(q, QR)]
    assert qrs == [out["result"]["certificate"]["verify_url"]]
    page = requests.get(qrs[0], timeout=5)
    assert page.status_code == 200 and out["result"]["case"] in page.text and "已通过" in page.text
    assert "370181194403021240" not in page.text


@pytest.mark.parametrize("mode", ["zh", "en"])
def test_a_registration_approved_at_the_kiosk_says_the_licence_is_now_in_liangzheng(hall, printer, mode):
    out = run_scenario("tests.support.approvals_kiosk:_licence_item", timeout=240, config=config(hall),
                       shots=str(SHOTS), mode=mode)
    assert out["decision"] == "approved", out
    assert out["inputs"] == {"trade_name": "泉香居", "scope": ["1001"], "address": "济南市章丘区明水街道百脉泉街88号"}
    lic = out["result"]["licence"]
    assert lic["type_name"] == "个体工商户营业执照" and lic["number"].startswith("92370114")
    texts = " ".join(out["result_texts"])
    if mode == "zh":
        assert f"个体工商户营业执照已发放到您的电子证照，可在首页「亮证」出示（证照编号 {lic['number']}）" in texts
    else:
        assert "is now in your e-licences" in texts and lic["number"] in texts
    # the certificate printed at the kiosk names the licence
    receipts = printer.wait_for_receipts(1, timeout=10)
    lines = next(text_lines(r.data) for r in reversed(receipts) if out["result"]["case"] in " ".join(text_lines(r.data)))
    joined = "".join(lines)
    assert "个体工商户设立登记核准通知" in lines and "已存入亮证" in joined and lic["number"] in joined


@needs_chromium
def test_a_referral_prints_the_notice_and_the_console_shows_the_reasons_when_called(hall, printer, browser):
    out = run_scenario("tests.support.approvals_kiosk:_referred", timeout=240, config=config(hall),
                       shots=str(SHOTS), mode="zh")
    r = out["result"]
    assert r["decision"] == "referred" and [x["code"] for x in r["reasons"]] == ["NOT_LOCAL_HUKOU"]
    texts = " ".join(out["result_texts"])
    assert "需工作人员审核" in texts and "户籍不在本区" in texts and "户口簿" in texts and "14号窗口" in texts
    assert out["number"] == r["ticket"]["number"]
    receipt = printer.wait_for_receipts(1, timeout=10)[-1]
    assert "一次性告知单" in text_lines(receipt.data) and out["number"] in text_lines(receipt.data)
    # the clerk at window 14 calls the number: the console shows the case and the reasons
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{hall.url}/counter")
    page.fill("#login-user", "clerk1")
    page.fill("#login-pass", "clerk123")
    page.press("#login-pass", "Enter")
    page.click("#window-list button[data-window='14']")
    page.wait_for_selector("#btn-call:not([disabled])")
    for _ in range(10):  # other tests' tickets may be ahead: call until ours
        page.click("#btn-call")
        page.wait_for_function("() => document.getElementById('cur-number').textContent !== '—'", timeout=10000)
        if page.text_content("#cur-number") == out["number"]:
            break
        page.wait_for_selector("#btn-noshow:not([disabled])")
        page.click("#btn-noshow")
        page.wait_for_function("() => document.getElementById('cur-number').textContent === '—'", timeout=10000)
    assert page.text_content("#cur-number") == out["number"]
    page.wait_for_selector("#case-panel:not([hidden])", timeout=10000)
    assert page.text_content("#case-number") == r["case"]
    row = page.text_content("#case-trace tr[data-rule='R1']") or ""
    assert "未通过" in row and "NOT_LOCAL_HUKOU" in row and "370102" in row
    page.screenshot(path=str(screenshot_dir("screenshots", SHOTS) / "counter-kiosk-referral.png"), full_page=True)
    page.close()


def test_manual_service_from_the_middle_of_the_flow_gives_a_number_with_the_reason(hall):
    out = run_scenario("tests.support.approvals_kiosk:_manual_midway", timeout=240, config=config(hall),
                       shots=str(SHOTS), mode="zh")
    form = " ".join(out["form_texts"])
    assert "仅读取身份证，未比对人脸" in form
    ticket = hall.ticket(out["number"])
    assert ticket["service"] == "MZ01" and "自助办理转人工：高龄津贴申请" in ticket["referral_reason"]
    assert any("已为您取号" in t for t in out["ticket_texts"])


@pytest.mark.parametrize("mode", ["en", "elder"])
def test_the_screens_in_english_and_elder_mode(hall, mode):
    out = run_scenario("tests.support.approvals_kiosk:_approved", timeout=240, config=config(hall),
                       shots=str(SHOTS), mode=mode)
    assert out["decision"] == "approved"
    texts = " ".join(out["result_texts"])
    assert ("Approved" in texts) if mode == "en" else ("已通过" in texts)
    out = run_scenario("tests.support.approvals_kiosk:_referred", timeout=240, config=config(hall),
                       shots=str(SHOTS), mode=mode)
    assert out["result"]["decision"] == "referred"
    assert ("A member of staff will decide" in " ".join(out["result_texts"])) if mode == "en" else True


def test_the_insurance_form_takes_months_and_a_kind(hall):
    out = run_scenario("tests.support.approvals_kiosk:_approved", timeout=240, config=config(hall),
                       shots=str(SHOTS), mode="zh", item="insurance_certificate", months=True)
    assert out["decision"] == "approved", out
    assert out["inputs"]["kind"] == "pension" and out["inputs"]["from_month"] < out["inputs"]["to_month"]


def test_the_kiosk_demo_applicants_are_the_demo_halls_people():
    from kiosk.flows.approval import DEMO_APPLICANTS
    from queue_server.approvals.demo import IDS, NAMES

    people = {(NAMES[k], IDS[k]) for k in IDS}
    for item, who in DEMO_APPLICANTS.items():
        for name, id_number, birth in who.values():
            assert (name, id_number) in people, (item, name)
            assert id_number[6:14] == birth

