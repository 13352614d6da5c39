"""The kiosk's appointment check-in and what it says before anyone taps (issue 18): check-in
by swiping the ID card — on time, too early (says from when), late (the citizen chooses an
ordinary number or cancel); the closed hall on the home screen; a Y-prefixed progress
lookup; elder mode never needs more taps to a ticket. Real touches on the real widget tree
(tests/support/kiosk_harness.py), a real queue server on loopback.

Screenshots go to the test's tmp_path; ``YICHUANG_SCREENSHOTS=1`` writes them under
``docs/screens/`` instead (``checkin-*.png``, ``home-closed-*.png``, ``progress-y-*.png``).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hardware.idnumber import id_check_digit
from tests.support.common import free_port
from tests.support.kiosk_harness import Driver, run_scenario
from tests.support.kiosk_server import HallServer, start_hall

ROOT = Path(__file__).resolve().parent.parent


def _hall_zone() -> str:
    """Asia/Shanghai, unless it is too late or too early there now for the same-day slots
    these tests book (from 30 minutes back to 3½ hours ahead): then a whole-hour zone where
    it is about 11:00, so that the tests assert whatever the hour CI runs at."""
    if 8 <= dt.datetime.now(ZoneInfo("Asia/Shanghai")).hour < 19:
        return "Asia/Shanghai"
    east = (11 - dt.datetime.now(dt.UTC).hour + 12) % 24 - 12  # local = UTC + east hours
    return f"Etc/GMT{-east:+d}"  # POSIX sign: Etc/GMT-8 is UTC+8


HALL_ZONE = _hall_zone()
TZ = ZoneInfo(HALL_ZONE)


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = start_hall(tmp_path_factory.mktemp("hall"), free_port(), {"timezone": HALL_ZONE})
    yield server
    server.stop()


@pytest.fixture
def shots(tmp_path: Path) -> str:
    if os.environ.get("YICHUANG_SCREENSHOTS"):
        return str(ROOT / "docs" / "screens")
    return str(tmp_path)


def config(hall: HallServer, card_reader: bool = True) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "server": {"url": hall.url, "token": hall.kiosk_token, "timeout": 3.0, "retry_seconds": 1.0},
        "kiosk": {"hall_name": "章丘区政务服务中心", "hall_name_en": "Zhangqiu Service Centre"},
    }
    if card_reader:
        cfg["idcard"] = {"driver": "sim"}
    return cfg


def card(n: int) -> dict[str, str]:
    first17 = f"3701811952{1 + n % 9:02d}{10 + n:02d}{101 + 2 * n:03d}"  # odd: the simulator's cards are male
    birth = first17[6:14]
    return {"id_number": first17 + id_check_digit(first17), "name": "王秀兰", "birth": birth}


def book(hall: HallServer, code: str, id_number: str, start_offset: int, length: int = 60) -> dict[str, str]:
    """Today's appointment whose slot starts ``start_offset`` minutes from now (hall time)."""
    from queue_server.db import connect
    from tests.support.queue import add_appointment

    now = dt.datetime.now(TZ)
    start = now + dt.timedelta(minutes=start_offset)
    end = start + dt.timedelta(minutes=length)
    if start.date() != now.date() or end.date() != now.date():
        pytest.skip("too close to midnight (hall time) for a same-day slot")
    slot = (start.strftime("%H:%M"), end.strftime("%H:%M"))
    db = connect(hall.db_path)
    try:
        add_appointment(db, code, "HZ02", *slot, day=now.date().isoformat(), id_number=id_number)
    finally:
        db.conn.close()
    return {"slot_start": slot[0], "slot_end": slot[1],
            "opens_at": (start - dt.timedelta(minutes=60)).strftime("%H:%M")}


# -- scenarios (run inside the kiosk process) ---------------------------------------------

def _modes(d: Driver, variant: str) -> None:
    if variant == "en":
        d.tap_key("language")
    elif variant == "elder":
        d.tap_key("elder")


def _swipe_on_time(d: Driver, shots: str) -> dict[str, Any]:
    d.tap_key("checkin")
    d.wait_for(lambda: d.screen.name == "ticket" and d.screen.number, what="ticket after the swipe")
    d.screenshot(Path(shots) / "checkin-card-ticket-zh.png")
    return {"number": d.screen.number, "title": d.screen.title_text, "texts": d.texts()}


def _swipe_early(d: Driver, shots: str, variant: str) -> dict[str, Any]:
    _modes(d, variant)
    d.tap_key("checkin")
    d.wait_for(lambda: d.screen.name == "checkin" and d.screen.error_code, what="too early")
    d.screenshot(Path(shots) / f"checkin-early-{variant}.png")
    return {"code": d.screen.error_code, "error": d.screen.error_text, "advice": d.screen.advice_text,
            "screen": d.screen.name}


