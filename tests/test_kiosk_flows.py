"""Kiosk logic without Kivy: the client's typed errors, the flows, idle timer, keypad,
configuration and texts. A real queue server on loopback where a server is involved."""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from hardware.idnumber import id_check_digit
from kiosk.client import QueueClient
from kiosk.config import from_dict, load
from kiosk.errors import AuthFailed, ConfigError, InputInvalid, NotFound, ServerUnavailable
from kiosk.flows.catalog import paginate
from kiosk.flows.checkin import code_from_scan
from kiosk.flows.idle import IdleTimer
from kiosk.flows.keypad import KeypadInput
from kiosk.flows.printer import KioskPrinter
from kiosk.flows.session import Kiosk
from kiosk.flows.swipe import CardData
from kiosk.i18n import STRINGS, tr
from kiosk.voice import SilentSpeaker
from tests.support.common import ROOT, free_port
from tests.support.escpos_decode import text_lines
from tests.support.kiosk_server import HallServer, start_hall


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = start_hall(tmp_path_factory.mktemp("hall"), free_port())
    yield server
    server.stop()


def make_kiosk(hall: HallServer, today: dt.date = dt.date(2026, 11, 23), **kiosk: Any) -> Kiosk:
    cfg = from_dict({"server": {"url": hall.url, "token": hall.kiosk_token},
                     "kiosk": kiosk})
    return Kiosk(cfg, speaker=SilentSpeaker(), today=lambda: today)


def card(birth: str, name: str = "王秀兰") -> CardData:
    first17 = f"370181{birth}123"
    return CardData(first17 + id_check_digit(first17), name)


# -- client ---------------------------------------------------------------------------------

def test_client_lists_services_with_categories(hall: HallServer) -> None:
    services = QueueClient(hall.url, hall.kiosk_token).services()
    codes = {s.code for s in services}
    assert {"QY01", "SB01", "HZ02"} <= codes
    qy01 = next(s for s in services if s.code == "QY01")
    assert qy01.prefix == "A" and qy01.category == "qiye" and qy01.name == "企业设立登记"
    assert qy01.label("en") == "Company establishment registration"


def test_client_turns_a_refused_connection_into_a_retryable_error() -> None:
    client = QueueClient(f"http://127.0.0.1:{free_port()}", "x", timeout=1.0)
    with pytest.raises(ServerUnavailable) as err:
        client.services()
    assert err.value.retryable and "无法连接" in err.value.message("zh")
    assert "Cannot reach" in err.value.message("en")


def test_client_reports_a_wrong_token_as_an_authorisation_problem(hall: HallServer) -> None:
    with pytest.raises(AuthFailed) as err:
        QueueClient(hall.url, "not-a-token").issue_ticket("QY01")
    assert not err.value.retryable
    assert "授权" in err.value.message("zh")


def test_client_shows_the_servers_chinese_and_english_messages(hall: HallServer) -> None:
    from kiosk.errors import ServerRejected

    with pytest.raises(ServerRejected) as err:
        QueueClient(hall.url, hall.kiosk_token).issue_ticket("NOPE")
    assert err.value.code == "unknown_service" and not err.value.retryable
    assert "NOPE" in err.value.message("zh") and not err.value.message("zh").isascii()
    assert err.value.message("en").isascii() and "NOPE" in err.value.message("en")


def test_client_maps_unknown_ticket_to_not_found(hall: HallServer) -> None:
    with pytest.raises(NotFound):
        QueueClient(hall.url, hall.kiosk_token).ticket_by_number("Z999")


# -- take a number --------------------------------------------------------------------------

def test_concurrent_issue_calls_in_one_session_make_one_ticket(hall: HallServer) -> None:
    kiosk = make_kiosk(hall)
    svc = kiosk.catalog.category("qiye").services[0]
    assert kiosk.take_number.choose_service(svc) == "issue"
    before = hall.ticket_count()
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(kiosk.take_number.issue()))
               for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert hall.ticket_count() == before + 1
    assert len({r.ticket.number for r in results}) == 1


def test_a_retry_with_the_sessions_key_gets_the_same_ticket_from_the_server(
        hall: HallServer) -> None:
    # What happens when a response is lost (timeout) and the kiosk asks again.
    client = QueueClient(hall.url, hall.kiosk_token)
    before = hall.ticket_count()
    first = client.issue_ticket("QY03", idempotency_key="session-abc")
    again = client.issue_ticket("QY03", idempotency_key="session-abc")
    assert again.number == first.number and hall.ticket_count() == before + 1


