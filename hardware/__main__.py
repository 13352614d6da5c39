"""``python -m hardware``: device commands for technicians.

Examples::

    python -m hardware test-print --printer tcp://192.168.1.50:9100 --paper 58
    python -m hardware test-print --printer sim://            # simulated printer
    python -m hardware printer-status --printer usb://0416:5011

Other device kinds add their commands to :data:`main` (a click group) in their own module
and register it in ``_COMMAND_MODULES`` below.
"""

from __future__ import annotations

import importlib
import sys

import click


@click.group()
def main() -> None:
    """一窗通 device diagnostics (printer, card reader, camera, ...)."""


def _printer_options(f):  # type: ignore[no-untyped-def]
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


def _open(url: str, **options: object):  # type: ignore[no-untyped-def]
    from hardware.printer import PrinterError, PrinterOptions, open_printer

    try:
        return open_printer(url, PrinterOptions.from_dict(options))
    except PrinterError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("test-print")
@_printer_options
@click.option("--force", is_flag=True, help="print even if the status says it cannot")
def test_print(url: str, force: bool, **options: object) -> None:
    """Print a test page (Chinese text, ：，￥, a QR code, a cut).

    \b
    Example:
        python -m hardware test-print --printer tcp://192.168.1.50:9100 --paper 58
    """
    from hardware.printer import PrinterError

    printer = _open(url, **options)
    try:
        status = printer.status()
        click.echo(f"status: {status.state} ({status.label_zh} / {status.label_en})"
                   + (f" — {status.detail}" if status.detail else ""))
        printer.print_test_page(check_status=not force)
    except PrinterError as exc:
        raise click.ClickException(f"{exc.code}: {exc}") from exc
    finally:
        printer.close()
    click.echo("test page sent / 测试页已发送")


@main.command("printer-status")
@_printer_options
def printer_status(url: str, **options: object) -> None:
    """Ask a printer for its status (DLE EOT); silence is reported as unknown.

    \b
    Example:
        python -m hardware printer-status --printer tcp://192.168.1.50:9100
    """
    printer = _open(url, **options)
    try:
        status = printer.status()
    finally:
        printer.close()
    click.echo(f"{status.state}: {status.label_zh} / {status.label_en}"
               + (f" — {status.detail}" if status.detail else ""))
    sys.exit(0 if status.ok else 1)


#: Modules that add commands to ``main`` when imported (each does ``@main.command``).
_COMMAND_MODULES: tuple[str, ...] = ()

for _name in _COMMAND_MODULES:
    importlib.import_module(_name)


if __name__ == "__main__":
    main(prog_name="python -m hardware")
