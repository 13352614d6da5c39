"""The printer layer: ticket bytes decoded back, Chinese encoding, bitmap fallback, status."""

from __future__ import annotations

from datetime import datetime

import pytest
from click.testing import CliRunner

from hardware.printer import (
    CoverOpen,
    Offline,
    PaperOut,
    PrinterConfigError,
    PrinterOptions,
    PrinterURL,
    TicketData,
    open_printer,
    parse_status,
    render_test_page,
    render_ticket,
)
from hardware.printer.sim import SimulatedNetworkPrinter, get_simulator
from tests.support.escpos_decode import QR, Cut, Raster, Text, decode, render_png, text_lines

TICKET = TicketData(
    number="A012", hall_name="章丘区政务服务中心", service_name="企业开办",
    people_ahead=5, wait_minutes=12, issued_at=datetime(2026, 11, 23, 9, 15),
    tip="过号无效，请重新取号。本大厅办事不收费（￥0）。",
    progress_url="http://192.168.1.10:8080/t/Xk3p9QaZ2m",
)


@pytest.mark.parametrize("paper", [58, 80])
def test_ticket_decodes_to_number_chinese_lines_qr_and_cut(paper: int) -> None:
    data = render_ticket(TICKET, PrinterOptions(paper=paper))
    items = list(decode(data))
    texts = [i for i in items if isinstance(i, Text) and i.text]
    number = next(t for t in texts if t.text == "A012")
    assert number.width >= 5 and number.height >= 5 and number.align == "center"
    joined = "".join(t.text for t in texts)
    assert "章丘区政务服务中心" in joined
    assert "企业开办" in joined
    assert "您前面还有 5 人等候" in joined
    assert "预计等候：约 12 分钟" in joined
    assert "取号时间：2026-11-23 09:15" in joined
    assert "温馨提示：过号无效，请重新取号。本大厅办事不收费（￥0）。" in joined
    assert "?" not in joined
    qrs = [i for i in items if isinstance(i, QR)]
    assert [q.payload for q in qrs] == ["http://192.168.1.10:8080/t/Xk3p9QaZ2m"]
    assert qrs[0].align == "center"
    after_qr = items[items.index(qrs[0]) + 1]  # a normal-height feed so the text does not touch it
    assert isinstance(after_qr, Text) and after_qr.text == "" and after_qr.height == 1
    assert isinstance(items[-1], Cut)
    assert not any(isinstance(i, Raster) for i in items)
    # every line fits the paper: font A is 12 dots per column, hanzi two columns
    dots = 384 if paper == 58 else 576
    for t in texts:
        cols = sum(2 if ord(c) > 0x7F else 1 for c in t.text)
        assert cols * 12 * t.width <= dots, t


@pytest.mark.parametrize("paper", [58, 80])
def test_ticket_is_under_two_kilobytes(paper: int) -> None:
    assert len(render_ticket(TICKET, PrinterOptions(paper=paper))) <= 2048


def test_chinese_mode_is_entered_once_and_punctuation_is_raw_gb18030() -> None:
    data = render_ticket(TICKET, PrinterOptions(paper=58))
    assert data.count(b"\x1c&") == 1
    assert "：，￥".encode("gb18030")[:2] in data  # the full-width colon, as the printer gets it
    assert "￥".encode("gb18030") in data


def test_gbk_encoding_prints_the_same_text() -> None:
    data = render_ticket(TICKET, PrinterOptions(paper=80, encoding="gbk"))
    assert "温馨提示：过号无效，请重新取号。" in "".join(text_lines(data, "gbk"))


def test_character_outside_gbk_falls_back_to_a_bitmap_line() -> None:
    # 𠮷 (U+20BB7) exists in GB18030 but not in GBK
    ticket = TicketData(number="B001", service_name="𠮷祥路社区服务")
    data = render_ticket(ticket, PrinterOptions(paper=58, encoding="gbk"))
    items = list(decode(data, "gbk"))
    assert any(isinstance(i, Raster) for i in items)
    assert "B001" in text_lines(data, "gbk")


def test_bitmap_fallback_sends_rasters_and_no_question_marks() -> None:
    data = render_ticket(TICKET, PrinterOptions(paper=58, chinese=False))
    assert b"\x1c&" not in data
    items = list(decode(data))  # decoding non-ASCII text without FS & would raise
    rasters = [i for i in items if isinstance(i, Raster)]
    assert len(rasters) >= 6
    assert all(r.width <= 384 for r in rasters)
    assert any(sum(r.data) > 0 for r in rasters)  # black dots drawn
    texts = [i.text for i in items if isinstance(i, Text)]
    assert "A012" in texts
    assert not any("?" in t for t in texts)
    assert any(isinstance(i, QR) for i in items) and isinstance(items[-1], Cut)


