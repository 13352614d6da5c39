"""`queue-server printer ...` commands: the hall's receipt printers and their queue."""

from __future__ import annotations

import json
import time

import click

from queue_server.cliutil import DB_OPTION, fail
from queue_server.migrations import open_db


@click.group()
def printer() -> None:
    """Manage the hall's receipt printers."""


@printer.command("add")
@DB_OPTION
@click.argument("name")
@click.argument("url")
@click.option("--paper", type=click.Choice(["58", "80"]), default="80", show_default=True)
@click.option("--chinese/--no-chinese", default=True, show_default=True,
              help="The printer has a Chinese font (else text is sent as bitmaps).")
@click.option("--encoding", type=click.Choice(["gb18030", "gbk"]), default="gb18030", show_default=True)
@click.option("--cutter/--no-cutter", default=True, show_default=True)
@click.option("--qr", type=click.Choice(["native", "image"]), default="native", show_default=True)
@click.option("--profile", default="default", show_default=True, help="python-escpos profile.")
@click.option("--default", "make_default", is_flag=True, help="Tickets go here when no printer is named.")
@click.option("--replace", is_flag=True, help="Update the printer if it exists.")
def add(db_path: str, name: str, url: str, paper: str, chinese: bool, encoding: str, cutter: bool,
        qr: str, profile: str, make_default: bool, replace: bool) -> None:
    """Add a printer NAME at URL.

    \b
    Example:
        queue-server printer add --db var/hall.db lobby-1 tcp://10.0.0.31:9100 --paper 80 --default
        queue-server printer add --db var/hall.db counter-3 usb://0416:5011 --paper 58 --no-cutter
    """
    from queue_server.printing.jobs import add_printer

    options = {"paper": int(paper), "chinese": chinese, "encoding": encoding, "cutter": cutter,
               "qr": qr, "profile": profile}
    try:
        p = add_printer(open_db(db_path), name, url, options, default=make_default, replace=replace)
    except Exception as exc:
        fail(exc)
        return
    click.echo(f"printer {p['name']}: {p['url']} {p['options']['paper']} mm"
               + (" (default)" if p["default"] else ""))


@printer.command("list")
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(db_path: str, as_json: bool) -> None:
    """List printers with status and queue length.

    \b
    Example:
        queue-server printer list --db var/hall.db
    """
    from queue_server.printing.jobs import list_printers

    rows = list_printers(open_db(db_path))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no printers (queue-server printer add --db ... NAME URL)")
    for p in rows:
        pause = f"  PAUSED: {p['paused_reason']}" if p["paused"] else ""
        click.echo(f"{p['name']:<12} {p['url']:<32} {p['options']['paper']}mm  {p['status']:<10} "
                   f"queue {p['queue']}  failed {p['failed']}{' default' if p['default'] else ''}{pause}")


@printer.command("remove")
@DB_OPTION
@click.argument("name")
@click.option("--force", is_flag=True, help="Remove even with unfinished jobs (they are marked failed).")
def remove(db_path: str, name: str, force: bool) -> None:
    """Remove printer NAME.

    \b
    Example:
        queue-server printer remove --db var/hall.db lobby-1
    """
    from queue_server.printing.jobs import remove_printer

    try:
        failed = remove_printer(open_db(db_path), name, force=force)
    except Exception as exc:
        fail(exc)
        return
    click.echo(f"removed {name}" + (f" ({failed} unfinished jobs marked failed)" if failed else ""))


@printer.command("resume")
@DB_OPTION
@click.argument("name")
def resume(db_path: str, name: str) -> None:
    """Resume a paused printer now (it also resumes by itself when its status says ready).

    \b
    Example:
        queue-server printer resume --db var/hall.db lobby-1
    """
    from queue_server.printing.jobs import resume_printer

    try:
        resume_printer(open_db(db_path), name)
    except Exception as exc:
        fail(exc)
    click.echo(f"resumed {name}")


@printer.command("test-print")
@DB_OPTION
@click.argument("name")
@click.option("--queue", "via_queue", is_flag=True,
              help="Queue the test page for the server's worker instead of printing from here.")
@click.option("--wait", default=15.0, show_default=True, help="With --queue: seconds to wait for it.")
def test_print(db_path: str, name: str, via_queue: bool, wait: float) -> None:
    """Print a test page on printer NAME (Chinese text, ：，￥, a QR code, a cut).

    \b
    Example:
        queue-server printer test-print --db var/hall.db lobby-1
        queue-server printer test-print --db var/hall.db lobby-1 --queue   # through the running server
    """
    from hardware.printer import PrinterError, PrinterOptions, ReceiptPrinter
    from queue_server.printing.jobs import get_printer, queue_test_page

    db = open_db(db_path)
    try:
        p = get_printer(db, name)
    except Exception as exc:
        fail(exc)
        return
    if via_queue:
        job_id = queue_test_page(db, name)
        click.echo(f"queued test page as job {job_id}")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            state, error = db.conn.execute(
                "SELECT state, last_error FROM print_jobs WHERE id = ?", (job_id,)).fetchone()
            if state in ("done", "failed"):
                click.echo(f"job {job_id}: {state}" + (f" ({error})" if error else ""))
                if state == "failed":
                    raise SystemExit(1)
                return
            time.sleep(0.2)
        click.echo(f"job {job_id} still {state} ({error or 'is a server running?'})")
        raise SystemExit(1)
    rp = ReceiptPrinter(p["url"], PrinterOptions.from_dict(p["options"]))
    try:
        status = rp.status()
        click.echo(f"status: {status.state} ({status.label_zh} / {status.label_en})")
        rp.print_test_page()
    except PrinterError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rp.close()
    click.echo("test page sent / 测试页已发送")
