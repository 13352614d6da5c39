"""The QR scanner in virtual-serial mode, against the scanner simulator on a pty."""

from __future__ import annotations

import threading

import pytest

from hardware.scanner import MAX_SCAN, ScannerUnavailable, SerialScanner, health, split_scans
from hardware.scanner.sim import SimulatedScanner


def test_scans_arrive_as_lines_through_the_real_reader() -> None:
    seen: list[str] = []
    three = threading.Event()

    def on_scan(text: str) -> None:
        seen.append(text)
        if len(seen) == 3:
            three.set()

    with SimulatedScanner() as sim:
        reader = SerialScanner(sim.port, on_scan).start()
        try:
            sim.scan("YY123456")
            sim.scan("https://hall.example/t/7e5m6v4783")
            sim.scan("预约码 YY654321")  # hanzi payloads are UTF-8
            assert three.wait(5)
        finally:
            reader.close()
    assert seen == ["YY123456", "https://hall.example/t/7e5m6v4783", "预约码 YY654321"]


@pytest.mark.parametrize("terminator", [b"\r", b"\n"])
def test_a_scanner_set_to_a_bare_cr_or_lf_works_too(terminator: bytes) -> None:
    seen: list[str] = []
    got = threading.Event()

    def on_scan(text: str) -> None:
        seen.append(text)
        got.set()

    with SimulatedScanner(terminator) as sim:
        reader = SerialScanner(sim.port, on_scan).start()
        try:
            sim.scan("A012")
            assert got.wait(5)
        finally:
            reader.close()
    assert seen == ["A012"]


def test_split_scans_keeps_partial_lines_and_caps_the_length() -> None:
    buf = bytearray()
    assert split_scans(buf, b"YY12") == [] and bytes(buf) == b"YY12"
    assert split_scans(buf, b"3456\r\n\r\nA0") == ["YY123456"]
    assert split_scans(buf, b"12\n") == ["A012"]
    assert split_scans(buf, b"x" * (MAX_SCAN + 100) + b"\n") == ["x" * MAX_SCAN]


def test_a_missing_port_is_a_scanner_error_with_advice() -> None:
    with pytest.raises(ScannerUnavailable) as err:
        SerialScanner("/dev/no-such-scanner", print)
    assert err.value.code == "scanner_unavailable" and "扫码器" in err.value.zh and err.value.advice("zh")


def test_scanner_health_is_ok_when_the_port_opens() -> None:
    with SimulatedScanner() as sim:
        ok = health(sim.port)
    assert (ok.kind, ok.name, ok.state) == ("scanner", sim.port, "ok")
    bad = health("/dev/no-such-scanner")
    assert bad.state == "error" and "no-such-scanner" in bad.detail
    assert health("", mode="keyboard").state == "unknown"
