"""Device health end to end: a headless kiosk in its own process (real widgets, its device
watcher beating every second) against a real queue server, the loopback ESC/POS printer
simulator, a hall display page beating from chromium, and the technicians' page /tech in
chromium. The simulated printer reports paper near-end → ``warning`` on /tech within one
heartbeat; paper out → ``error``, and the kiosk still issues the number on screen; a test
print started on /tech comes out of the kiosk's printer; the kiosk process killed →
``stale`` within three beats. The clerk console shows a banner when its window's printer is
down. Every state is screenshotted (and looked at); ``YICHUANG_SCREENSHOTS=1`` (re)writes
``docs/screenshots/tech-*.png`` and ``counter-printer-down.png``, else a temporary folder."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.common import free_port, needs_chromium
from tests.support.escpos_decode import text_lines
from tests.support.kiosk_harness import Driver
from tests.support.kiosk_server import HallServer, start_hall
from tests.support.tech import KioskProcess, kiosk_token, scenario_commands, wait_until

pytestmark = [pytest.mark.slow, needs_chromium]

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "screenshots" if os.environ.get("YICHUANG_SCREENSHOTS") == "1" else \
    Path(tempfile.mkdtemp(prefix="tech-shots-"))
BEAT = 1.0          # the kiosk's [devices] heartbeat_s in these tests
STALE_AFTER = 3     # devices.stale_after_s: three beats


# -- the kiosk process's side ---------------------------------------------------------------

def _watched_kiosk(d: Driver, control: str, shot: str) -> dict[str, Any]:
    """The kiosk as yichuang-kiosk runs it: its device watcher started; then it waits for
    commands from the test (take a number) until it is killed."""
    d.kiosk.devices.start()

    def take_number() -> dict[str, Any]:
        d.tap_key("take_number")
        d.wait_for(lambda: d.screen.name == "category" and d.screen.ids.grid.children, what="categories")
        d.tap_key("cat:qiye")
        d.wait_for(lambda: d.screen.name == "service" and d.screen.ids.grid.children, what="services")
        d.tap(d.find(key="svc:QY01"))
        d.wait_for(lambda: d.screen.name == "ticket" and d.screen.number, what="ticket screen")
        d.wait_for(lambda: d.screen.print_status not in ("", "printing"), what="print status", timeout=15)
        d.screenshot(shot)
        return {"number": d.screen.number, "print_status": d.screen.print_status,
                "print_text": d.screen.print_text, "texts": d.texts()}

    scenario_commands(d, control, {"take_number": take_number})
    return {}


# -- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = start_hall(tmp_path_factory.mktemp("hall"), free_port())
    server.api("PUT", "/api/settings/devices.stale_after_s", json={"value": STALE_AFTER})
    server.api("PUT", "/api/settings/devices.heartbeat_s", json={"value": 1})
    yield server
    server.stop()


@pytest.fixture
def printer() -> Any:
    from hardware.printer.sim import SimulatedNetworkPrinter

    with SimulatedNetworkPrinter() as sim:
        yield sim


def device(hall: HallServer, name: str) -> dict[str, Any] | None:
    return next((d for d in hall.api("GET", "/api/devices") if d["name"] == name), None)


def beats(hall: HallServer, name: str) -> int:
    return int(hall.api("GET", f"/api/devices/{name}")["beats"])


def state_of(hall: HallServer, name: str) -> str | None:
    d = device(hall, name)
    return d["state"] if d else None


def login(page: Any, url: str, user: str, password: str) -> None:
    page.goto(url)
    page.fill("#login-user", user)
    page.fill("#login-pass", password)
    page.click("#login-form button[type=submit]")


def row(page: Any, name: str, state: str, timeout: float = 8000) -> None:
    page.wait_for_selector(f"#rows tr[data-name='{name}'][data-state='{state}']", timeout=timeout)


def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.wait_for_timeout(300)
    page.evaluate("() => { const m = document.getElementById('msg'); if (m) m.hidden = true; }")  # a passing toast
    page.screenshot(path=str(path), full_page=True)
    return path


# -- the must-show ------------------------------------------------------------------------------

def test_tech_page_follows_a_kiosk_through_paper_near_end_paper_out_a_test_print_and_a_crash(
        hall: HallServer, printer: Any, browser: Any, tmp_path: Path) -> None:
    token = kiosk_token(hall.db_path, "kiosk-03")
    from queue_server.auth import create_token
    from queue_server.db import connect

    display_token = create_token(connect(hall.db_path), "display", "hall-screen-1")
    window_token = create_token(connect(hall.db_path), "display", "window-1-screen")
    config = {"server": {"url": hall.url, "token": token, "timeout": 3.0, "retry_seconds": 1.0},
              "kiosk": {"name": "kiosk-03", "hall_name": "章丘区政务服务中心", "speech": False},
              "printer": {"url": printer.url, "paper": 80},
              "scanner": {"mode": "none"}, "devices": {"heartbeat_s": BEAT}}
    kiosk = KioskProcess("tests.test_tech_e2e:_watched_kiosk", config=config,
                         shot=str(SHOTS / "tech-kiosk-paper-out.png")).start()
    context = browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN")
    try:
        # a hall display beats from its page, like the kiosk
        screen = context.new_page()
        screen.goto(f"{hall.url}/display?token={display_token}&beat=1")
        above = context.new_page()
        above.goto(f"{hall.url}/display/window/1?token={window_token}&beat=1")
        wait_until(lambda: state_of(hall, "hall-screen-1") == "ok", 15, "the display's heartbeat")
        wait_until(lambda: state_of(hall, "window-1-screen") == "ok", 15, "the window display's heartbeat")
        assert device(hall, "window-1-screen")["components"] == [] and device(hall, "window-1-screen")["kind"] == "display"
        wait_until(lambda: state_of(hall, "kiosk-03") == "ok", 60, "the kiosk's first heartbeat")
        d = device(hall, "kiosk-03")
        assert d is not None and [c["kind"] for c in d["components"]] == ["printer"]
        assert [c["name"] for c in device(hall, "hall-screen-1")["components"]] == ["browser-audio"]

        page = context.new_page()
        login(page, f"{hall.url}/tech?refresh=1", "tech", "tech1234")
        row(page, "kiosk-03", "ok")
        row(page, "hall-screen-1", "ok")
        page.click("#rows tr[data-name='kiosk-03']")
        page.wait_for_selector("#detail button[data-action='test_print']")
        shot(page, "tech-ok.png")

        # a test print started on /tech comes out of the kiosk's printer
        page.click("#detail button[data-action='test_print']")
        receipts = printer.wait_for_receipts(1, timeout=10)
        assert "一窗通 打印测试页" in "\n".join(text_lines(receipts[0].data))
        page.wait_for_selector("#detail li[data-action='test_print'][data-status='done']", timeout=10000)
        shot(page, "tech-test-print.png")

        # paper near end → warning within one heartbeat: the beat after the next check (a
        # beat already on its way when the sensor changed still carries the old state)
        printer.set_state(paper="near_end")
        before = beats(hall, "kiosk-03")
        wait_until(lambda: state_of(hall, "kiosk-03") == "warning", 4 * BEAT + 3, "warning")
        assert beats(hall, "kiosk-03") - before <= 2
        row(page, "kiosk-03", "warning")
        page.wait_for_selector("#detail tr[data-component='printer'] .state.warning")
        shot(page, "tech-warning.png")

        # paper out → error; the kiosk still issues the number, on screen
        printer.set_state(paper="out")
        before = beats(hall, "kiosk-03")
        wait_until(lambda: state_of(hall, "kiosk-03") == "error", 4 * BEAT + 3, "error")
        assert beats(hall, "kiosk-03") - before <= 2
        row(page, "kiosk-03", "error")
        shot(page, "tech-error.png")
        kiosk.command("take_number")
        took = kiosk.result("take_number")
        assert took["number"].startswith("A") and took["number"] in took["texts"]
        assert took["print_status"] == "failed" and "缺纸" in took["print_text"]
        assert hall.ticket(took["number"])["status"] == "waiting"
        assert len(printer.receipts) == 1  # only the test page: the ticket was not printed
        ev = hall.api("GET", "/api/devices/kiosk-03")
        assert ev["last_error"].startswith("printer ") and ev["last_error_until"] is None

        # the kiosk process killed → stale within three beats
        kiosk.kill()
        t_kill = time.monotonic()
        wait_until(lambda: state_of(hall, "kiosk-03") == "stale", 3 * BEAT + 3, "stale", step=0.05)
        assert time.monotonic() - t_kill <= STALE_AFTER + 1.0  # its last beat came before the kill
        row(page, "kiosk-03", "stale")
        page.wait_for_timeout(1200)  # the page's own refresh shows the detail as stale too
        shot(page, "tech-stale.png")
        page.click("#lang")
        page.wait_for_selector("body[data-lang='en']")
        shot(page, "tech-stale-en.png")
        # the history shows every change, and the page showed no personal data
        history = [(h["from"], h["to"]) for h in hall.api("GET", "/api/devices/kiosk-03")["history"]
                   if h["component"] is None]
        assert history[:3] == [("error", "stale"), ("warning", "error"), ("ok", "warning")] or \
            history[:2] == [("warning", "error"), ("ok", "warning")]
        body = page.inner_text("body")
        assert "3701" not in body and "王" not in body
        # a display's one action: reload the page
        screen.evaluate("window.__before_reload = 1")
        a = hall.api("POST", "/api/devices/hall-screen-1/actions", json={"action": "reload_config"})
        wait_until(lambda: hall.api("GET", f"/api/devices/hall-screen-1/actions/{a['id']}")["status"] == "done",
                   15, "the display's reload")
        screen.wait_for_function("() => window.__before_reload === undefined", timeout=10000)
        # the filter shows only what is not ok
        page.select_option("#f-state", "problem")
        page.wait_for_timeout(300)
        names = page.eval_on_selector_all("#rows tr", "rows => rows.map(r => r.dataset.name)")
        assert "kiosk-03" in names and "hall-screen-1" not in names
    finally:
        kiosk.stop()
        context.close()


def test_the_clerk_console_shows_when_its_windows_printer_is_down(hall: HallServer, browser: Any) -> None:
    from hardware.printer import PrinterStatus
    from queue_server.db import connect, write_tx
    from queue_server.printing.jobs import add_printer, set_printer_status

    db = connect(hall.db_path)
    add_printer(db, "counter-2", "tcp://127.0.0.1:9")
    with write_tx(db) as conn:
        set_printer_status(conn, "counter-2", PrinterStatus("paper_out"), paused_reason="paper_out")
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        login(page, f"{hall.url}/counter?devices_refresh=1", "clerk2", "clerk123")
        page.wait_for_selector("#window-list button[data-window='2']")
        page.click("#window-list button[data-window='2']")
        page.wait_for_selector("#device-banner[data-state='error']:not([hidden])", timeout=10000)
        assert "counter-2" in page.inner_text("#device-banner") and "缺纸" in page.inner_text("#device-banner")
        shot(page, "counter-printer-down.png")
        with write_tx(db) as conn:
            set_printer_status(conn, "counter-2", PrinterStatus("ok"), paused_reason=None)
        page.wait_for_selector("#device-banner", state="hidden", timeout=10000)
    finally:
        context.close()