def _swipe_late(d: Driver, shots: str, variant: str, choose: str) -> dict[str, Any]:
    _modes(d, variant)
    d.tap_key("checkin")
    d.wait_for(lambda: d.screen.name == "checkin_late", what="the late choice")
    d.pump(0.1)
    d.screenshot(Path(shots) / f"checkin-late-{variant}.png")
    out: dict[str, Any] = {"message": d.screen.message, "texts": d.texts()}
    d.tap_key("late_ordinary" if choose == "ordinary" else "late_cancel")
    if choose == "ordinary":
        d.wait_for(lambda: d.screen.name == "ticket" and d.screen.number, what="ordinary ticket")
        d.screenshot(Path(shots) / f"checkin-late-ticket-{variant}.png")
        out["number"] = d.screen.number
    else:
        d.wait_for(lambda: d.screen.name == "home", what="home after cancel")
    out["screen"] = d.screen.name
    return out


def _checkin_screen(d: Driver, shots: str, variant: str) -> dict[str, Any]:
    _modes(d, variant)
    d.tap_key("checkin")
    d.wait_for(lambda: d.screen.name == "checkin", what="check-in screen")
    d.pump(0.2)
    d.screenshot(Path(shots) / f"checkin-{variant}.png")
    return {"texts": d.texts(), "can_swipe": d.screen.can_swipe}


def _closed_home(d: Driver, shots: str, variant: str) -> dict[str, Any]:
    _modes(d, variant)
    home = d.root.manager.get_screen("home")
    home.poll_hours()
    d.wait_for(lambda: home.closed_text, what="closed banner")
    d.pump(0.1)
    d.screenshot(Path(shots) / f"home-closed-{variant}.png")
    return {"banner": home.closed_text, "texts": d.texts()}


def _progress_y(d: Driver, shots: str, number: str) -> dict[str, Any]:
    d.tap_key("progress")
    d.wait_for(lambda: d.screen.name == "progress", what="progress screen")
    d.wait_for(lambda: "Y" in d.screen.keys and "V" in d.screen.keys, what="Y and V on the keypad")
    d.type_on_keypad(number)
    d.tap_key("submit")
    d.wait_for(lambda: d.screen.result_number, what="progress result")
    d.pump(0.1)
    d.screenshot(Path(shots) / "progress-y-zh.png")
    return {"keys": list(d.screen.keys), "number": d.screen.result_number, "status": d.screen.result_status}


def _taps_to_ticket(d: Driver, elder: bool, category: str, service: str) -> dict[str, Any]:
    """Count the taps from the home screen to a ticket for ``service``."""
    taps = 0

    def tap_key(key: str) -> None:
        nonlocal taps
        taps += 1
        d.tap_key(key)

    if elder:
        d.tap_key("elder")  # the mode switch is not a step towards the ticket
    tap_key("take_number")
    d.wait_for(lambda: d.screen.name == "category" and d.screen.ids.grid.children, what="categories")
    while not any(getattr(w, "key", None) == f"cat:{category}" for w in d.walk()):
        tap_key("next_page")
        d.pump(0.05)
    tap_key(f"cat:{category}")
    d.wait_for(lambda: d.screen.name == "service" and d.screen.ids.grid.children, what="services")
    while not any(getattr(w, "key", None) == f"svc:{service}" for w in d.walk()):
        tap_key("next_page")
        d.pump(0.05)
    tap_key(f"svc:{service}")
    d.wait_for(lambda: d.screen.name == "ticket" and d.screen.number, what="ticket")
    return {"taps": taps, "number": d.screen.number}


# -- tests ----------------------------------------------------------------------------------

def test_check_in_by_swiping_the_card_on_time(hall: HallServer, shots: str) -> None:
    c = card(1)
    book(hall, "KC000001", c["id_number"], -5)
    out = run_scenario("tests.test_kiosk_checkin:_swipe_on_time", config=config(hall), card=c, shots=shots)
    assert out["number"].startswith("Y") and "签到成功" in out["title"]
    ticket = hall.ticket(out["number"])
    assert ticket["appointment"]["code"] == "KC000001" and ticket["priority"] == "appointment"


@pytest.mark.parametrize("variant", ["zh", "en", "elder"])
def test_a_card_swiped_too_early_says_from_what_time_check_in_opens(
        hall: HallServer, shots: str, variant: str) -> None:
    c = card({"zh": 2, "en": 3, "elder": 4}[variant])
    slot = book(hall, f"KE0000{variant}".upper(), c["id_number"], 150)
    out = run_scenario("tests.test_kiosk_checkin:_swipe_early", config=config(hall), card=c, shots=shots,
                       variant=variant)
    assert out["code"] == "appointment_too_early" and out["screen"] == "checkin"
    assert slot["opens_at"] in out["error"]
    assert ("起可以签到" if variant != "en" else "check-in opens at") in out["error"]


@pytest.mark.parametrize("variant", ["zh", "en", "elder"])
def test_a_late_card_offers_an_ordinary_number_and_the_citizen_takes_it(
        hall: HallServer, shots: str, variant: str) -> None:
    c = card({"zh": 5, "en": 6, "elder": 7}[variant])
    code = f"KL0000{variant}".upper()
    slot = book(hall, code, c["id_number"], -30)
    out = run_scenario("tests.test_kiosk_checkin:_swipe_late", config=config(hall), card=c, shots=shots,
                       variant=variant, choose="ordinary")
    assert slot["slot_start"] in out["message"]
    assert ("已过" if variant != "en" else "has passed") in out["message"]
    ticket = hall.ticket(out["number"])
    assert ticket["service"] == "HZ02" and ticket["priority"] is None and not out["number"].startswith("Y")
    assert ticket["appointment"]["code"] == code and ticket["appointment"]["on_time"] is False