def test_a_new_session_after_wipe_issues_a_new_ticket(hall: HallServer) -> None:
    kiosk = make_kiosk(hall)
    svc = kiosk.catalog.category("shebao").services[0]
    kiosk.take_number.choose_service(svc)
    first = kiosk.take_number.issue().ticket.number
    kiosk.wipe()
    kiosk.take_number.choose_service(svc)
    second = kiosk.take_number.issue().ticket.number
    assert first != second


def test_priority_needs_the_card_and_checks_the_age_on_the_hall_day(hall: HallServer) -> None:
    kiosk = make_kiosk(hall, today=dt.date(2026, 3, 11))
    kiosk.take_number.choose_priority("elderly")
    svc = kiosk.catalog.category("huzheng").services[1]
    assert kiosk.take_number.choose_service(svc) == "swipe"
    # born 12 March 1966: 59 the day before the 60th birthday
    assert kiosk.take_number.card_read(card("19660312")) == "swipe.not_elderly"
    assert kiosk.session.priority is None
    # The server has its own age rule (elderly_age) on the real date, on which this
    # citizen may already be 60: switch it off so the ticket shows what the kiosk asked for.
    from queue_server.db import connect
    from queue_server.settings import set_setting

    db = connect(hall.db_path)
    try:
        set_setting(db, "elderly_age", 0)
        result = kiosk.take_number.issue(notice_key="swipe.not_elderly")
        assert hall.ticket(result.ticket.number)["priority"] is None
    finally:
        set_setting(db, "elderly_age", 60)
        db.conn.close()


def test_senior_priority_ticket_carries_priority_and_masked_id(hall: HallServer) -> None:
    kiosk = make_kiosk(hall, today=dt.date(2026, 3, 12))
    kiosk.take_number.choose_priority("elderly")
    kiosk.take_number.choose_service(kiosk.catalog.category("huzheng").services[1])
    senior = card("19660312")  # 60 today
    assert kiosk.take_number.card_read(senior) is None
    number = kiosk.take_number.issue().ticket.number
    server = hall.ticket(number)
    assert server["priority"] == "elderly"
    assert server["id_masked"] != senior.id_number and server["id_masked"][-4:] == senior.id_number[-4:]


def test_the_card_may_be_skipped_only_when_it_only_proves_a_priority(hall: HallServer) -> None:
    kiosk = make_kiosk(hall)
    flow = kiosk.take_number
    regular = kiosk.catalog.category("qiye").services[0]
    limited = next(s for s in kiosk.catalog.category("budongchan").services if s.id_required)
    flow.choose_service(regular)
    assert not flow.can_skip_card()  # no priority: no card asked for in the first place
    flow.choose_priority("elderly")
    assert flow.can_skip_card()
    flow.choose_service(limited)
    assert not flow.can_skip_card()  # the service's per-ID limit needs the card
    strict = make_kiosk(hall, require_id_swipe=True)
    strict.take_number.choose_priority("elderly")
    strict.take_number.choose_service(regular)
    assert not strict.take_number.can_skip_card()  # the hall needs it for every number
    flow.choose_service(regular)
    flow.skip_card()
    assert kiosk.session.priority is None and not flow.needs_card()


def test_waiting_for_a_card_says_why_none_came(hall: HallServer) -> None:
    from kiosk.errors import CardNotRead, NoReader

    with pytest.raises(NoReader) as none:
        make_kiosk(hall).take_number.wait_for_card(0.1)  # no [idcard] configured
    assert none.value.code == "card_reader_missing" and none.value.advice("zh")
    cfg = from_dict({"server": {"url": hall.url, "token": hall.kiosk_token}, "idcard": {"driver": "sim"}})
    kiosk = Kiosk(cfg, speaker=SilentSpeaker(), today=lambda: dt.date(2026, 11, 23))
    try:
        with pytest.raises(CardNotRead) as empty:
            kiosk.take_number.wait_for_card(0.3)
        assert empty.value.code == "card_not_read" and "读卡区" in empty.value.message("zh")
        assert kiosk.take_number.place_demo_card()
        card = kiosk.take_number.wait_for_card(5.0)  # read through the SAM protocol on a pty
        assert card.name == "王秀兰" and card.age_on(dt.date(2026, 11, 23)) == 76
    finally:
        kiosk.card_reader.close()


def test_hall_requiring_a_swipe_asks_for_the_card_for_every_number(hall: HallServer) -> None:
    kiosk = make_kiosk(hall, require_id_swipe=True)
    assert kiosk.take_number.choose_service(
        kiosk.catalog.category("qiye").services[0]) == "swipe"