def test_qr_image_mode_prints_a_raster_instead_of_gs_k() -> None:
    data = render_ticket(TICKET, PrinterOptions(paper=80, qr="image"))
    items = list(decode(data))
    assert not any(isinstance(i, QR) for i in items)
    qr = max((i for i in items if isinstance(i, Raster)), key=lambda r: r.height)
    assert qr.width == 576 and qr.height > 150


def test_no_cutter_feeds_without_cut() -> None:
    items = list(decode(render_ticket(TICKET, PrinterOptions(paper=58, cutter=False))))
    assert not any(isinstance(i, Cut) for i in items)


def test_reprint_is_marked() -> None:
    from dataclasses import replace

    lines = text_lines(render_ticket(replace(TICKET, reprint=True), PrinterOptions(paper=58)))
    assert lines[0] == "【补打 REPRINT】"


def test_test_page_has_chinese_qr_and_cut() -> None:
    data = render_test_page(PrinterOptions(paper=58), url="sim://", now=datetime(2026, 1, 2, 3, 4, 5))
    lines = text_lines(data)
    assert "金额：￥12.50 免费办理" in lines
    assert "中文：政务服务，一窗受理。" in lines
    assert any(isinstance(i, QR) for i in decode(data))
    assert isinstance(list(decode(data))[-1], Cut)


def test_preview_png_renders_from_bytes(tmp_path) -> None:
    from PIL import Image

    out = render_png(render_ticket(TICKET, PrinterOptions(paper=58)), 384, tmp_path / "t.png")
    img = Image.open(out).convert("L")
    assert img.width == 384 + 48
    assert img.height > 600
    assert min(img.getdata()) == 0  # something black was drawn


@pytest.mark.parametrize(
    "url, expected",
    [
        ("tcp://10.0.0.5:9100", ("tcp", "10.0.0.5", 9100)),
        ("tcp://printer.local", ("tcp", "printer.local", 9100)),
        ("usb://0416:5011", ("usb", 0x0416, 0x5011)),
        ("serial:///dev/ttyUSB0?baudrate=19200", ("serial", "/dev/ttyUSB0", "19200")),
        ("file:///dev/usb/lp0", ("file", "/dev/usb/lp0")),
        ("sim://kiosk-01", ("sim", "kiosk-01")),
        ("sim://", ("sim", "default")),
    ],
)
def test_printer_urls_parse(url: str, expected: tuple) -> None:
    u = PrinterURL.parse(url)
    got = {
        "tcp": lambda: (u.scheme, u.host, u.port),
        "usb": lambda: (u.scheme, u.vendor_id, u.product_id),
        "serial": lambda: (u.scheme, u.path, u.params["baudrate"]),
        "file": lambda: (u.scheme, u.path),
        "sim": lambda: (u.scheme, u.host),
    }[u.scheme]()
    assert got == expected


@pytest.mark.parametrize("url", ["lpt://1", "tcp://", "usb://zz:11", "file://"])
def test_bad_printer_urls_are_config_errors(url: str) -> None:
    with pytest.raises(PrinterConfigError):
        PrinterURL.parse(url)


def test_options_from_toml_like_mapping() -> None:
    o = PrinterOptions.from_dict({"url": "sim://", "paper": "58", "chinese": "off",
                                  "encoding": "GBK", "cutter": "no", "qr": "image"})
    assert (o.paper, o.chinese, o.encoding, o.cutter, o.qr, o.dots) == (58, False, "gbk", False, "image", 384)
    with pytest.raises(PrinterConfigError):
        PrinterOptions.from_dict({"paper": 76})


@pytest.mark.parametrize(
    "answers, state",
    [
        ({1: 0x12, 2: 0x12, 4: 0x12}, "ok"),
        ({1: 0x12, 2: 0x12, 4: 0x1E}, "near_end"),
        ({1: 0x1A, 2: 0x32, 4: 0x72}, "paper_out"),
        ({1: 0x1A, 2: 0x16, 4: 0x12}, "cover_open"),
        ({1: 0x1A, 2: 0x12, 4: 0x12}, "offline"),
        ({1: 0x1A, 2: 0x52, 4: 0x12}, "error"),
        ({1: None}, "unknown"),
        ({1: 0x12, 2: 0x12, 4: None}, "unknown"),  # paper not answered: never "ok"
        ({1: 0xFF, 2: 0x00, 4: 0x01}, "unknown"),  # bytes without the fixed bits are noise
    ],
)
def test_dle_eot_answers_parse(answers: dict, state: str) -> None:
    assert parse_status(answers).state == state


