"""``yichuang-kiosk setup`` end to end against the simulators — a loopback ESC/POS printer
found at the address the technician gives, the SAM card reader on a pty, a video file as
camera — writing a commented kiosk.toml that ``yichuang-kiosk doctor`` then passes; once
unattended (every answer a flag) and once answering the questions. Plus discovery from a
fake sysfs tree (serial ports with USB ids, a USB printer, cameras)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kiosk.tech import discover
from tests.support.common import free_port
from tests.support.kiosk_server import HallServer, start_hall
from tests.support.tech import face_video, kiosk_command, kiosk_token


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
    from hardware.idcard import SamSimulator, SimCard

    sim = SamSimulator(SimCard(name="王秀兰", id_number="370181195003121239", birth="19500312"))
    yield sim
    sim.close()


def test_unattended_setup_writes_a_configuration_the_doctor_passes(hall: HallServer, printer: Any, reader: Any,
                                                                  tmp_path: Path) -> None:
    token = kiosk_token(hall.db_path, "kiosk-11")
    video = face_video(tmp_path / "camera.mp4")
    out = tmp_path / "kiosk.toml"
    sysfs = tmp_path / "empty-sys"
    sysfs.mkdir()
    r = kiosk_command("setup", "--yes", "-o", str(out), "--server-url", hall.url, "--token", token,
                      "--printer-host", f"127.0.0.1:{printer.port}", "--printer", "auto", "--test-print",
                      "--serial-port", reader.port, "--idcard", "auto", "--read-card", "--card-wait", "5",
                      "--camera", str(video), "--show-frame", "--scanner", "none", "--no-speech",
                      "--heartbeat", "1", "--sysfs", str(sysfs), "--doctor")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    cfg = tomllib.loads(text)
    assert cfg["server"] == {"url": hall.url, "token": token}
    assert cfg["kiosk"]["name"] == "kiosk-11"  # the token's name
    assert cfg["kiosk"]["hall_name"] and cfg["kiosk"]["speech"] is False
    assert cfg["printer"] == {"url": f"tcp://127.0.0.1:{printer.port}", "paper": 80}
    assert cfg["idcard"] == {"url": f"serial://{reader.port}"}
    assert cfg["camera"] == {"source": str(video)} and cfg["scanner"] == {"mode": "none"}
    assert cfg["devices"] == {"heartbeat_s": 1.0}
    # commented: the help of each key and how the value was found
    assert "# Receipt printer URL" in text and "# 一窗通 自助机配置 kiosk.toml" in text
    assert "测试页已打印 / a test page was printed at set-up" in text
    assert "设置时读卡成功 / a card was read at set-up" in text
    # it tried each device: a test page, a card read (masked), a frame as a brightness check
    assert len(printer.wait_for_receipts(1)) == 1
    assert "王*兰" in r.stdout and "3701**********1239" in r.stdout and "370181195003121239" not in r.stdout
    art = [line for line in r.stdout.splitlines() if line.startswith("  ") and set(line.strip()) <= set(" .:-=+*#%@")
           and len(line.strip()) > 40]
    assert len(art) >= 10
    assert "640×480" in r.stdout and "人脸 face" in r.stdout
    # and the doctor it ran on the new file passed
    assert "结果 Result: 通过 PASSED" in r.stdout
    again = kiosk_command("doctor", "--config", str(out), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["ok"] is True


def test_setup_answering_the_questions(hall: HallServer, printer: Any, reader: Any, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.tech.cli import setup

    token = kiosk_token(hall.db_path, "kiosk-12")
    video = face_video(tmp_path / "camera.mp4")
    out = tmp_path / "kiosk.toml"
    sysfs = tmp_path / "empty-sys"
    sysfs.mkdir()
    monkeypatch.chdir(tmp_path)
    answers = [
        hall.url,      # server URL
        token,         # token
        "",            # kiosk name: the token's (default)
        "",            # hall name: the server's (default)
        "",            # printer: 1) the network printer found (default)
        "58",          # paper width
        "y",           # print a test page
        "n",           # is the Chinese readable? no: print it as bitmaps
        "",            # card reader: the port that answered (default)
        "y",           # read a card
        "f", str(video),  # camera: a video file
        "n",           # do not show the frame
        "0",           # no scanner
        "n",           # no spoken prompts
        "y",           # run the doctor
    ]
    result = CliRunner().invoke(setup, ["-o", str(out), "--printer-host", f"127.0.0.1:{printer.port}",
                                        "--serial-port", reader.port, "--card-wait", "5", "--sysfs", str(sysfs)],
                                input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output[-5000:]
    cfg = tomllib.loads(out.read_text(encoding="utf-8"))
    assert cfg["kiosk"]["name"] == "kiosk-12"
    assert cfg["printer"] == {"url": f"tcp://127.0.0.1:{printer.port}", "paper": 58, "chinese": False}
    assert cfg["idcard"]["url"] == f"serial://{reader.port}"
    assert cfg["camera"]["source"] == str(video)
    assert cfg["scanner"]["mode"] == "none" and cfg["kiosk"]["speech"] is False
    assert "1) tcp://127.0.0.1:" in result.output and "读卡器应答 answers as a card reader" in result.output
    assert "王*兰" in result.output and "通过 PASSED" in result.output
    # an existing file is not overwritten without --force
    again = CliRunner().invoke(setup, ["-o", str(out), "--yes"])
    assert again.exit_code == 2 and "--force" in again.output


def test_an_unattended_setup_names_no_device_it_was_not_given(hall: HallServer, tmp_path: Path) -> None:
    from kiosk.tech.cli import setup

    out = tmp_path / "kiosk.toml"
    sysfs = tmp_path / "empty-sys"
    sysfs.mkdir()
    result = CliRunner().invoke(setup, ["--yes", "-o", str(out), "--server-url", hall.url, "--name", "kiosk-13",
                                        "--sysfs", str(sysfs), "--no-doctor"])
    assert result.exit_code == 0, result.output
    cfg = tomllib.loads(out.read_text(encoding="utf-8"))
    assert set(cfg) == {"server", "kiosk", "scanner"} and cfg["scanner"] == {"mode": "none"}
    assert "无法连接" not in result.output and "没有配置令牌" in result.output  # the server said what is missing


# -- discovery ------------------------------------------------------------------------------------

def _write(path: Path, **files: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text + "\n")
    return path


def fake_sysfs(root: Path) -> Path:
    dev = root / "devices" / "pci0000:00" / "usb1"
    adapter = _write(dev / "1-2", idVendor="1a86", idProduct="7523", manufacturer="QinHeng", product="USB Serial")
    tty_usb = (adapter / "1-2:1.0" / "ttyUSB0")
    tty_usb.mkdir(parents=True)
    driver = root / "bus" / "usb-serial" / "drivers" / "ch341-uart"
    driver.mkdir(parents=True)
    os.symlink(driver, tty_usb / "driver")
    uart = _write(root / "devices" / "platform" / "serial8250" / "tty" / "ttyS1")
    _write(root / "devices" / "platform" / "serial8250" / "tty" / "ttyS0")
    for name, target, extra in (("ttyUSB0", tty_usb, {}), ("ttyS0", root / "devices/platform/serial8250/tty/ttyS0",
                                                            {"type": "0"}), ("ttyS1", uart, {"type": "4"})):
        d = _write(root / "class" / "tty" / name, **extra)
        os.symlink(target, d / "device")
    _write(root / "class" / "tty" / "tty0")  # a virtual terminal: no device
    printer = _write(dev / "1-3", idVendor="0416", idProduct="5011", manufacturer="Winbond", product="POS58 Printer")
    iface = _write(printer / "1-3:1.0", bInterfaceClass="07")
    (root / "bus" / "usb" / "devices").mkdir(parents=True)
    os.symlink(printer, root / "bus" / "usb" / "devices" / "1-3")
    os.symlink(iface, root / "bus" / "usb" / "devices" / "1-3:1.0")
    os.symlink(_write(adapter / "1-2:1.0", bInterfaceClass="ff"), root / "bus" / "usb" / "devices" / "1-2:1.0")
    lp = (root / "class" / "usbmisc" / "lp0")
    lp.mkdir(parents=True)
    os.symlink(iface, lp / "device")
    cam = _write(dev / "1-4", idVendor="046d", idProduct="0825", product="Webcam C270")
    cam_iface = _write(cam / "1-4:1.0")
    for n, index in (("video0", "0"), ("video1", "1")):
        d = _write(root / "class" / "video4linux" / n, name="UVC Camera (046d:0825)", index=index)
        os.symlink(cam_iface, d / "device")
    return root


def test_discovery_reads_ports_usb_ids_printers_and_cameras_from_sysfs(tmp_path: Path) -> None:
    sysfs = str(fake_sysfs(tmp_path / "sys"))
    ports = discover.serial_ports(sysfs)
    assert [p.path for p in ports] == ["/dev/ttyS1", "/dev/ttyUSB0"]
    usb = ports[1]
    assert usb.usb == discover.UsbId("1a86", "7523", "QinHeng", "USB Serial") and usb.driver == "ch341-uart"
    assert str(usb) == "/dev/ttyUSB0  (USB 1a86:7523 QinHeng USB Serial)"
    [p] = discover.usb_printers(sysfs)
    assert p.url == "usb://0416:5011" and p.device_file == "/dev/usb/lp0" and p.usb.name == "POS58 Printer"
    [c] = discover.cameras(sysfs)
    assert c.path == "/dev/video0" and c.usb is not None and (c.usb.vendor, c.usb.product) == ("046d", "0825")


@pytest.mark.parametrize("given, url", [("10.0.0.31", "tcp://10.0.0.31:9100"), ("10.0.0.31:9101", "tcp://10.0.0.31:9101"),
                                        ("tcp://printer.hall:9100", "tcp://printer.hall:9100")])
def test_a_network_printer_address_becomes_a_url(given: str, url: str) -> None:
    assert discover.network_printer_url(given) == url


def test_the_frame_art_shows_light_and_dark() -> None:
    import numpy as np

    from kiosk.tech.termimage import frame_art, histogram_line

    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 320:] = 255
    lines = frame_art(frame, 32)
    assert len(lines) == 12 and lines[0] == " " * 16 + "@" * 16
    assert "\x1b[48;5;" in frame_art(frame, 8, ansi=True)[0]
    assert histogram_line(frame, 4) == "█  █"
