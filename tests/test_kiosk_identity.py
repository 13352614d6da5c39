"""Priority tickets through the identity check (人证比对), end to end on a headless kiosk.

Real touches on the real widget tree, a real queue server on loopback, the loopback TCP
printer simulator, the ID-card reader simulator speaking the SAM protocol on a pty (the
swipe step's reader, shared with the identity check) and the demo camera: the real
head-turn clip replayed at 12 fps (``make_identity_flow(demo=True)``), with the card's
photo being the clip's person. Each scenario runs in its own kiosk process.

Set ``YICHUANG_SCREENSHOTS=1`` to (re)write ``docs/screens/priority-identity-*.png``
(otherwise they go to a temporary directory).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.common import free_port
from tests.support.escpos_decode import text_lines
from tests.support.kiosk_harness import Driver, run_scenario
from tests.support.kiosk_server import HallServer, start_hall

ROOT = Path(__file__).resolve().parent.parent
ID_PHOTO = ROOT / "tests" / "data" / "faces" / "lin-manuel-miranda.png"


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


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return ROOT / "docs" / "screens" if os.environ.get("YICHUANG_SCREENSHOTS") == "1" else tmp_path


def config(hall: HallServer, printer: Any = None) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "server": {"url": hall.url, "token": hall.kiosk_token, "timeout": 3.0,
                   "retry_seconds": 1.0},
        "kiosk": {"hall_name": "章丘区政务服务中心"},
        "idcard": {"driver": "sim", "sim_photo": str(ID_PHOTO)},
        "identity": {"verify_face_for_priority": True},
    }
    if printer is not None:
        cfg["printer"] = {"url": printer.url, "paper": 80}
    return cfg


# -- scenarios (run inside the kiosk process) ---------------------------------------------

def _to_identity(d: Driver, priority: str, category: str, service: str) -> None:
    """Build the identity check as run_kiosk.py does (demo camera), then tap 优先取号 →
    group → category → service: the identity check starts instead of the plain swipe."""
    from kiosk.flows.identity import attach_identity

    assert attach_identity(d.kiosk, demo=True) is not None
    assert d.kiosk.identity.reader is d.kiosk.card_reader.device  # one reader, shared
    d.tap_key("priority")
    d.wait_for(lambda: d.screen.name == "priority", what="priority screen")
    d.tap_key(f"priority:{priority}")
    d.wait_for(lambda: d.screen.name == "category" and d.screen.ids.grid.children,
               what="categories")
    d.tap_key(f"cat:{category}")
    d.wait_for(lambda: d.screen.name == "service" and d.screen.ids.grid.children,
               what="services")
    d.tap_key(f"svc:{service}")
    d.wait_for(lambda: d.screen.name == "identity_card", what="identity card screen")
    d.pump(0.3)


def _ticket(d: Driver, out: dict[str, Any], shot: Path) -> dict[str, Any]:
    d.wait_for(lambda: d.screen.name == "ticket" and d.screen.number, timeout=15,
               what="ticket after the identity check")
    d.wait_for(lambda: d.screen.print_status not in ("", "printing"), what="print status")
    d.pump(0.2)
    d.screenshot(shot)
    out.update(number=d.screen.number, title=d.screen.title_text, notice=d.screen.notice_text,
               texts=d.texts(), print_status=d.screen.print_status,
               session_card=d.kiosk.session.card is not None)
    return out


def _priority_with_face(d: Driver, shots: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _to_identity(d, "elderly", "huzheng", "HZ02")
    out["card_texts"] = d.texts()
    d.screenshot(Path(shots) / "priority-identity-card.png")
    d.tap_key("identity_demo_card")  # a senior's card onto the simulated reader
    d.wait_for(lambda: d.screen.name == "identity_consent", 10, "consent screen")
    d.pump(0.2)
    out["consent_texts"] = d.texts()
    d.tap_key("identity_agree")
    d.wait_for(lambda: d.screen.name == "identity_face", 15, "face screen")
    d.wait_for(lambda: d.screen.box[2] > 0, 15, "face box")
    out["face_texts"] = d.texts()
    out["spoken"] = list(d.kiosk.speaker.spoken)
    d.wait_for(lambda: d.screen.name == "identity_result", 60, "result screen")
    d.pump(0.2)
    out["result_texts"] = d.texts()
    out["method"] = d.kiosk.identity.identity.method if d.kiosk.identity.identity else None
    d.tap_key("identity_continue")
    _ticket(d, out, Path(shots) / "priority-identity-ticket.png")
    out["identity_method"] = d.kiosk.session.identity_method
    d.kiosk.wait_for_audit()  # the check was posted to the server's audit trail
    # the session ends: the card, its photo and the identity go with it
    d.root.home()
    d.pump(0.2)
    out["after_wipe"] = [d.screen.name, d.kiosk.identity.step, d.kiosk.identity.card is None,
                         d.kiosk.session.card is None]
    return out


def _priority_declining_face(d: Driver, shots: str, mode: str = "zh") -> dict[str, Any]:
    out: dict[str, Any] = {}
    suffix = "" if mode == "zh" else f"-{mode}"
    if mode == "en-elder":
        d.tap_key("language")
        d.tap_key("elder")
    _to_identity(d, "disabled", "qiye", "QY01")
    d.tap_key("identity_demo_card")
    d.wait_for(lambda: d.screen.name == "identity_consent", 10, "consent screen")
    d.pump(0.2)
    out["consent_texts"] = d.texts()
    if suffix:
        d.screenshot(Path(shots) / f"priority-identity-consent{suffix}.png")
    d.tap_key("identity_decline")  # the non-face alternative
    d.wait_for(lambda: d.screen.name == "identity_result", 10, "result screen")
    d.pump(0.2)
    out["result_texts"] = d.texts()
    d.tap_key("identity_continue")
    return _ticket(d, out, Path(shots) / f"priority-identity-card-only{suffix}.png")


def _priority_expired_card(d: Driver, shots: str) -> dict[str, Any]:
    from hardware.idcard import SimCard

    out: dict[str, Any] = {}
    _to_identity(d, "military", "qiye", "QY02")
    d.kiosk.card_reader.device.insert(SimCard(
        name="赵建国", birth="19700101", id_number="110101197001010032",
        valid_from="20000101", valid_to="20201231"))
    d.wait_for(lambda: d.screen.name == "identity_result", 10, "referral")
    d.pump(0.2)
    out["result_texts"] = d.texts()
    d.tap_key("identity_continue")
    return _ticket(d, out, Path(shots) / "priority-identity-referred.png")


# -- tests ----------------------------------------------------------------------------------

def identity_checks(hall: HallServer) -> list[dict[str, Any]]:
    """The hall's ``identity.checked`` audit records, newest first."""
    from queue_server.audit import chain
    from queue_server.db import connect

    db = connect(hall.db_path)
    try:
        return chain.recent(db, kind="identity.checked")
    finally:
        db.conn.close()