@pytest.fixture
def tcp_printer():
    with SimulatedNetworkPrinter() as sim:
        yield sim


def test_network_printer_status_follows_the_simulated_printer(tcp_printer) -> None:
    p = open_printer(tcp_printer.url, paper=58, status_timeout=0.3)
    try:
        assert p.status().state == "ok"
        for change, state in [({"paper": "near_end"}, "near_end"), ({"paper": "out"}, "paper_out"),
                              ({"paper": "ok", "cover_open": True}, "cover_open"),
                              ({"cover_open": False, "offline": True}, "offline"),
                              ({"offline": False}, "ok")]:
            tcp_printer.set_state(**change)
            assert p.status().state == state
    finally:
        p.close()


def test_silent_printer_reads_unknown_within_the_timeout(tcp_printer) -> None:
    import time

    tcp_printer.set_state(silent=True)
    p = open_printer(tcp_printer.url, status_timeout=0.2)
    t0 = time.monotonic()
    status = p.status()
    p.close()
    assert status.state == "unknown" and not status.ok and status.can_print
    assert time.monotonic() - t0 < 1.0


def test_print_over_tcp_arrives_whole_and_paper_out_raises(tcp_printer) -> None:
    p = open_printer(tcp_printer.url, paper=80)
    p.print_ticket(TICKET)
    [receipt] = tcp_printer.wait_for_receipts(1)
    assert receipt.data == render_ticket(TICKET, PrinterOptions(paper=80))
    tcp_printer.set_state(paper="out")
    with pytest.raises(PaperOut):
        p.print_ticket(TICKET)
    tcp_printer.set_state(paper="ok", cover_open=True)
    with pytest.raises(CoverOpen) as info:
        p.print_ticket(TICKET)
    assert info.value.code == "cover_open" and "纸仓盖" in info.value.zh and str(info.value).startswith("cover_open")
    p.close()
    assert len(tcp_printer.receipts) == 1


def test_unreachable_printer_is_offline() -> None:
    from tests.support.common import free_port

    p = open_printer(f"tcp://127.0.0.1:{free_port()}", timeout=1)
    assert p.status().state == "offline"
    with pytest.raises(Offline):
        p.print_ticket(TICKET, check_status=False)


def test_sim_url_prints_into_the_named_simulator() -> None:
    sim = get_simulator("test-sim-url")
    sim.state.clear()
    p = open_printer("sim://test-sim-url", paper=58)
    p.print_ticket(TICKET)
    assert len(sim.receipts) == 1 and "A012" in text_lines(sim.receipts[0].data)
    sim.set_state(paper="out")
    assert p.status().state == "paper_out"
    sim.set_state(paper="ok")


def test_paper_running_out_mid_receipt_loses_that_receipt(tcp_printer) -> None:
    p = open_printer(tcp_printer.url, paper=58)
    tcp_printer.run_out_after(1)
    p.print_ticket(TICKET)
    p.print_ticket(TICKET)  # the roll ends during this one
    p.close()
    tcp_printer.state.wait_until(lambda s: len(s.receipts) + len(s.discarded) == 2)
    assert len(tcp_printer.receipts) == 1 and len(tcp_printer.discarded) == 1
    assert tcp_printer.state.status().state == "paper_out"


def test_hardware_test_print_command_prints_a_test_page() -> None:
    from hardware.cli import main

    sim = get_simulator("cli-test")
    sim.state.clear()
    result = CliRunner().invoke(main, ["printer", "test-print", "--printer", "sim://cli-test", "--paper", "58"])
    assert result.exit_code == 0, result.output
    assert "status: ok" in result.output
    assert "一窗通 打印测试页" in text_lines(sim.receipts[0].data)


