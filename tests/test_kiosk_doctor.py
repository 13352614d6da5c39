"""``yichuang-kiosk doctor``: a good configuration passes (exit 0); a broken one — wrong
printer port, card reader absent, server token revoked, a typo in a key — fails (exit 1)
with, for each failure, what to do in Chinese and English. Real devices' protocols: the
loopback ESC/POS printer, the SAM reader on a pty, a video file as camera, a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import from_dict
from kiosk.tech import checks
from kiosk.tech.configcheck import check_config
from kiosk.tech.doctor import render, run_doctor
from tests.support.common import free_port
from tests.support.kiosk_server import HallServer, start_hall
from tests.support.tech import face_video, kiosk_command, kiosk_token, write_toml


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
def reader() -> Any:
    from hardware.idcard import SamSimulator

    sim = SamSimulator()
    yield sim
    sim.close()


def good_values(hall: HallServer, printer: Any, reader: Any, token: str, camera: str = "") -> dict[str, Any]:
    values: dict[str, Any] = {
        "server": {"url": hall.url, "token": token, "timeout": 3.0},
        "kiosk": {"name": "kiosk-03", "hall_name": "章丘区政务服务中心", "speech": False},
        "printer": {"url": printer.url, "paper": 80},
        "idcard": {"url": f"serial://{reader.port}"},
        "scanner": {"mode": "none"},
    }
    if camera:
        values["camera"] = {"source": camera}
    return values


def by_check(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for c in report["checks"]:
        out.setdefault(c["check"], []).append(c)
    return out


# -- the must-show pair: a good configuration and a broken one ---------------------------------

def test_doctor_passes_a_good_configuration(hall: HallServer, printer: Any, reader: Any, tmp_path: Path) -> None:
    token = kiosk_token(hall.db_path, "kiosk-03")
    video = face_video(tmp_path / "camera.mp4")
    cfg = write_toml(tmp_path / "kiosk.toml", good_values(hall, printer, reader, token, str(video)))
    r = kiosk_command("doctor", "--config", str(cfg), "--json", "--test-print")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] is True and report["failed"] == 0 and report["kiosk"] == "kiosk-03"
    checks_ = by_check(report)
    for name in ("config", "printer", "test_page", "idcard", "camera", "server", "clock"):
        assert [c["state"] for c in checks_[name]] == ["pass"], (name, checks_[name])
    camera = checks_["camera"][0]["data"]
    assert (camera["width"], camera["height"]) == (640, 480)
    assert camera["face"]["state"] == "ok" and camera["face"]["size"] >= 120
    # the face model in use, named with its files' sha256 prefixes
    from kiosk.face.models import DETECTOR_FILE, RECOGNIZER_FILE, SHA256

    for name in (DETECTOR_FILE, RECOGNIZER_FILE):
        assert f"{name} (sha256 {SHA256[name][:12]})" in camera["face"]["model"]
        assert SHA256[name][:12] in checks_["camera"][0]["detail"]
    assert checks_["scanner"][0]["state"] == "skip" and checks_["audio"][0]["state"] == "skip"
    assert len(printer.wait_for_receipts(1)) == 1  # the test page came out
    text = kiosk_command("doctor", "--config", str(cfg))
    assert text.returncode == 0
    assert "✔ 打印机 printer" in text.stdout and "结果 Result: 通过 PASSED" in text.stdout
    assert "✖" not in text.stdout


def test_doctor_fails_a_broken_configuration_and_says_what_to_do(hall: HallServer, reader: Any,
                                                                  tmp_path: Path) -> None:
    from queue_server.auth import revoke_tokens_named
    from queue_server.db import connect

    token = kiosk_token(hall.db_path, "kiosk-04")
    revoke_tokens_named(connect(hall.db_path), "kiosk-04")
    closed = free_port()  # nothing listens here: the wrong printer port
    cfg = write_toml(tmp_path / "kiosk.toml", {
        "server": {"url": hall.url, "token": token, "timeout": 3.0},
        "kiosk": {"name": "kiosk-04", "speech": False},
        "printer": {"url": f"tcp://127.0.0.1:{closed}", "paper": 80, "timeout": 2.0},
        "idcard": {"url": "serial:///dev/ttyUSB-no-such-reader"},
        "scanner": {"mode": "none"},
    }, extra='[camera]\nsoruce = "/dev/video0"\n')
    r = kiosk_command("doctor", "--config", str(cfg), "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] is False and report["failed"] == 4
    failed = {c["check"]: c for c in report["checks"] if c["state"] == "fail"}
    assert failed["config"]["code"] == "config_unknown_key"
    assert "camera.soruce" in failed["config"]["message"] and "camera.source" in failed["config"]["advice"]
    assert "did you mean camera.source?" in failed["config"]["advice_en"]
    assert failed["printer"]["code"] == "check_printer_unreachable"
    assert f"127.0.0.1:{closed}" in failed["printer"]["message"] and "printer.url" in failed["printer"]["advice"]
    assert failed["idcard"]["code"] == "check_idcard_absent"
    assert "/dev/ttyUSB-no-such-reader" in failed["idcard"]["message"]
    assert failed["server"]["code"] == "check_server_token_invalid"
    assert "queue-server token create --role kiosk --name kiosk-04" in failed["server"]["advice_en"]
    for c in failed.values():  # every failure: plain Chinese and English, and what to do in both
        assert c["message"] and not c["message"].isascii() and c["message_en"].isascii()
        assert c["advice"] and c["advice_en"]
    text = kiosk_command("doctor", "--config", str(cfg)).stdout
    assert text.count("✖") == 4
    assert text.count("→ 怎么办：") >= 4 and text.count("What to do:") >= 4
    assert "结果 Result: 未通过 FAILED：4 项失败 / 4 failed" in text


# -- each check on its own (in-process) -----------------------------------------------------------

def only(report: Any, check: str) -> list[Any]:
    return [f for f in report.findings if f.check == check]


def test_a_printer_out_of_paper_fails_and_near_end_or_silence_warn(printer: Any) -> None:
    cfg = from_dict({"printer": {"url": printer.url}})
    printer.set_state(paper="out")
    [f] = checks.check_printer(cfg)
    assert (f.state, f.code, f.advice) == ("fail", "paper_out", "请更换打印纸。")
    printer.set_state(paper="near_end")
    [f] = checks.check_printer(cfg)
    assert (f.state, f.code) == ("warn", "check_printer_near_end")
    printer.set_state(paper="ok", silent=True)
    [f] = checks.check_printer(from_dict({"printer": {"url": printer.url}}))
    assert (f.state, f.code) == ("warn", "check_printer_silent")
    printer.set_state(silent=False, cover_open=True)
    rows = checks.check_printer(cfg, test_print=True)
    assert [(r.check, r.state, r.code) for r in rows] == [("printer", "fail", "cover_open"),
                                                           ("test_page", "fail", "check_test_page_failed")]
    assert printer.receipts == []


def test_a_bad_printer_url_is_a_configuration_failure() -> None:
    [f] = checks.check_printer(from_dict({"printer": {"url": "lpt://1"}}))
    assert (f.state, f.code) == ("fail", "check_printer_config")


def test_a_port_that_does_not_answer_as_a_card_reader_fails(tmp_path: Path) -> None:
    from hardware.scanner.sim import SimulatedScanner

    with SimulatedScanner() as not_a_reader:  # a serial device that ignores SAM commands
        [f] = checks.check_idcard(from_dict({"idcard": {"url": f"serial://{not_a_reader.port}", "timeout": 0.3}}))
    assert (f.state, f.code) == ("fail", "check_idcard_no_answer")
    assert not_a_reader.port in f.message


def test_a_working_card_reader_passes_without_reading_a_card(reader: Any) -> None:
    from hardware.idcard import SimCard

    reader.insert(SimCard())
    [f] = checks.check_idcard(from_dict({"idcard": {"url": f"serial://{reader.port}"}}))
    assert f.state == "pass" and "a card on the reader" in f.detail
    assert (0x30, 0x01) not in reader.commands_seen  # the card itself was not read


def test_a_serial_scanner_is_checked_with_a_real_scan() -> None:
    import threading

    from hardware.scanner.sim import SimulatedScanner

    with SimulatedScanner() as sim:
        cfg = from_dict({"scanner": {"mode": "serial", "port": sim.port}})
        [f] = checks.check_scanner(cfg, wait_scan=0.3)
        assert (f.state, f.code) == ("fail", "check_scanner_no_scan")
        threading.Timer(0.3, sim.scan, args=("https://hall.example/t/ABC123",)).start()
        [f] = checks.check_scanner(cfg, wait_scan=5)
        assert f.state == "pass" and f.data == {"length": 29}
    [f] = checks.check_scanner(from_dict({"scanner": {"mode": "serial", "port": "/dev/ttyACM-none"}}))
    assert (f.state, f.code) == ("fail", "check_scanner_port")


def test_a_missing_camera_and_a_dark_one(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    [f] = checks.check_camera(from_dict({"camera": {"source": str(tmp_path / "none.mp4")}}))
    assert (f.state, f.code) == ("fail", "check_camera_unavailable")
    dark = tmp_path / "dark"
    dark.mkdir()
    for i in range(3):
        cv2.imwrite(str(dark / f"{i}.png"), np.full((480, 640, 3), 12, np.uint8))
    rows = checks.check_camera(from_dict({"camera": {"source": str(dark)}}), face=False)
    assert [(r.state, r.code) for r in rows] == [("warn", "check_camera_too_dark")]
    assert rows[0].data == {"width": 640, "height": 480, "brightness": 12}


def test_the_face_size_check_says_when_the_face_is_too_small(tmp_path: Path) -> None:
    video = face_video(tmp_path / "face.mp4")
    rows = checks.check_camera(from_dict({"camera": {"source": str(video)}, "face": {"min_face_px": 400}}))
    assert [(r.state, r.code) for r in rows] == [("warn", "check_camera_face_small")]
    assert rows[0].params["min_size"] == 400 and 200 < rows[0].params["size"] < 400


def test_server_checks_name_role_and_no_token(hall: HallServer) -> None:
    token = kiosk_token(hall.db_path, "kiosk-07")
    base = {"server": {"url": hall.url, "token": token}}
    rows = checks.check_server(from_dict({**base, "kiosk": {"name": "kiosk-7"}}))
    assert (rows[0].code, rows[0].params) == ("check_server_name_mismatch", {"token_name": "kiosk-07", "name": "kiosk-7"})
    rows = checks.check_server(from_dict({"server": {"url": hall.url, "token": hall.tokens["display"]}}))
    assert rows[0].code == "check_server_token_role" and rows[0].params["role"] == "display"
    rows = checks.check_server(from_dict({"server": {"url": hall.url}}))
    assert rows[0].code == "check_server_no_token"
    assert [r.check for r in rows] == ["server", "clock"] and rows[1].state == "pass"


def test_the_clock_check_warns_then_fails_with_the_skew() -> None:
    import email.utils

    server = 1_800_000_000.0
    header = email.utils.formatdate(server, usegmt=True)
    assert checks._clock("u", header, server + 0.4).state == "pass"
    f = checks._clock("u", header, server + 30)
    assert (f.state, f.code, f.params) == ("warn", "check_server_clock_skew", {"seconds": 30})
    assert checks._clock("u", header, server - 600).state == "fail"


# -- the configuration ------------------------------------------------------------------------------

def codes(report: Any) -> list[tuple[str, str]]:
    return [(f.code, f.detail) for f in report.findings if f.state == "fail"]


def test_every_problem_of_a_configuration_is_reported_at_once(tmp_path: Path) -> None:
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[server]\nurl = "http://10.0.0.2:8000"\ntimeout = "4"\n'
                   '[kiosk]\nlanguage = "fr"\nurl = "x"\n'
                   '[pritner]\nurl = "tcp://10.0.0.31"\n'
                   f'[idcard]\ndriver = "termb"\nsdk_path = "{tmp_path}/libtermb.so"\n', encoding="utf-8")
    report = check_config(cfg)
    found = {f.code: f for f in report.findings}
    assert sorted(found) == ["config_missing_file", "config_unknown_key", "config_unknown_section",
                             "config_wrong_type"]
    assert found["config_unknown_section"].params["hint_en"] == " (did you mean [printer]?)"
    assert found["config_unknown_key"].params["hint_en"] == " (does it belong under [server]?)"
    wrong = [f for f in report.findings if f.code == "config_wrong_type"]
    assert {f.params["key"] for f in wrong} == {"server.timeout", "kiosk.language"}
    assert "timeout = 4.0" in next(f for f in wrong if f.params["key"] == "server.timeout").advice
    # what is good is still used for the device checks
    assert report.config.server_url == "http://10.0.0.2:8000" and report.config.get("server", "timeout") == 4.0


def test_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[server]\nurl = "http://10.0.0.2:8000\n', encoding="utf-8")
    [f] = check_config(cfg).findings
    assert (f.code, f.params["line"]) == ("config_syntax", "2")
    assert "第 2 行" in f.message


def test_a_retired_key_says_what_replaced_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk import config as kconfig

    monkeypatch.setattr(kconfig, "RETIRED", {("kiosk", "idle"): "[kiosk] idle is now idle_seconds"}, raising=False)
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text("[kiosk]\nidle = 30\n", encoding="utf-8")
    [f] = check_config(cfg).findings
    assert f.code == "config_unknown_key" and "idle is now idle_seconds" in f.advice_en


def test_warnings_pass_unless_strict(tmp_path: Path, printer: Any) -> None:
    printer.set_state(paper="near_end")
    cfg = write_toml(tmp_path / "kiosk.toml", {"printer": {"url": printer.url}, "scanner": {"mode": "none"},
                                                "kiosk": {"speech": False}})
    report = run_doctor(cfg, skip=("server", "camera", "idcard"))
    assert report.ok() and not report.ok(strict=True)
    assert "⚠ 打印机 printer" in render(report) and "PASSED" in render(report)
    r = kiosk_command("doctor", "--config", str(cfg), "--skip", "server", "--strict")
    assert r.returncode == 1 and "打印纸将用完 / The paper roll is nearly used up" in r.stdout