def test_services_with_a_per_id_limit_ask_for_the_card(hall: HallServer) -> None:
    kiosk = make_kiosk(hall)
    limited = next(s for s in kiosk.catalog.category("budongchan").services if s.id_required)
    assert kiosk.take_number.choose_service(limited) == "swipe"


def test_wipe_forgets_the_card_the_choices_and_what_was_typed(hall: HallServer) -> None:
    kiosk = make_kiosk(hall)
    kiosk.set_language("en")
    kiosk.set_elder(True)
    kiosk.take_number.choose_priority("elderly")
    kiosk.take_number.card_read(card("19500101"))
    kiosk.checkin.set_mode("id")
    kiosk.checkin.input.set("3701811950")
    kiosk.wipe()
    s = kiosk.session
    assert (s.card, s.priority, s.service, s.result, s.lang, s.elder) == (
        None, None, None, None, "zh", False)
    assert kiosk.checkin.input.text == "" and kiosk.checkin.input.kind == "code"


def test_printing_on_a_printer_out_of_paper_reports_advice_not_an_exception(
        hall: HallServer) -> None:
    from hardware.printer.sim import SimulatedNetworkPrinter

    with SimulatedNetworkPrinter() as sim:
        kiosk = make_kiosk(hall)
        kiosk.printer = KioskPrinter(sim.url, {"paper": 58})
        kiosk.take_number.choose_service(kiosk.catalog.category("qiye").services[0])
        result = kiosk.take_number.issue()
        ok = kiosk.print_result(result)
        assert ok.status == "printed"
        lines = text_lines(sim.wait_for_receipts(1)[0].data)
        assert any(result.ticket.number in line for line in lines)
        sim.set_state(paper="out")
        kiosk.wipe()
        kiosk.take_number.choose_service(kiosk.catalog.category("qiye").services[0])
        failed = kiosk.print_result(kiosk.take_number.issue())
    assert failed.status == "failed" and failed.code == "paper_out"
    assert "缺纸" in failed.message("zh") and "号码已生效" in failed.message("zh")
    assert "out of paper" in failed.message("en")
    assert failed.advice("zh")


def test_the_kiosk_prints_the_servers_receipt_as_the_server_reprint_would(hall: HallServer) -> None:
    """One ticket, one builder: the hall's tip, time zone and public URL come from the
    server's settings, for the kiosk's paper ticket as for the server's reprint."""
    from hardware.printer import PrinterOptions, TicketData, render_ticket
    from hardware.printer.sim import SimulatedNetworkPrinter
    from queue_server.db import connect
    from queue_server.printing.jobs import ticket_payload
    from queue_server.settings import set_setting

    db = connect(hall.db_path)
    try:
        set_setting(db, "ticket_tip", "请保管好小票，过号请重新取号")
        set_setting(db, "public_url", "http://hall.example:8000")
        set_setting(db, "timezone", "Asia/Urumqi")  # two hours behind Beijing time
        with SimulatedNetworkPrinter() as sim:
            kiosk = make_kiosk(hall)
            kiosk.printer = KioskPrinter(sim.url, {"paper": 80})
            kiosk.take_number.choose_service(kiosk.catalog.category("qiye").services[0])
            result = kiosk.take_number.issue()
            assert kiosk.print_result(result).status == "printed"
            printed = sim.wait_for_receipts(1)[0].data
        receipt = result.ticket.receipt
        assert receipt is not None and receipt["tip"] == "请保管好小票，过号请重新取号"
        assert receipt["progress_url"] == f"http://hall.example:8000/t/{result.ticket.progress_code}"
        assert receipt["issued_at"].endswith("+06:00")
        assert printed == render_ticket(TicketData.from_dict(receipt), PrinterOptions(paper=80))
        lines = "\n".join(text_lines(printed))
        assert "温馨提示：请保管好小票，过号请重新取号" in lines
        assert kiosk.progress_url(result.ticket) == receipt["progress_url"]  # the QR on screen too
        reprint = ticket_payload(db.conn, result.ticket.id, reprint=True)
        same = ("hall_name", "number", "service_name", "issued_at", "tip", "progress_url")
        assert {k: reprint[k] for k in same} == {k: receipt[k] for k in same}
    finally:
        for name, value in (("ticket_tip", "请留意叫号，过号请到窗口咨询"), ("public_url", ""),
                            ("timezone", "Asia/Shanghai")):
            set_setting(db, name, value)
        db.conn.close()


def test_no_printer_configured_is_reported_plainly() -> None:
    out = KioskPrinter("").print_receipt({"number": "A001"})
    assert out.status == "disabled" and "未配置打印机" in out.message("zh")


