"""``python -m hardware scanner``: QR scanner diagnostics (扫码器检测)."""

from __future__ import annotations

import sys
import threading
import time

import click

from hardware.scanner import ScannerUnavailable, SerialScanner


@click.group("scanner")
def scanner() -> None:
    """QR scanners in virtual-serial mode (扫码器): listen."""


@scanner.command("listen")
@click.argument("port")
@click.option("--baudrate", default=9600, show_default=True)
@click.option("--count", default=1, show_default=True, help="stop after this many scans")
@click.option("--timeout", default=30.0, show_default=True, help="give up after this many seconds")
def listen(port: str, baudrate: int, count: int, timeout: float) -> None:
    """Print each scan read on PORT, one per line (scan a QR code at the scanner). Exits 0
    after COUNT scans, 1 when the time ran out first, 2 when the port cannot be opened.

    \b
    Example:
        python -m hardware scanner listen /dev/ttyACM0 --count 3
    """
    got: list[str] = []
    done = threading.Event()

    def on_scan(text: str) -> None:
        got.append(text)
        click.echo(text)
        if len(got) >= count:
            done.set()

    try:
        reader = SerialScanner(port, on_scan, baudrate).start()
    except ScannerUnavailable as exc:
        click.echo(f"{exc.zh} / {exc.en}: {exc.detail}", err=True)
        sys.exit(2)
    deadline = time.monotonic() + timeout
    try:
        while not done.wait(0.1) and time.monotonic() < deadline:
            pass
    finally:
        reader.close()
    if len(got) < count:
        click.echo(f"{len(got)} of {count} scans in {timeout:g} s", err=True)
        sys.exit(1)