def test_priority_ticket_after_face_verification_carries_the_priority_and_the_masked_id(
        hall: HallServer, printer: Any, shots: Path) -> None:
    out = run_scenario("tests.test_kiosk_identity:_priority_with_face", timeout=150,
                       config=config(hall, printer), shots=str(shots))
    assert "请将身份证平放在读卡区，读卡完成前请勿移开" in out["card_texts"]
    assert "王*兰    3701**********" in " ".join(out["consent_texts"])
    assert "请缓慢向左转头，再转回来" in out["face_texts"]
    assert "请缓慢向左转头，再转回来" in out["spoken"]  # the challenge is spoken too
    assert "人证比对通过" in out["result_texts"] and out["method"] == "face"
    number = out["number"]
    ticket = hall.ticket(number)
    assert ticket["priority"] == "elderly" and ticket["service"] == "HZ02"
    assert ticket["id_masked"].startswith("3701") and "*" in ticket["id_masked"]
    assert not ticket.get("referral_reason")
    assert number in out["texts"] and "优先号" in out["title"] and out["notice"] == ""
    assert out["print_status"] == "printed"
    assert number in "\n".join(text_lines(printer.wait_for_receipts(1, timeout=10)[-1].data))
    assert out["identity_method"] == "face"
    assert out["after_wipe"] == ["home", "idle", True, True]
    checks = identity_checks(hall)
    assert checks, "the kiosk posted no identity check"
    record = checks[0]["data"]
    assert (record["method"], record["result"], record["purpose"], record["liveness"]) == (
        "face", "pass", "priority_ticket", "pass")
    assert checks[0]["actor"].startswith("token:")
    text = str(checks[0])
    assert "3701" not in text and "王秀兰" not in text  # neither the ID number nor the name