def test_escpos_import_leaves_no_stray_temp_dir(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "TMPDIR": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("ESCPOS_CAPABILITIES_PICKLE_DIR", None)
    subprocess.run([sys.executable, "-c", "import hardware.printer"], check=True, env=env,
                   cwd=os.path.dirname(os.path.dirname(__file__)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_an_empty_capabilities_pickle_and_concurrent_imports_do_not_stop_a_start(tmp_path) -> None:
    # Seen here: two `serve --workers 2` children imported python-escpos at once, one read the
    # pickle the other had just truncated (EOFError), the server took the other down mid-write,
    # and the empty pickle then stopped every later start.
    import os
    import platform
    import subprocess
    import sys

    cache = tmp_path / "cache"
    pickle_dir = cache / "yichuang" / "escpos"
    pickle_dir.mkdir(parents=True)
    pickle_file = pickle_dir / f"{platform.python_version()}.capabilities.pickle"
    pickle_file.write_bytes(b"")
    os.utime(pickle_file, (2_000_000_000, 2_000_000_000))  # newer than the JSON: escpos would read it
    env = {**os.environ, "TMPDIR": str(tmp_path), "XDG_CACHE_HOME": str(cache)}
    env.pop("ESCPOS_CAPABILITIES_PICKLE_DIR", None)
    root = os.path.dirname(os.path.dirname(__file__))
    procs = [subprocess.Popen([sys.executable, "-c", "import hardware.printer"], env=env, cwd=root,
                              stderr=subprocess.PIPE) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    assert pickle_file.stat().st_size > 1000
    assert not list(pickle_dir.glob("escpos-import-*"))

@pytest.mark.parametrize("qr_mode", ["native", "image"])
def test_qr_in_the_preview_scans_back_to_the_progress_url(tmp_path, qr_mode: str) -> None:
    import cv2

    data = render_ticket(TICKET, PrinterOptions(paper=58, qr=qr_mode))
    png = render_png(data, 384, tmp_path / "t.png")
    from yichuang import qrimage

    payload = qrimage.decode(cv2.imread(str(png)))
    assert payload == TICKET.progress_url


def test_every_printer_command_is_documented() -> None:
    from pathlib import Path

    from hardware.cli import main

    doc = (Path(__file__).resolve().parent.parent / "docs" / "printing.md").read_text()
    group = main.commands["printer"]
    assert set(group.commands) == {"test-print", "status"}  # type: ignore[attr-defined]
    for name in group.commands:  # type: ignore[attr-defined]
        assert f"python -m hardware printer {name}" in doc


@pytest.mark.parametrize("change, state", [({}, "ok"), ({"paper": "near_end"}, "warning"),
                                           ({"paper": "out"}, "error"), ({"cover_open": True}, "error"),
                                           ({"silent": True}, "unknown"), ({"unreachable": True}, "error")])
def test_printer_health_record_follows_the_status(tcp_printer, change, state) -> None:
    from hardware.printer import health

    tcp_printer.set_state(**change)
    record = health(tcp_printer.url, status_timeout=0.3)
    assert (record.kind, record.name, record.state) == ("printer", tcp_printer.url, state)
    assert record.detail and record.checked_at > 0


def test_device_file_printer_gets_the_bytes_and_reports_unknown(tmp_path) -> None:
    dev = tmp_path / "lp0"
    p = open_printer(f"file://{dev}", paper=58)
    status = p.status()
    assert status.state == "unknown" and not status.ok
    p.print_ticket(TICKET)  # unknown is not a reason to refuse
    p.close()
    assert dev.read_bytes() == render_ticket(TICKET, PrinterOptions(paper=58))


def test_usb_printer_without_pyusb_is_a_clear_config_error() -> None:
    from hardware.printer._escpos import escpos_printer

    if escpos_printer.Usb.is_usable():
        pytest.skip("pyusb is installed here")
    p = open_printer("usb://0416:5011")
    status = p.status()
    assert status.state == "offline" and "pyusb" in status.detail
    with pytest.raises(PrinterConfigError):
        p.print_ticket(TICKET, check_status=False)


def test_serial_printer_on_a_pty_prints_and_reports_status() -> None:
    from hardware.printer._escpos import escpos_printer
    from hardware.printer.sim import SimulatedSerialPrinter

    if not escpos_printer.Serial.is_usable():
        pytest.skip("pyserial is not installed")
    with SimulatedSerialPrinter() as sim:
        p = open_printer(sim.url, paper=58, status_timeout=1.0)
        try:
            import time

            t0 = time.monotonic()
            assert p.status().state == "ok"
            assert time.monotonic() - t0 < 0.5  # answered: no waiting for the timeout
            p.print_ticket(TICKET)
            [receipt] = sim.wait_for_receipts(1)
            assert receipt.data == render_ticket(TICKET, PrinterOptions(paper=58))
            sim.set_state(paper="near_end")
            assert p.status().state == "near_end"
            sim.set_state(paper="out")
            with pytest.raises(PaperOut):
                p.print_ticket(TICKET)
            sim.set_state(paper="ok", silent=True)
            assert p.status().state == "unknown"
        finally:
            p.close()