# -- check-in and progress -------------------------------------------------------------------

def test_check_in_by_code_returns_the_ticket_once(hall: HallServer) -> None:
    kiosk = make_kiosk(hall)
    appt = hall.appointments[1]
    for ch in appt["code"]:
        kiosk.checkin.input.press(ch)
    result = kiosk.checkin.submit()
    assert result.checked_in and result.ticket.service == appt["service"]
    assert kiosk.checkin.submit() is result  # a second tap in the same session


def test_scanned_appointment_payloads() -> None:
    assert code_from_scan("yy123456") == "YY123456"
    assert code_from_scan("https://hall.example/a/YY123456") == "YY123456"
    assert code_from_scan("https://hall.example/checkin?code=YY123456&x=1") == "YY123456"
    with pytest.raises(InputInvalid):
        code_from_scan("https://evil.example/<script>")


def test_progress_by_scanned_url_and_by_number(hall: HallServer) -> None:
    kiosk = make_kiosk(hall)
    t = hall.api("POST", "/api/tickets", json={"service": "SW01"})
    by_url = kiosk.progress.lookup_scan(f"{hall.url}/t/{t['progress_code']}")
    by_number = kiosk.progress.lookup_scan(t["number"].lower())
    assert by_url.number == by_number.number == t["number"]
    assert kiosk.progress.status_text(by_url, "zh") == "等候中"
    with pytest.raises(InputInvalid):
        kiosk.progress.lookup_scan("hello")


# -- keypad, idle, paging ------------------------------------------------------------------

def test_id_keypad_accepts_x_only_as_the_last_character() -> None:
    k = KeypadInput("id")
    k.set("X1234")
    assert k.text == "1234"
    k.set("37010219841208473X")
    assert k.text == "37010219841208473X"
    k.press("5")
    assert len(k.text) == 18
    with pytest.raises(InputInvalid) as err:
        KeypadInput("id", "370102198412084731").validated()
    assert err.value.code == "id_number_invalid"


def test_number_keypad_wants_a_letter_then_three_digits() -> None:
    k = KeypadInput("number")
    k.set("1a0b12")
    assert k.text == "A012"
    assert k.validated() == "A012"
    with pytest.raises(InputInvalid):
        KeypadInput("number", "A01").validated()


def test_idle_timer_counts_down_and_expires_once() -> None:
    now = [0.0]
    timer = IdleTimer(60, 10, clock=lambda: now[0])
    assert timer.poll().phase == "active"  # disarmed on the home screen
    timer.arm()
    now[0] = 59.9
    assert timer.poll().phase == "active"
    now[0] = 61.0
    assert timer.poll() == timer.poll().__class__("countdown", 9)
    timer.poke()  # a touch
    now[0] = 100.0
    assert timer.poll().phase == "active"
    now[0] = 131.0
    assert timer.poll().phase == "expired"
    assert timer.poll().phase == "active"  # disarmed after expiring


def test_elder_mode_doubles_the_idle_time_and_keeps_the_choices_per_page(hall: HallServer) -> None:
    kiosk = make_kiosk(hall)
    assert kiosk.idle.idle_seconds == 60 and kiosk.page_size("services") == 6
    kiosk.set_elder(True)  # larger text, never more page turns (issue 18)
    assert kiosk.idle.idle_seconds == 120 and kiosk.page_size("services") == 6
    assert kiosk.speaker.spoken, "entering elder mode speaks"


def test_paginate_clamps_the_page() -> None:
    p = paginate(list(range(9)), 5, 4)
    assert (p.items, p.page, p.pages, p.has_next, p.has_prev) == ((8,), 3, 3, False, True)


# -- config, texts, docs ---------------------------------------------------------------------

