"""The kiosk end to end: real touches on the real widget tree (headless SDL), a real
queue server on loopback, the loopback TCP printer simulator. Each scenario runs in its
own process (tests/support/kiosk_harness.py); the test then checks the server and the paper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.common import free_port
from tests.support.escpos_decode import text_lines
from tests.support.kiosk_harness import Driver, run_scenario
from tests.support.kiosk_server import HallServer, start_hall


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = start_hall(tmp_path_factory.mktemp("hall"), free_port())
    yield server
    server.stop()


@pytest.fixture
def printer() -> Any:
    from hardware.printer.sim import SimulatedNetworkPrinter

    with SimulatedNetworkPrinter() as sim:
        yield sim


def config(hall: HallServer, printer: Any = None, **kiosk: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "server": {"url": hall.url, "token": hall.kiosk_token, "timeout": 3.0,
                   "retry_seconds": 1.0},
        "kiosk": {"hall_name": "章丘区政务服务中心", **kiosk},
    }
    if printer is not None:
        cfg["printer"] = {"url": printer.url, "paper": 80}
    return cfg


def receipt_text(printer: Any, index: int = -1) -> str:
    receipts = printer.wait_for_receipts(1, timeout=10)
    return "\n".join(text_lines(receipts[index].data))


# -- scenarios (run inside the kiosk process) ---------------------------------------------

def _take_number(d: Driver, category: str, service: str, double: bool = False,
                 wait_print: bool = True) -> dict[str, Any]:
    d.tap_key("take_number")
    d.wait_for(lambda: d.screen.name == "category" and d.screen.ids.grid.children,
               what="categories")
    d.tap_key(f"cat:{category}")
    d.wait_for(lambda: d.screen.name == "service" and d.screen.ids.grid.children,
               what="services")
    button = d.find(key=f"svc:{service}")
    d.tap(button, double=double, settle=0.0)
    if double:
        # A third, impatient tap straight into the flow while the screen may still show
        # the list: the session already holds a ticket, so no new request is made.
        d.kiosk.take_number.issue()
    d.wait_for(lambda: d.screen.name == "ticket" and d.screen.number, what="ticket screen")
    if wait_print:
        d.wait_for(lambda: d.screen.print_status not in ("", "printing"), what="print status")
    return {"number": d.screen.number, "texts": d.texts(), "print_status": d.screen.print_status,
            "print_text": d.screen.print_text, "progress_url": d.screen.progress_url}


def _server_down_then_up(d: Driver, db_path: str, port: int) -> dict[str, Any]:
    d.tap_key("take_number")
    d.wait_for(lambda: d.screen.error_code == "server_unavailable", what="server error")
    d.pump(0.1)
    d.screenshot(Path(db_path).with_name("server-down.png"))
    shown = {"error": d.screen.error_text, "texts": d.texts(), "retry_in": d.screen.retry_in}
    from tests.support.kiosk_server import serve

    server, _thread = serve(Path(db_path), port)
    d.wait_for(lambda: d.screen.ids.grid.children, timeout=15, what="automatic retry")
    shown["recovered_error"] = d.screen.error_text
    shown["categories"] = len(d.screen.ids.grid.children)
    server.close()
    return shown


def _idle_timeout(d: Driver, elder: bool = False) -> dict[str, Any]:
    if elder:
        d.tap_key("elder")
    d.tap_key("take_number")
    d.wait_for(lambda: d.screen.ids.grid.children, what="categories")
    d.tap_key("cat:shebao")
    d.wait_for(lambda: d.screen.name == "service", what="service")
    assert d.kiosk.session.category == "shebao"
    overlay = d.root.overlay
    d.wait_for(lambda: overlay.visible, timeout=8, what="countdown")
    countdown_texts = d.texts(overlay)
    # a touch during the countdown keeps the session
    d.tap(d.root.manager, settle=0.1)
    kept = d.screen.name == "service" and d.kiosk.session.category == "shebao" and not overlay.visible
    d.wait_for(lambda: d.screen.name == "home", timeout=10, what="wipe to home")
    return {"countdown_texts": countdown_texts, "kept_after_touch": kept,
            "category_after": d.kiosk.session.category, "screen": d.screen.name,
            "spoken": list(d.kiosk.speaker.spoken), "elder_after": d.kiosk.elder}


# -- tests ----------------------------------------------------------------------------------

def test_take_number_issues_prints_and_shows_the_ticket(hall: HallServer, printer: Any) -> None:
    out = run_scenario("tests.test_kiosk_e2e:_take_number", config=config(hall, printer),
                       category="qiye", service="QY01")
    number = out["number"]
    assert number.startswith("A") and len(number) == 4
    server_ticket = hall.ticket(number)
    assert server_ticket["service"] == "QY01" and server_ticket["status"] == "waiting"
    assert number in out["texts"]
    assert out["print_status"] == "printed"
    paper = receipt_text(printer)
    assert number in paper and "企业设立登记" in paper
    assert out["progress_url"].endswith("/t/" + server_ticket["progress_code"])


def test_double_tap_on_a_service_issues_one_ticket(hall: HallServer, printer: Any) -> None:
    before = hall.ticket_count()
    out = run_scenario("tests.test_kiosk_e2e:_take_number", config=config(hall, printer),
                       category="shebao", service="SB01", double=True)
    assert hall.ticket_count() == before + 1
    assert out["number"].startswith("B")
    printer.wait_for_receipts(1)
    assert len(printer.receipts) == 1


def test_printer_out_of_paper_keeps_the_number_on_screen(hall: HallServer, printer: Any) -> None:
    printer.set_state(paper="out")
    out = run_scenario("tests.test_kiosk_e2e:_take_number", config=config(hall, printer),
                       category="qiye", service="QY02")
    number = out["number"]
    assert hall.ticket(number)["status"] == "waiting"  # the ticket exists regardless
    assert number in out["texts"]
    assert out["print_status"] == "failed"
    assert "缺纸" in out["print_text"] and "号码已生效" in out["print_text"]
    assert printer.receipts == []


def test_server_down_shows_a_message_and_retries_until_it_is_back(
        tmp_path: Path) -> None:
    from tests.support.kiosk_server import seed_hall

    made = seed_hall(tmp_path / "hall.db")
    port = free_port()
    cfg = {"server": {"url": f"http://127.0.0.1:{port}", "token": made["tokens"]["kiosk"],
                      "timeout": 1.0, "retry_seconds": 1.0}}
    out = run_scenario("tests.test_kiosk_e2e:_server_down_then_up", config=cfg,
                       db_path=str(tmp_path / "hall.db"), port=port)
    assert "无法连接" in out["error"]
    assert any("自动重试" in t for t in out["texts"])
    assert any("秒后自动重试" in t for t in out["texts"])
    assert out["recovered_error"] == ""
    assert out["categories"] >= 4


def test_idle_timeout_counts_down_then_wipes_the_session(hall: HallServer) -> None:
    out = run_scenario("tests.test_kiosk_e2e:_idle_timeout",
                       config=config(hall, idle_seconds=2.0, countdown_seconds=3))
    assert any("返回首页" in t for t in out["countdown_texts"])
    assert out["kept_after_touch"] is True
    assert out["screen"] == "home" and out["category_after"] is None


def test_elder_mode_speaks_the_countdown_and_the_wipe_ends_elder_mode(hall: HallServer) -> None:
    out = run_scenario("tests.test_kiosk_e2e:_idle_timeout", elder=True,
                       config=config(hall, elder_idle_seconds=2.0, countdown_seconds=3,
                                     speech=True))
    assert any("秒后返回首页" in s for s in out["spoken"])
    assert out["screen"] == "home" and out["elder_after"] is False


def _priority_with_card(d: Driver, priority: str, category: str, service: str) -> dict[str, Any]:
    d.tap_key("priority")
    d.wait_for(lambda: d.screen.name == "priority", what="priority screen")
    d.tap_key(f"priority:{priority}")
    d.wait_for(lambda: d.screen.name == "category" and d.screen.ids.grid.children,
               what="categories")
    d.tap_key(f"cat:{category}")
    d.wait_for(lambda: d.screen.name == "service" and d.screen.ids.grid.children,
               what="services")
    d.tap_key(f"svc:{service}")
    d.wait_for(lambda: d.screen.name == "ticket" and d.screen.number, timeout=15,
               what="ticket after the card")
    d.wait_for(lambda: d.screen.print_status not in ("", "printing"), what="print status")
    return {"number": d.screen.number, "title": d.screen.title_text,
            "notice": d.screen.notice_text, "texts": d.texts()}


def _swipe_without_reader(d: Driver) -> dict[str, Any]:
    d.tap_key("priority")
    d.tap_key("priority:military")
    d.wait_for(lambda: d.screen.name == "category" and d.screen.ids.grid.children)
    d.tap_key("cat:qiye")
    d.wait_for(lambda: d.screen.name == "service" and d.screen.ids.grid.children)
    d.tap_key("svc:QY01")
    d.wait_for(lambda: d.screen.name == "swipe" and d.screen.error_code, what="reader error")
    d.pump(0.1)
    out = {"error": d.screen.error_text, "advice": d.screen.advice_text, "texts": d.texts()}
    d.tap_key("swipe_skip")  # the way forward: a regular number
    d.wait_for(lambda: d.screen.name == "ticket" and d.screen.number, what="ticket")
    out["number"] = d.screen.number
    return out


def _check_in(d: Driver, mode: str, value: str) -> dict[str, Any]:
    d.tap_key("checkin")
    d.wait_for(lambda: d.screen.name == "checkin", what="check-in screen")
    if mode == "scan":
        d.scan(value)
    else:
        d.tap_key(f"mode:{mode}")
        d.type_on_keypad(value)
        typed = d.screen.typed
        d.tap_key("submit")
    d.wait_for(lambda: d.screen.name == "ticket" and d.screen.number, what="ticket")
    d.wait_for(lambda: d.screen.print_status not in ("", "printing"), what="print status")
    out = {"number": d.screen.number, "title": d.screen.title_text, "texts": d.texts(),
           "print_status": d.screen.print_status}
    if mode != "scan":
        out["typed"] = typed
    return out


def _serial_scan_check_in(d: Driver, code: str) -> dict[str, Any]:
    """A scanner in virtual-serial mode (the scanner simulator on a pty): the scan arrives
    as a line."""
    from kivy.app import App

    from hardware.scanner.sim import SimulatedScanner
    from kiosk.app import _connect_scanner

    sim = SimulatedScanner().start()
    d.kiosk.config.values["scanner"].update(mode="serial", port=sim.port)
    _connect_scanner(d.kiosk, d.root, App.get_running_app())
    d.tap_key("checkin")
    d.wait_for(lambda: d.screen.name == "checkin", what="check-in screen")
    sim.scan(code)
    d.wait_for(lambda: d.screen.name == "ticket" and d.screen.number, what="ticket")
    return {"number": d.screen.number, "title": d.screen.title_text}


def _progress(d: Driver, number: str | None = None, scan: str | None = None) -> dict[str, Any]:
    d.tap_key("progress")
    d.wait_for(lambda: d.screen.name == "progress", what="progress screen")
    if scan:
        d.scan(scan)
    else:
        assert number
        d.type_on_keypad(number)
        d.tap_key("submit")
    d.wait_for(lambda: d.screen.result_number, what="progress result")
    d.pump(0.1)
    return {"number": d.screen.result_number, "status": d.screen.result_status,
            "detail": d.screen.result_detail, "texts": d.texts()}


def _english_elder(d: Driver) -> dict[str, Any]:
    d.tap_key("language")
    d.tap_key("elder")
    home = d.texts()
    spoken_home = list(d.kiosk.speaker.spoken)
    d.tap_key("take_number")
    d.wait_for(lambda: d.screen.name == "category" and d.screen.ids.grid.children,
               what="categories")
    d.pump(0.1)
    return {"home": home, "spoken": spoken_home, "per_page": len(d.screen.ids.grid.children),
            "cols": d.screen.ids.grid.cols, "pages": d.screen.pages,
            "category_texts": d.texts(), "lang": d.kiosk.lang, "elder": d.kiosk.elder}


def test_senior_priority_number_reads_the_card_on_the_simulated_reader(
        hall: HallServer, printer: Any) -> None:
    card = {"id_number": "370181195003121232", "name": "王秀兰", "birth": "19500312"}
    from hardware.idnumber import id_check_digit

    card["id_number"] = card["id_number"][:17] + id_check_digit(card["id_number"][:17])
    cfg = config(hall, printer)
    cfg["idcard"] = {"driver": "sim"}
    out = run_scenario("tests.test_kiosk_e2e:_priority_with_card", config=cfg, card=card,
                       priority="elderly", category="huzheng", service="HZ02")
    ticket = hall.ticket(out["number"])
    assert ticket["priority"] == "elderly"
    assert ticket["id_masked"].endswith(card["id_number"][-4:]) and "*" in ticket["id_masked"]
    assert "优先号" in out["title"] and out["notice"] == ""
    assert out["number"] in receipt_text(printer)


def test_a_younger_citizen_asking_for_senior_priority_gets_a_regular_number(
        hall: HallServer) -> None:
    from hardware.idnumber import id_check_digit

    first17 = "37018119900505123"
    card = {"id_number": first17 + id_check_digit(first17), "name": "李明", "birth": "19900505"}
    cfg = config(hall)
    cfg["idcard"] = {"driver": "sim"}
    out = run_scenario("tests.test_kiosk_e2e:_priority_with_card", config=cfg, card=card,
                       priority="elderly", category="huzheng", service="HZ04")
    assert hall.ticket(out["number"])["priority"] is None
    assert "未满 60" in out["notice"]


def test_no_card_reader_says_so_and_offers_a_regular_number(hall: HallServer) -> None:
    out = run_scenario("tests.test_kiosk_e2e:_swipe_without_reader", config=config(hall))
    assert "读卡器不可用" in out["error"] and "咨询台" in out["advice"]
    assert hall.ticket(out["number"])["priority"] is None


def test_check_in_by_typed_appointment_code(hall: HallServer, printer: Any) -> None:
    appt = hall.appointments[2]
    out = run_scenario("tests.test_kiosk_e2e:_check_in", config=config(hall, printer),
                       mode="code", value=appt["code"])
    assert out["typed"] == appt["code"]
    ticket = hall.ticket(out["number"])
    assert ticket["service"] == appt["service"] and ticket["appointment"]
    assert "签到成功" in out["title"]
    assert out["print_status"] == "printed"
    assert out["number"] in receipt_text(printer)


def test_check_in_by_scanned_appointment_qr(hall: HallServer) -> None:
    appt = hall.appointments[3]
    out = run_scenario("tests.test_kiosk_e2e:_check_in", config=config(hall),
                       mode="scan", value=f"{hall.url}/a/{appt['code']}")
    assert hall.ticket(out["number"])["service"] == appt["service"]


def test_check_in_by_a_scanner_in_serial_mode(hall: HallServer) -> None:
    appt = hall.appointments[1]
    out = run_scenario("tests.test_kiosk_e2e:_serial_scan_check_in", config=config(hall),
                       code=f"{hall.url}/a/{appt['code']}")
    assert hall.ticket(out["number"])["service"] == appt["service"]
    assert "签到成功" in out["title"]


def test_check_in_by_id_number_typed_on_the_keypad(hall: HallServer) -> None:
    # The demo hall books appointments 0-3 around the current time (the others later in
    # the day), so these check in whatever the wall clock says.
    appt = hall.appointments[0]  # [1] is the serial-scanner test's, [2] and [3] the QR ones
    out = run_scenario("tests.test_kiosk_e2e:_check_in", config=config(hall),
                       mode="id", value=appt["id_number"])
    assert out["typed"] == appt["id_number"]
    assert hall.ticket(out["number"])["service"] == appt["service"]


def test_progress_by_typed_number_and_by_scanned_ticket_qr(hall: HallServer) -> None:
    first = hall.api("POST", "/api/tickets", json={"service": "GJ01"})
    second = hall.api("POST", "/api/tickets", json={"service": "GJ01"})
    typed = run_scenario("tests.test_kiosk_e2e:_progress", config=config(hall),
                         number=second["number"])
    assert typed["number"] == second["number"]
    assert typed["status"] == "等候中"
    # 前面还有 N 人 counts every service sharing the windows (universal windows: the whole
    # hall, including the earlier tests' tickets): the kiosk says what the server counts.
    ahead = hall.api("GET", f"/api/tickets/{second['id']}")["waiting_ahead"]
    assert ahead >= 1 and f"前面还有 {ahead} 人" in typed["detail"]
    scanned = run_scenario("tests.test_kiosk_e2e:_progress", config=config(hall),
                           scan=f"{hall.url}/t/{first['progress_code']}")
    assert scanned["number"] == first["number"]


def test_english_and_elder_mode_change_texts_sizes_and_page_size(hall: HallServer) -> None:
    out = run_scenario("tests.test_kiosk_e2e:_english_elder",
                       config=config(hall, speech=True))
    assert "Take a number" in out["home"] and "Standard mode" in out["home"]
    assert out["spoken"], "elder mode speaks a prompt"
    # elder mode: larger text, as many choices per page (never more taps to a ticket)
    assert out["per_page"] == 8 and out["cols"] == 2 and out["pages"] == 2
    assert "Business start-up" in out["category_texts"]
    assert out["lang"] == "en" and out["elder"] is True
