"""``yichuang-kiosk doctor`` and ``yichuang-kiosk setup`` (click commands; ``kiosk/__main__.py``
hands these two words over, everything else still starts the kiosk)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kiosk.tech.doctor import SKIPPABLE, render, run_doctor

DEFAULT_CONFIG = "kiosk.toml"


@click.command("doctor")
@click.option("--config", "config_path", default=DEFAULT_CONFIG, show_default=True, metavar="PATH",
              help="the kiosk's TOML file")
@click.option("--json", "as_json", is_flag=True, help="print the checks as JSON (for scripts)")
@click.option("--test-print", is_flag=True, help="also print the printer's test page")
@click.option("--scan", "wait_scan", type=float, default=None, metavar="SECONDS",
              help="serial scanner: wait this long for one scan (hold a QR code to it)")
@click.option("--skip", multiple=True, type=click.Choice(SKIPPABLE), help="a check not to run (repeatable)")
@click.option("--no-face", is_flag=True, help="camera: skip the face-size check (no face models here)")
@click.option("--timeout", type=float, default=None, help="seconds per server request (default server.timeout)")
@click.option("--strict", is_flag=True, help="warnings fail too")
def doctor(config_path: str, as_json: bool, test_print: bool, wait_scan: float | None, skip: tuple[str, ...],
           no_face: bool, timeout: float | None, strict: bool) -> None:
    """Check this kiosk: the configuration (unknown keys, wrong types, missing files), the
    printer (DLE EOT status; --test-print), the card reader (SAM probe), the camera (a frame:
    size, brightness, a face of usable size — nothing saved), the scanner (--scan waits for
    one), audio output, and the queue server (reachable, token valid, clock). Each failure
    says what to do, in Chinese and English. Exit status 0 when nothing failed, 1 otherwise.
    Run it with the kiosk stopped: the doctor opens the devices itself.

    \b
    Example:
        yichuang-kiosk doctor --config /etc/yichuang/kiosk.toml
        yichuang-kiosk doctor --config kiosk.toml --test-print --json
    """
    progress = None if as_json else (lambda name: click.echo(f"… {name}", err=True))
    report = run_doctor(config_path, test_print=test_print, wait_scan=wait_scan, skip=skip,
                        face=not no_face, timeout=timeout, progress=progress)
    if as_json:
        click.echo(json.dumps(report.as_dict(strict), ensure_ascii=False, indent=1))
    else:
        click.echo(render(report, strict))
    sys.exit(0 if report.ok(strict) else 1)


@click.command("setup")
@click.option("--output", "-o", default=DEFAULT_CONFIG, show_default=True, help="the file to write")
@click.option("--force", is_flag=True, help="overwrite an existing file")
@click.option("--yes", "-y", "unattended", is_flag=True,
              help="ask nothing: every answer from the flags, devices not named are left out")
@click.option("--server-url", help="the queue server, e.g. http://192.168.1.10:8000")
@click.option("--token", help="this kiosk's token (queue-server token create --role kiosk --name NAME)")
@click.option("--name", help="kiosk.name (default: the token's name)")
@click.option("--hall-name", help="the hall's name on the home screen (default: the server's)")
@click.option("--printer", metavar="URL|auto|none", help="the receipt printer (auto: the first one found)")
@click.option("--printer-host", "printer_hosts", multiple=True, metavar="HOST[:PORT]",
              help="look for a network printer here (port 9100 unless given); repeatable")
@click.option("--paper", type=click.Choice(["58", "80"]), help="paper width in mm")
@click.option("--chinese/--no-chinese", default=None, help="the printer has a Chinese font")
@click.option("--cutter/--no-cutter", default=None, help="the printer has a cutter")
@click.option("--test-print/--no-test-print", default=None, help="print a test page")
@click.option("--idcard", metavar="URL|PORT|auto|none", help="the ID-card reader (auto: the first port that answers)")
@click.option("--read-card/--no-read-card", default=None, help="read a card to try the reader (shown masked)")
@click.option("--card-wait", type=float, default=20.0, show_default=True, help="seconds to wait for the card")
@click.option("--camera", metavar="SOURCE|auto|none", help="index, /dev/videoN, a video file or a folder")
@click.option("--show-frame/--no-show-frame", default=None, help="show a camera frame in the terminal")
@click.option("--ansi", is_flag=True, help="show the frame in grey blocks instead of characters")
@click.option("--scanner", metavar="PORT|keyboard|none", help="the QR scanner")
@click.option("--speech/--no-speech", default=None, help="spoken prompts in elder mode")
@click.option("--heartbeat", "heartbeat_s", type=float, default=None, help="[devices] heartbeat_s (seconds)")
@click.option("--doctor/--no-doctor", "run_doc", default=None, help="run the doctor on the new file")
@click.option("--serial-port", "serial_ports", multiple=True, metavar="PATH",
              help="a serial port to consider that sysfs does not list (repeatable)")
@click.option("--sysfs", default="/sys", hidden=True)
@click.option("--dev", default="/dev", hidden=True)
def setup(output: str, force: bool, unattended: bool, run_doc: bool | None, **answers: object) -> None:
    """Find what is attached (serial ports, USB printers with vendor and product id,
    cameras, a network printer at --printer-host), try each device (a test page, a card
    read, a camera frame shown here as a brightness check), and write a commented
    kiosk.toml; then run the doctor on it. Every question can be answered with a flag;
    --yes asks nothing.

    \b
    Example:
        yichuang-kiosk setup                               # asks, with what it found as defaults
        yichuang-kiosk setup --yes --server-url http://10.0.0.2:8000 --token T \\
            --printer-host 10.0.0.31 --printer auto --idcard auto --camera /dev/video0 -o kiosk.toml
    """
    from kiosk.tech.setup import Abort, Setup, SetupOptions

    opts = SetupOptions(output=output, force=force, unattended=unattended, **{  # type: ignore[arg-type]
        k: (list(v) if isinstance(v, tuple) else v) for k, v in answers.items()})
    if opts.paper is not None:
        opts.paper = int(opts.paper)
    try:
        path = Setup(opts).run()
    except Abort as exc:
        click.echo(f"setup: {exc}", err=True)
        sys.exit(2)
    if run_doc is None:
        run_doc = not unattended and click.confirm("现在运行自检？ Run the doctor on it now?", default=True)
    if run_doc:
        click.echo("")
        report = run_doctor(str(path))
        click.echo(render(report))
        sys.exit(0 if report.ok() else 1)


def run_command(name: str, args: list[str]) -> int:
    """Run ``doctor`` or ``setup`` with ``args``; returns the exit status."""
    command = {"doctor": doctor, "setup": setup}[name]
    prog = f"{Path(sys.argv[0]).name if sys.argv and sys.argv[0] else 'yichuang-kiosk'} {name}"
    if prog.startswith("__main__.py"):
        prog = f"python -m kiosk {name}"
    try:
        command.main(args=args, prog_name=prog, standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0
