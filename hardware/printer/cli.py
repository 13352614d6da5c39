"""``python -m hardware printer``: test prints and status of a receipt printer."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from hardware.printer import PrinterError, PrinterOptions, ReceiptPrinter, open_printer


def printer_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options every printer command takes: the URL and the driver options."""
    for opt in reversed([
        click.option("--printer", "url", required=True,
                     help="tcp://host:9100, usb://VID:PID, serial:///dev/ttyUSB0?baudrate=19200, "
                          "file:///dev/usb/lp0 or sim://"),
        click.option("--paper", type=click.Choice(["58", "80"]), default="80", show_default=True),
        click.option("--chinese/--no-chinese", default=True, show_default=True,
                     help="printer has a Chinese font (else text is sent as bitmaps)"),
        click.option("--encoding", type=click.Choice(["gb18030", "gbk"]), default="gb18030",
                     show_default=True),
        click.option("--cutter/--no-cutter", default=True, show_default=True),
        click.option("--qr", type=click.Choice(["native", "image"]), default="native",
                     show_default=True),
        click.option("--profile", default="default", show_default=True,
                     help="python-escpos capability profile"),
    ]):
        f = opt(f)
    return f


def _open(url: str, **options: object) -> ReceiptPrinter:
    try:
        return open_printer(url, PrinterOptions.from_dict(options))
    except PrinterError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("printer")
def printer() -> None:
    """Receipt printers (热敏小票打印机): test page, status."""


@printer.command("test-print")
@printer_options
@click.option("--force", is_flag=True, help="print even if the status says it cannot")
def test_print(url: str, force: bool, **options: object) -> None:
    """Print a test page (Chinese text, ：，￥, a QR code, a cut).

    \b
    Example:
        python -m hardware printer test-print --printer tcp://192.168.1.50:9100 --paper 58
    """
    p = _open(url, **options)
    try:
        status = p.status()
        click.echo(f"status: {status.state} ({status.label_zh} / {status.label_en})"
                   + (f" — {status.detail}" if status.detail else ""))
        p.print_test_page(check_status=not force)
    except PrinterError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        p.close()
    click.echo("test page sent / 测试页已发送")


@printer.command("status")
@printer_options
def status(url: str, **options: object) -> None:
    """Ask a printer for its status (DLE EOT); silence is reported as unknown. Exits 0 only
    when the printer is ready (or near end).

    \b
    Example:
        python -m hardware printer status --printer tcp://192.168.1.50:9100
    """
    p = _open(url, **options)
    try:
        st = p.status()
    finally:
        p.close()
    click.echo(f"{st.state}: {st.label_zh} / {st.label_en}" + (f" — {st.detail}" if st.detail else ""))
    sys.exit(0 if st.ok else 1)