def test_config_rejects_unknown_keys_and_wrong_types(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        from_dict({"kiosk": {"idle_seconds": "soon"}})
    with pytest.raises(ConfigError):
        from_dict({"printer": {"colour": "red"}})
    with pytest.raises(ConfigError):
        load(tmp_path / "missing.toml")


def test_config_declares_the_identity_sections_and_takes_a_reader_url() -> None:
    from kiosk.flows.swipe import HardwareCardReader, open_card_reader

    cfg = from_dict({"camera": {"source": 0}, "face": {"min_similarity": 0.5, "challenges": ["nod"]},
                     "identity": {"max_attempts": 2}, "idcard": {"url": "sim://"}})
    assert cfg.sections()["face"]["min_similarity"] == 0.5
    assert cfg.get("face", "challenges") == ("nod",)
    assert cfg.section("camera")["source"] == 0
    assert from_dict({"camera": {"source": "/dev/video0"}}).get("camera", "source") == "/dev/video0"
    assert cfg.get("identity", "verify_face_for_priority") is True
    for bad in ({"face": {"min_similarty": 0.5}}, {"identity": {"verify_face_for_priority": "yes"}},
                {"face": {"challenges": "nod"}}, {"camera": {"source": True}}):
        with pytest.raises(ConfigError):
            from_dict(bad)
    reader = open_card_reader(cfg.section("idcard"))
    try:
        assert isinstance(reader, HardwareCardReader) and reader.simulated
        assert reader.read_card(0.3) is None  # no card on the reader
    finally:
        reader.close()


def test_the_face_and_identity_keys_are_exactly_what_the_identity_check_reads() -> None:
    """[face] is FaceConfig and [identity] is IdentityConfig, key for key and default for
    default, so every declared key reaches the identity check and none is refused there."""
    from dataclasses import fields

    from kiosk.face.config import FaceConfig
    from kiosk.flows.identity import IdentityConfig

    cfg = from_dict({})
    for section, cls in (("face", FaceConfig), ("identity", IdentityConfig)):
        declared = cfg.section(section)
        assert set(declared) == {f.name for f in fields(cls)}, section
        assert cls.from_mapping(declared) == cls(), section


def test_example_config_loads() -> None:
    cfg = load(ROOT / "kiosk.example.toml")
    assert cfg.server_url.startswith("http")


def test_every_text_has_both_languages_and_the_same_fields() -> None:
    for key, (zh, en) in STRINGS.items():
        assert zh and en, key
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), key
    assert tr("ticket.ahead", "en", n=3) == "3 people ahead of you"
    with pytest.raises(KeyError):
        tr("no.such.key", "zh")


def test_run_kiosk_help_lists_the_options() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(ROOT / "run_kiosk.py"), "--help"],
                         capture_output=True, text=True, timeout=30).stdout
    for option in ("--config", "--windowed", "--demo", "--offscreen", "--landscape"):
        assert option in out


def test_demo_without_a_screen_says_so_and_keeps_the_server_running(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import requests

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run_kiosk.py"), "--demo", "--port", str(port),
         "--db", str(tmp_path / "demo.db")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=str(ROOT))
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            seen.append(line)
            if "keeps running" in line or time.monotonic() > deadline:
                break
        text = "".join(seen)
        assert "no screen here" in text and "kiosk.screenshots" in text
        assert f"http://127.0.0.1:{port}/display" in text and "/counter" in text
        assert requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5).ok
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0


def test_run_kiosk_starts_offscreen_from_a_config_file_and_draws_home(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[server]\nurl = "http://127.0.0.1:9"\n[kiosk]\nhall_name = "测试大厅"\n',
                   encoding="utf-8")
    proc = subprocess.run([sys.executable, str(ROOT / "run_kiosk.py"), "--offscreen",
                           "--quit-after", "0", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "home screen drawn" in proc.stdout


def test_run_kiosk_refuses_a_bad_config_with_a_clear_message(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[kiosk]\nlanguage = "fr"\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, str(ROOT / "run_kiosk.py"), "--offscreen",
                           "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "kiosk.language" in proc.stderr and "配置有误" in proc.stderr


def test_spoken_prompts_render_as_audible_mandarin(tmp_path: Path) -> None:
    import shutil
    import wave

    import numpy as np

    from kiosk.i18n import spoken_number
    from kiosk.voice import Speaker

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is installed by scripts/setup.sh")
    wav = tmp_path / "ticket.wav"
    text = tr("say.ticket", "zh", spoken=spoken_number("A012"), n=3)
    assert "A 0 1 2" in text
    assert Speaker.render(text, "zh", wav)
    with wave.open(str(wav)) as w:
        seconds = w.getnframes() / w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert 1.5 < seconds < 10
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 300  # not silence


def test_the_kiosk_font_is_the_sc_face_and_covers_every_text() -> None:
    from fontTools.ttLib import TTFont

    from kiosk.fonts import find_font
    from queue_server.demo import CATEGORIES, SERVICES

    path = find_font("regular")
    font = TTFont(str(path), fontNumber=0, lazy=True)
    assert "SC" in (font["name"].getDebugName(1) or "")
    cmap = font.getBestCmap()
    texts = [t for pair in STRINGS.values() for t in pair]
    texts += [c[1] for c in CATEGORIES] + [s[2] for s in SERVICES]
    missing = {ch for t in texts for ch in t if not ch.isspace() and ord(ch) not in cmap}
    assert not missing, f"characters the font lacks (tofu): {sorted(missing)}"