def test_declining_face_capture_still_gives_a_priority_number_checked_at_the_window(
        hall: HallServer, printer: Any, shots: Path) -> None:
    out = run_scenario("tests.test_kiosk_identity:_priority_declining_face", timeout=90,
                       config=config(hall, printer), shots=str(shots))
    assert "已读取身份证，请到窗口核验本人" in out["result_texts"]
    ticket = hall.ticket(out["number"])
    assert ticket["priority"] == "disabled" and "*" in ticket["id_masked"]
    assert "出示身份证" in out["notice"]
    assert out["number"] in "\n".join(text_lines(printer.wait_for_receipts(1)[-1].data))


def test_the_identity_steps_follow_english_and_elder_mode(
        hall: HallServer, printer: Any, shots: Path) -> None:
    out = run_scenario("tests.test_kiosk_identity:_priority_declining_face", timeout=90,
                       config=config(hall, printer), shots=str(shots), mode="en-elder")
    assert "No face scan: check at a window" in " ".join(out["consent_texts"])
    assert "Card read; a clerk will check it is you" in out["result_texts"]
    assert "show your ID card" in out["notice"]
    assert hall.ticket(out["number"])["priority"] == "disabled"


def test_a_failed_identity_check_gives_a_regular_number_for_a_window_with_the_reason(
        hall: HallServer, shots: Path) -> None:
    out = run_scenario("tests.test_kiosk_identity:_priority_expired_card", timeout=90,
                       config=config(hall), shots=str(shots))
    assert "请到人工窗口办理" in out["result_texts"]
    ticket = hall.ticket(out["number"])
    assert ticket["priority"] is None  # 转人工: a regular number …
    assert ticket["referral_reason"] == "身份证已过有效期"  # … that tells the clerk why
    assert ticket["id_masked"].endswith("0032")
    assert out["number"] in out["texts"] and "窗口" in out["notice"]


# -- the take-number flow's side, without Kivy -------------------------------------------

class _StubIdentity:
    """Stands in for a built IdentityFlow where only ``referral`` and ``begin`` are read."""

    referral = None

    def begin(self, on_done: Any = None, next_screen: str = "home", purpose: str = "") -> None:
        self.next_screen = next_screen
        self.purpose = purpose


def _kiosk(hall: HallServer, **identity: Any) -> Any:
    from kiosk.config import from_dict
    from kiosk.flows.session import Kiosk

    cfg = from_dict({"server": {"url": hall.url, "token": hall.kiosk_token},
                     "identity": identity})
    kiosk = Kiosk(cfg)
    kiosk.identity = _StubIdentity()
    return kiosk


def test_face_failed_three_times_refers_to_a_window_with_a_regular_number(hall: HallServer) -> None:
    import datetime as dt

    from hardware.idnumber import id_check_digit
    from kiosk.client import Service
    from kiosk.flows.identity import VerifiedIdentity

    # born 1980: the server itself gives seniors priority from the ID number (elderly_age)
    first17 = "11010119800116001"
    kiosk = _kiosk(hall)
    flow = kiosk.take_number
    flow.choose_priority("disabled")
    assert flow.choose_service(Service("HZ01", "居民身份证申领", "huzheng", "E")) == "identity"
    flow.begin_identity()
    assert kiosk.identity.next_screen == "ticket" and kiosk.identity.purpose == "priority_ticket"
    assert not flow.ticket_pending()
    flow.identity_done(VerifiedIdentity(
        name="林曼努", id_number=first17 + id_check_digit(first17), sex="男", nation="汉",
        birth_date=dt.date(1980, 1, 16), valid_to=None, method="manual",
        referral=("face_failed", "人脸核验 3 次未通过：比对不一致", "Face verification failed 3 times")))
    assert flow.ticket_pending()
    result = flow.issue(notice_key=kiosk.session.pending_notice)
    ticket = hall.ticket(result.ticket.number)
    assert ticket["priority"] is None
    assert ticket["referral_reason"] == "人脸核验 3 次未通过：比对不一致"
    assert result.notice_key == "identity.referred"


def test_the_switch_off_or_no_identity_check_keeps_the_plain_swipe(hall: HallServer) -> None:
    from kiosk.client import Service

    svc = Service("HZ01", "居民身份证申领", "huzheng", "E")
    off = _kiosk(hall, verify_face_for_priority=False)
    off.take_number.choose_priority("elderly")
    assert off.take_number.choose_service(svc) == "swipe"
    none = _kiosk(hall)
    none.identity = None  # no camera, or the face models are still loading
    none.take_number.choose_priority("disabled")
    assert none.take_number.choose_service(svc) == "swipe"
    regular = _kiosk(hall)
    assert regular.take_number.choose_service(svc) == "issue"  # no priority: no check
