"""自助打证 for real: kiosk 亮证 → 自助打证 prints a licence copy on the kiosk's receipt
printer through the server's print queue, with an online verification QR (``/v/<ref>``).

Real touches on the real widget tree (card + face with the ID-card simulator and the demo
camera clip), a real queue server on loopback with the demo licences, the print worker
printing on a loopback TCP printer (``SimulatedNetworkPrinter``) registered as the kiosk's
printer. The printer's bytes are decoded (``tests/support/escpos_decode.py``), the receipt
is drawn from them and its QR read back with OpenCV, and ``GET /v/<ref>`` shows the licence
as valid with the holder masked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.common import free_port
from tests.support.escpos_decode import QR, decode, render_png, text_lines
from tests.support.kiosk_harness import Driver, run_scenario
from tests.support.kiosk_server import HallServer, start_hall

ROOT = Path(__file__).resolve().parent.parent
ID_PHOTO = ROOT / "tests" / "data" / "faces" / "lin-manuel-miranda.png"
WANG = "370181195003121239"  # the identity screen's demo card (王秀兰)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def printer() -> Any:
    from hardware.printer.sim import SimulatedNetworkPrinter

    with SimulatedNetworkPrinter() as sim:
        yield sim


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, printer: Any) -> Any:
    from queue_server.db import connect
    from queue_server.demo import demo_licences
    from queue_server.licences.register import load
    from queue_server.printing.jobs import add_printer
    from queue_server.printing.worker import WorkerConfig, start_workers, stop_workers

    server = start_hall(tmp_path_factory.mktemp("hall"), free_port())
    db = connect(server.db_path)
    load(db, demo_licences())
    add_printer(db, "kiosk-01", printer.url, {"paper": 80})
    db.conn.close()
    start_workers(server.db_path, WorkerConfig(idle_poll=0.05, rescan=0.1))
    yield server
    stop_workers(server.db_path)
    server.stop()


def config(hall: HallServer) -> dict[str, Any]:
    return {
        "server": {"url": hall.url, "token": hall.kiosk_token, "timeout": 5.0, "retry_seconds": 1.0},
        "kiosk": {"hall_name": "济南市章丘区政务服务中心", "name": "kiosk-01", "idle_seconds": 600.0},
        "printer": {"url": "sim://kiosk-01-tickets", "paper": 80},
        "idcard": {"driver": "sim", "sim_photo": str(ID_PHOTO)},
        "identity": {"verify_face_for_priority": True},
        "approvals": {"printer": "kiosk-01"},
    }


# -- the scenario (inside the kiosk process) ----------------------------------------------


def _print_copy(d: Driver) -> dict[str, Any]:
    from kiosk.flows.identity import attach_identity

    assert attach_identity(d.kiosk, demo=True) is not None
    d.tap_key("licence")
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
    d.wait_for(lambda: d.screen.name == "licence_list" and d.screen.ids.grid.children, 15, "licence list")
    d.pump(0.2)
    d.tap_key(next(w.key for w in d.walk() if getattr(w, "key", "").startswith("licence:")
                   and "社会保障卡" in getattr(w, "title", "")))
    d.wait_for(lambda: d.screen.name == "licence_purpose", 5, "purpose screen")
    d.tap_key("licence_print")
    d.wait_for(lambda: d.screen.name == "licence_print" and d.screen.url, 15, "print screen")
    d.pump(0.5)
    printed = dict(d.kiosk.licence.state.printed or {})
    return {"url": d.screen.url, "texts": d.texts(), "print": printed.get("print"), "case": printed.get("case")}


# -- the test -----------------------------------------------------------------------------------


def test_a_licence_copy_prints_at_the_kiosk_and_its_qr_checks_online(hall: HallServer, printer: Any,
                                                                     tmp_path: Path) -> None:
    import cv2

    from yichuang import qrimage

    out = run_scenario("tests.test_kiosk_licence_print:_print_copy", timeout=240, config=config(hall))
    assert out["print"]["status"] == "queued", out
    receipt = printer.wait_for_receipts(1, timeout=15)[-1]
    # the bytes the printer received, decoded
    lines = text_lines(receipt.data)
    joined = " ".join(lines)
    assert "电子证照打印件" in joined and "社会保障卡" in joined and f"办件编号：{out['case']}" in lines
    assert "持证人：王*兰" in lines and WANG not in joined
    qrs = [q.payload for q in decode(receipt.data) if isinstance(q, QR)]
    assert qrs == [out["url"]] and "/v/" in out["url"]
    # the receipt drawn from those bytes, its QR read back with OpenCV
    png = render_png(receipt.data, 576, tmp_path / "licence-copy.png")
    text = qrimage.decode(cv2.imread(str(png)))
    assert text == out["url"]
    # the online check: the licence, valid, holder masked, no ID number
    page = requests.get(text, timeout=5)
    assert page.status_code == 200
    assert "社会保障卡" in page.text and "有效" in page.text and "王*兰" in page.text
    assert WANG not in page.text and "王秀兰" not in page.text
    api = requests.get(text.replace("/v/", "/api/v/"), timeout=5).json()
    assert api["case"]["status"] == "done" and api["summary"]["kind"] == "licence_copy"
    assert dict(api["summary"]["lines"])["持证人 Holder"] == "王*兰"
    # the kiosk said it printed
    assert any("打印" in t for t in out["texts"])
