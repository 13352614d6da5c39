"""``python -m hardware``: the technician's command for every device kind.

Examples::

    python -m hardware health --config kiosk.toml               # every configured device
    python -m hardware health --printer tcp://192.168.1.50:9100 --idcard serial:///dev/ttyUSB0
    python -m hardware printer test-print --printer tcp://192.168.1.50:9100 --paper 58
    python -m hardware printer status --printer usb://0416:5011
    python -m hardware idcard probe serial:///dev/ttyUSB0
    python -m hardware camera probe /dev/video0
    python -m hardware scanner listen /dev/ttyACM0
    python -m hardware voice check --dir assets/voice/clips

Each device package has its own command group in its ``cli.py``; this module adds them and
the ``health`` command.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import click

from hardware.camera.cli import camera
from hardware.checkup import Devices, check_devices, devices_from_config
from hardware.idcard.cli import idcard
from hardware.printer.cli import printer
from hardware.scanner.cli import scanner
from hardware.voice.cli import voice


@click.group()
def main() -> None:
    """一窗通 device diagnostics: printers, ID-card readers, cameras, QR scanners, voice clips."""


for _group in (printer, idcard, camera, scanner, voice):
    main.add_command(_group)


@main.command()
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a kiosk's TOML file: its [printer], [idcard], [camera], [scanner] devices")
@click.option("--printer", "printer_url", help="printer URL (tcp://…, usb://…, serial://…, sim://)")
@click.option("--idcard", "idcard_url", help="ID-card reader URL (serial:///dev/ttyUSB0, sim://, …)")
@click.option("--camera", "camera_source", help="camera: index, /dev/videoN, video file or folder")
@click.option("--scanner", "scanner_port", help="QR scanner serial port (virtual-serial mode)")
@click.option("--voice", "voice_dir", type=click.Path(file_okay=False, path_type=Path),
              help="voice clip folder (default: $YICHUANG_VOICE_DIR or assets/voice/clips)")
@click.option("--json", "as_json", is_flag=True, help="a JSON array of the records instead of a table")
def health(config_path: Path | None, printer_url: str | None, idcard_url: str | None,
           camera_source: str | None, scanner_port: str | None, voice_dir: Path | None,
           as_json: bool) -> None:
    """Print every configured device's health record: kind, name, state (ok / warning /
    error / unknown), detail, checked_at. Addresses given as options are added to (or
    replace) the configuration's. Exits 1 when a device is in error.

    \b
    Example:
        python -m hardware health --config kiosk.toml
        printer  tcp://192.168.1.50:9100  warning  纸将用完 / paper near end
        idcard   serial:///dev/ttyUSB0    ok       SAM 0001…, no card
        voice    assets/voice/clips       ok       all 44 clips present and readable
    """
    devices = Devices()
    if config_path is not None:
        try:
            devices = devices_from_config(tomllib.loads(config_path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise click.ClickException(f"{config_path}: {exc}") from exc
    if printer_url:
        devices.printer = printer_url
    if idcard_url:
        devices.idcard = idcard_url
    if camera_source:
        devices.camera = {"source": camera_source}
    if scanner_port:
        devices.scanner, devices.scanner_mode = scanner_port, "serial"
    if voice_dir:
        devices.voice = str(voice_dir)
    records = check_devices(devices)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in records], ensure_ascii=False, indent=1))
    else:
        width = max(len(r.name) for r in records)
        for r in records:
            click.echo(f"{r.kind:8} {r.name:{width}}  {r.state:8} {r.detail}")
    sys.exit(1 if any(r.state == "error" for r in records) else 0)