def test_a_late_card_and_cancel_issues_nothing(hall: HallServer, shots: str) -> None:
    c = card(8)
    book(hall, "KL0000CX", c["id_number"], -30)
    before = hall.ticket_count()
    out = run_scenario("tests.test_kiosk_checkin:_swipe_late", config=config(hall), card=c, shots=shots,
                       variant="zh", choose="cancel")
    assert out["screen"] == "home" and hall.ticket_count() == before
    listed = hall.api("GET", "/api/appointments")["appointments"]
    assert next(a for a in listed if a["code"] == "KL0000CX")["status"] == "booked"


@pytest.mark.parametrize("variant", ["zh", "en", "elder"])
def test_the_check_in_screen_invites_a_swipe(hall: HallServer, shots: str, variant: str) -> None:
    out = run_scenario("tests.test_kiosk_checkin:_checkin_screen", config=config(hall), shots=shots,
                       variant=variant)
    assert out["can_swipe"]
    assert any(("刷身份证" if variant != "en" else "card reader") in t for t in out["texts"])


@pytest.fixture(scope="module")
def closed_hall(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = start_hall(tmp_path_factory.mktemp("closed"), free_port(), {"timezone": HALL_ZONE})
    today = dt.datetime.now(TZ).date().isoformat()
    server.api("PUT", "/api/admin/hours", json={"closed_days": {today: "系统升级"}})
    server.api("PUT", "/api/settings/enforce_opening_hours", json={"value": True})
    yield server
    server.stop()


@pytest.mark.parametrize("variant", ["zh", "en", "elder"])
def test_a_closed_hall_says_so_on_the_home_screen_with_the_next_opening(
        closed_hall: HallServer, shots: str, variant: str) -> None:
    out = run_scenario("tests.test_kiosk_checkin:_closed_home", config=config(closed_hall, card_reader=False),
                       shots=shots, variant=variant)
    hours = closed_hall.api("GET", "/api/hours")
    assert hours["issuing"] is False
    time = hours["next_opening"]["time"]
    assert time in out["banner"] and "系统升级" in out["banner"]
    assert ("下次开放" if variant != "en" else "Next opening") in out["banner"]
    assert out["banner"] in out["texts"]


def test_a_y_number_can_be_looked_up_on_the_progress_keypad(hall: HallServer, shots: str) -> None:
    c = card(9)
    book(hall, "KY000001", c["id_number"], -5)
    t = hall.api("POST", "/api/appointments/check-in", json={"code": "KY000001"})
    assert t["number"].startswith("Y")
    out = run_scenario("tests.test_kiosk_checkin:_progress_y", config=config(hall, card_reader=False),
                       shots=shots, number=t["number"])
    assert "Y" in out["keys"] and "V" in out["keys"]
    assert out["number"] == t["number"] and out["status"] == "等候中"


def test_elder_mode_reaches_a_ticket_in_no_more_taps_than_normal_mode(hall: HallServer) -> None:
    # the last category (on the second page in both modes) and its last service
    cats = hall.api("GET", "/api/categories")
    services = [s for s in hall.api("GET", "/api/services") if s["category"] == cats[-1]["code"] and not s["id_required"]]
    args = {"category": cats[-1]["code"], "service": services[-1]["code"]}
    normal = run_scenario("tests.test_kiosk_checkin:_taps_to_ticket", config=config(hall, card_reader=False),
                          elder=False, **args)
    elder = run_scenario("tests.test_kiosk_checkin:_taps_to_ticket", config=config(hall, card_reader=False),
                         elder=True, **args)
    assert elder["taps"] <= normal["taps"], (elder, normal)


def test_elder_page_sizes_never_add_a_page_turn() -> None:
    from kiosk.flows.catalog import PAGE_SIZE

    for what, (normal, elder) in PAGE_SIZE.items():
        assert elder >= normal, what


def test_the_demo_never_deletes_a_database_a_running_server_uses(tmp_path: Path, capsys: Any) -> None:
    from click.testing import CliRunner

    from kiosk.demo import demo_database
    from queue_server.cli import main

    db = tmp_path / "demo.db"
    db.write_bytes(b"a running hall's data")
    assert demo_database(db) == db  # nobody uses it: the demo may recreate it
    (tmp_path / "demo.db.server.pid").write_text(f"{os.getpid()}\n")  # a live process holds it
    fresh = demo_database(db)
    assert fresh != db and not fresh.exists() and "in use by a running queue server" in capsys.readouterr().out
    r = CliRunner().invoke(main, ["demo", "--db", str(db), "--no-serve"])
    assert r.exit_code == 1 and "in use by a running queue server" in r.output and "not deleting it" in r.output
    assert db.read_bytes() == b"a running hall's data"
