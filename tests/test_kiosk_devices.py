"""The kiosk's device watcher (kiosk/flows/devices.py) without Kivy: records from the open
devices, heartbeats to a real server, test actions carried out and answered, the
configuration reloaded, and the flows agreeing with what the watcher saw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiosk.config import from_dict
from kiosk.flows.devices import CAMERA_MISSES, CameraTap
from kiosk.flows.printer import KioskPrinter
from kiosk.flows.session import Kiosk
from kiosk.voice import SilentSpeaker
from tests.support.common import free_port
from tests.support.kiosk_server import HallServer, start_hall
from tests.support.tech import kiosk_token, toml_text


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


def make(values: dict[str, Any]) -> Kiosk:
    cfg = from_dict(values)
    return Kiosk(cfg, printer=KioskPrinter.from_config(cfg.section("printer")), speaker=SilentSpeaker())


def kiosk_values(hall: HallServer, name: str, printer: Any = None, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"server": {"url": hall.url, "token": kiosk_token(hall.db_path, name), "timeout": 3.0},
                              "kiosk": {"name": name}, "scanner": {"mode": "none"}, **extra}
    if printer is not None:
        values["printer"] = {"url": printer.url, "paper": 80}
    return values


def device(hall: HallServer, name: str) -> dict[str, Any]:
    return next(d for d in hall.api("GET", "/api/devices") if d["name"] == name)


def test_records_come_from_the_open_devices_in_a_fixed_order(printer: Any) -> None:
    from hardware.idcard import SimCard

    k = make({"printer": {"url": printer.url}, "idcard": {"driver": "sim"}, "scanner": {"mode": "keyboard"}})
    try:
        k.card_reader.device.insert(SimCard())  # type: ignore[attr-defined]
        recs = k.devices.check()
        assert [(r.kind, r.state) for r in recs] == [("printer", "ok"), ("idcard", "ok")]  # keyboard scanner: left out
        assert "a card on the reader" in recs[1].detail and "张" not in recs[1].detail
        printer.set_state(paper="near_end")
        assert k.devices.check()[0].state == "warning"
        printer.set_state(paper="out")
        assert k.devices.check()[0].state == "error" and not k.devices.usable("printer")
    finally:
        k.card_reader.close()


def test_a_heartbeat_reaches_the_server_and_a_test_print_comes_out(hall: HallServer, printer: Any) -> None:
    k = make(kiosk_values(hall, "kiosk-w1", printer))
    k.devices.check()
    answer = k.devices.beat()
    assert answer is not None and answer["state"] == "ok"
    d = device(hall, "kiosk-w1")
    assert d["kind"] == "kiosk" and d["state"] == "ok" and d["version"]
    assert [c["kind"] for c in d["components"]] == ["printer"]
    action = hall.api("POST", "/api/devices/kiosk-w1/actions", json={"action": "test_print"})
    k.devices.check()
    k.devices.beat()
    receipts = printer.wait_for_receipts(1)
    assert b"\x1dV" in receipts[0].data  # a cut test page
    done = hall.api("GET", f"/api/devices/kiosk-w1/actions/{action['id']}")
    assert done["status"] == "done" and "test page printed" in done["result"]


def test_probe_and_a_failed_test_print_are_answered(hall: HallServer, printer: Any) -> None:
    k = make(kiosk_values(hall, "kiosk-w2", printer))
    k.devices.beat()
    printer.set_state(paper="out")
    a1 = hall.api("POST", "/api/devices/kiosk-w2/actions", json={"action": "test_print"})
    a2 = hall.api("POST", "/api/devices/kiosk-w2/actions", json={"action": "probe_idcard"})
    k.devices.beat()
    r1 = hall.api("GET", f"/api/devices/kiosk-w2/actions/{a1['id']}")
    r2 = hall.api("GET", f"/api/devices/kiosk-w2/actions/{a2['id']}")
    assert r1["status"] == "failed" and "缺纸" in r1["result"]
    assert r2["status"] == "failed" and "no card reader" in r2["result"]
    assert printer.receipts == []


def test_a_heartbeat_under_another_name_is_refused_and_said_so(hall: HallServer) -> None:
    values = kiosk_values(hall, "kiosk-w3")
    values["kiosk"]["name"] = "kiosk-w3-typo"
    k = make(values)
    assert k.devices.beat() is None
    assert "device_name_mismatch" in k.devices.last_error
    assert all(d["name"] != "kiosk-w3-typo" for d in hall.api("GET", "/api/devices"))


def test_a_print_failure_is_reported_at_once_and_gives_way_to_the_next_check(hall: HallServer, printer: Any) -> None:
    from kiosk.flows.printer import PrintOutcome

    k = make(kiosk_values(hall, "kiosk-w4", printer))
    k.devices.check()
    k.devices.beat()
    k.devices.report_print(PrintOutcome("failed", "paper_out", "小票未能打印（打印机缺纸）", "not printed"))
    assert not k.devices.usable("printer") and k.devices._wake.is_set()
    k.devices.beat()
    assert device(hall, "kiosk-w4")["state"] == "error"
    k.devices.check()  # the printer says it is fine again: the report is superseded
    assert k.devices.usable("printer")


def test_reload_applies_what_it_can_and_names_what_needs_a_restart(hall: HallServer, printer: Any,
                                                                  tmp_path: Path) -> None:
    values = kiosk_values(hall, "kiosk-w5", printer)
    path = tmp_path / "kiosk.toml"
    path.write_text(toml_text(values), encoding="utf-8")
    k = make(values)
    k.devices.config_path = str(path)
    assert k.devices.reload_config() == (True, "配置未变化 / no change")
    values["printer"]["paper"] = 58
    values["kiosk"]["idle_seconds"] = 30.0
    values["idcard"] = {"url": "serial:///dev/ttyUSB3"}
    path.write_text(toml_text(values), encoding="utf-8")
    ok, text = k.devices.reload_config()
    assert ok and "printer.paper" in text and "kiosk.idle_seconds" in text and "[idcard]" in text
    assert k.config.get("printer", "paper") == 58 and k.printer.options["paper"] == 58
    assert k.config.get("idcard", "url") == ""  # the reader stays as it was until a restart
    path.write_text("[printer]\nulr = 1\n", encoding="utf-8")
    ok, text = k.devices.reload_config()
    assert not ok and "printer.ulr" in text and k.config.get("printer", "paper") == 58


def test_the_swipe_step_and_the_identity_check_follow_the_watcher() -> None:
    from kiosk.client import Service
    from kiosk.errors import NoReader

    k = make({"idcard": {"driver": "sim"}})
    try:
        k.take_number.choose_priority("elderly")
        k.take_number.choose_service(Service("QY01", "企业设立登记", "qiye", "A"))
        k.identity = object()  # an identity check is attached
        assert k.take_number.needs_identity()
        k.devices.report("camera", "0", "error", "no frames")
        assert not k.take_number.needs_identity()  # a failed camera: the plain swipe
        k.devices.report("idcard", "sim:", "error", "reader not connected")
        with pytest.raises(NoReader):
            k.take_number.wait_for_card(timeout=5)  # at once, not after 5 s
    finally:
        k.card_reader.close()


def test_the_camera_tap_counts_frames_without_keeping_them() -> None:
    import numpy as np

    class Cam:
        def __init__(self) -> None:
            self.frames = [np.zeros((480, 640, 3), np.uint8)] + [None] * CAMERA_MISSES

        def read(self) -> Any:
            return self.frames.pop(0) if self.frames else None

        def close(self) -> None:
            pass

    tap = CameraTap(Cam())
    assert tap.health("0").detail.startswith("已打开")
    tap.read()
    assert tap.health("0").state == "ok" and "640×480" in tap.health("0").detail
    for _ in range(CAMERA_MISSES):
        tap.read()
    assert tap.health("0").state == "error"


def test_the_camera_health_names_the_face_model_in_use() -> None:
    from types import SimpleNamespace

    from kiosk.face.models import DETECTOR_FILE, RECOGNIZER_FILE, SHA256, FaceModels
    from kiosk.flows.devices import _face_model

    models = FaceModels(detector=None, recognizer=None, directory=Path("."), digests=dict(SHA256),
                        digests_verified=True, load_ms=0.0)
    identity = SimpleNamespace(verifier=SimpleNamespace(analyzer=SimpleNamespace(models=models)))
    text = _face_model(identity)
    assert text == (f"YuNet {DETECTOR_FILE} (sha256 {SHA256[DETECTOR_FILE][:12]}) + "
                    f"SFace {RECOGNIZER_FILE} (sha256 {SHA256[RECOGNIZER_FILE][:12]})")
    assert _face_model(SimpleNamespace(verifier=None)) == ""


def test_the_watcher_thread_beats_at_its_interval(hall: HallServer, printer: Any) -> None:
    import time

    values = kiosk_values(hall, "kiosk-w6", printer)
    values["devices"] = {"heartbeat_s": 0.3}
    k = make(values)
    assert k.devices.start() is k.devices
    try:
        deadline = time.monotonic() + 10
        while k.devices.beats < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert k.devices.beats >= 3
    finally:
        k.devices.stop()
    assert make({"devices": {"heartbeat_s": 0}}).devices.start() is None
    assert make({}).devices.start() is None  # no token: no heartbeats


def test_yichuang_kiosk_beats_from_its_entry_point_and_reloads_its_file(hall: HallServer, tmp_path: Path) -> None:
    """``yichuang-kiosk --config FILE`` itself (offscreen): the watcher starts with the kiosk
    and knows the file a technician's "reload the configuration" reads again."""
    import os
    import subprocess
    import sys

    from tests.support.tech import ROOT, write_toml

    token = kiosk_token(hall.db_path, "kiosk-w7")
    cfg = write_toml(tmp_path / "kiosk.toml", {"server": {"url": hall.url, "token": token},
                                               "kiosk": {"name": "kiosk-w7", "speech": False},
                                               "printer": {"url": "sim://kiosk-w7"}, "scanner": {"mode": "none"},
                                               "devices": {"heartbeat_s": 1.0}})
    env = dict(os.environ, PYTHONPATH=str(ROOT), KIVY_HOME=str(tmp_path / "kivy-home"))
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)

    def run() -> None:
        r = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(cfg), "--offscreen", "--quit-after", "2.5"],
                           env=env, cwd=str(ROOT), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-3000:]

    run()
    d = device(hall, "kiosk-w7")
    assert d["state"] == "ok" and d["components"][0] == {**d["components"][0], "kind": "printer", "name": "sim://kiosk-w7"}
    action = hall.api("POST", "/api/devices/kiosk-w7/actions", json={"action": "reload_config"})
    run()
    done = hall.api("GET", f"/api/devices/kiosk-w7/actions/{action['id']}")
    assert (done["status"], done["result"]) == ("done", "配置未变化 / no change")
