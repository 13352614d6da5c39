"""``python -m hardware``: one technician command for every device kind, and one device
health record (``hardware.health``) that every device package produces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hardware.cli import main
from hardware.health import KINDS, STATES, DeviceHealth

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "assets" / "demo" / "short_hamilton_clip.mp4"


def test_one_command_with_a_subcommand_per_device_kind_and_health() -> None:
    assert set(main.commands) == {"printer", "idcard", "camera", "scanner", "voice", "health"}
    assert not (ROOT / "hardware" / "idcard" / "__main__.py").exists()  # folded in
    assert not (ROOT / "hardware" / "voice" / "__main__.py").exists()
    out = subprocess.run([sys.executable, "-m", "hardware", "--help"], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0 and "python -m hardware" in out.stdout
    for kind in ("printer", "idcard", "camera", "scanner", "voice", "health"):
        assert kind in out.stdout



def test_the_health_record_has_one_shape() -> None:
    record = DeviceHealth("printer", "sim://x", "warning", "纸将用完 / paper near end", 1763856000.0)
    assert record.as_dict() == {"kind": "printer", "name": "sim://x", "state": "warning",
                                "detail": "纸将用完 / paper near end", "checked_at": 1763856000.0}
    assert record.ok and KINDS == ("printer", "idcard", "camera", "scanner", "voice")
    assert STATES == ("ok", "warning", "error", "unknown")
    with pytest.raises(ValueError):
        DeviceHealth("fax", "x", "ok")
    with pytest.raises(ValueError):
        DeviceHealth("printer", "x", "fine")


def test_health_prints_every_configured_device_of_a_kiosk_config(tmp_path: Path) -> None:
    from hardware.scanner.sim import SimulatedScanner

    with SimulatedScanner() as scanner:
        cfg = tmp_path / "kiosk.toml"
        cfg.write_text(f"""
[kiosk]
name = "kiosk-07"
[printer]
url = "sim://health-test"
paper = 58
[idcard]
url = "sim://"
[camera]
source = "{CLIP}"
[scanner]
mode = "serial"
port = "{scanner.port}"
""", encoding="utf-8")
        result = CliRunner().invoke(main, ["health", "--config", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert [r["kind"] for r in records] == ["printer", "idcard", "camera", "scanner", "voice"]
    assert {r["state"] for r in records} == {"ok"}
    assert records[0]["name"] == "sim://health-test" and records[2]["detail"] == "640×360 frame"
    assert all(set(r) == {"kind", "name", "state", "detail", "checked_at"} for r in records)


def test_health_names_the_broken_device_and_exits_non_zero(tmp_path: Path) -> None:
    from hardware.printer.sim import get_simulator

    get_simulator("health-out").set_state(paper="out")
    result = CliRunner().invoke(main, ["health", "--printer", "sim://health-out", "--idcard",
                                       "serial:///dev/no-such-reader", "--camera", str(tmp_path / "none.mp4"),
                                       "--voice", str(tmp_path)])
    assert result.exit_code == 1
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert "error" in lines["printer"] and "缺纸" in lines["printer"]
    assert "error" in lines["idcard"] and "身份证阅读器未连接" in lines["idcard"]
    assert "error" in lines["camera"] and "error" in lines["voice"] and "missing" in lines["voice"]


def test_voice_and_camera_health() -> None:
    from hardware.camera import health as camera_health
    from hardware.voice import health as voice_health

    assert voice_health().state == "ok"
    assert camera_health({"source": str(CLIP)}).state == "ok"
    assert camera_health({"source": "/dev/video99"}).state == "error"


def test_probe_commands_of_the_camera_and_the_scanner(tmp_path: Path) -> None:
    import threading

    from hardware.scanner.sim import SimulatedScanner

    out = CliRunner().invoke(main, ["camera", "probe", str(CLIP), "--frames", "5"])
    assert out.exit_code == 0 and json.loads(out.output)["frames"] == 5
    assert CliRunner().invoke(main, ["camera", "probe", str(tmp_path / "x.mp4")]).exit_code == 2
    with SimulatedScanner() as sim:
        timer = threading.Timer(0.5, sim.scan, args=("YY123456",))
        timer.start()
        out = CliRunner().invoke(main, ["scanner", "listen", sim.port, "--timeout", "10"])
        timer.join()
    assert out.exit_code == 0 and out.output.strip() == "YY123456"
