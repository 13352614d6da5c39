"""``queue-server devices ...``: the hall's kiosks and displays as their heartbeats show them."""

from __future__ import annotations

import json
import time

import click

from queue_server.cliutil import DB_OPTION, fail
from queue_server.migrations import open_db

#: Marks for states in the terminal.
MARK = {"ok": "✔", "warning": "⚠", "error": "✖", "unknown": "?", "stale": "…"}


def _when(ts: float | None) -> str:
    return "—" if not ts else time.strftime("%m-%d %H:%M:%S", time.localtime(ts))


@click.group()
def devices() -> None:
    """Kiosks and displays: state, history, test actions."""


@devices.command("list")
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print GET /api/devices's JSON.")
def list_(db_path: str, as_json: bool) -> None:
    """Every kiosk and display with its state (stale after devices.stale_after_s) and components.

    \b
    Example:
        queue-server devices list --db var/hall.db
        ✖ kiosk    kiosk-03  error    10:02:03  printer tcp://10.0.0.31:9100: 缺纸 / out of paper
    """
    from queue_server.devices.store import list_devices, stale_after

    db = open_db(db_path)
    rows = list_devices(db, now=time.time(), stale_after_s=stale_after(db), full=not as_json)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo("no devices yet (kiosks and displays appear with their first heartbeat)")
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        click.echo(f"{MARK[r['state']]} {r['kind']:8} {r['name']:{width}}  {r['state']:8} "
                   f"{_when(r['last_seen'])}  {r['detail']}")


@devices.command("show")
@DB_OPTION
@click.argument("name")
@click.option("--history", "history_limit", default=20, show_default=True, help="History rows to show.")
def show(db_path: str, name: str, history_limit: int) -> None:
    """One device as JSON: components, last error, history, actions.

    \b
    Example:
        queue-server devices show --db var/hall.db kiosk-03
    """
    from queue_server.devices.store import action_timeout, get_device, stale_after

    db = open_db(db_path)
    try:
        d = get_device(db, name, now=time.time(), stale_after_s=stale_after(db),
                       action_timeout_s=action_timeout(db), history_limit=history_limit)
    except Exception as exc:
        fail(exc)
        return
    click.echo(json.dumps(d, ensure_ascii=False, indent=1))


@devices.command("action")
@DB_OPTION
@click.argument("name")
@click.argument("action", type=click.Choice(["test_print", "probe_idcard", "reload_config"]))
@click.option("--wait", default=0.0, show_default=True,
              help="Seconds to wait for the device's result (it acts at its next heartbeat).")
def action(db_path: str, name: str, action: str, wait: float) -> None:
    """Queue a test action for device NAME; it is carried out at the device's next heartbeat.

    \b
    Example:
        queue-server devices action --db var/hall.db kiosk-03 test_print --wait 40
    """
    from queue_server.devices.actions import get_action, queue_action
    from queue_server.devices.store import action_timeout

    db = open_db(db_path)
    timeout = action_timeout(db)
    try:
        a = queue_action(db, name, action, actor="cli", now=time.time(), timeout=timeout)
    except Exception as exc:
        fail(exc)
        return
    click.echo(f"queued {action} for {name} as action {a['id']}")
    deadline = time.monotonic() + wait
    while wait and time.monotonic() < deadline:
        a = get_action(db, name, a["id"], now=time.time(), timeout=timeout)
        if a["status"] in ("done", "failed", "expired"):
            break
        time.sleep(0.5)
    if wait:
        click.echo(f"action {a['id']}: {a['status']}" + (f" — {a['result']}" if a["result"] else ""))
        if a["status"] != "done":
            raise SystemExit(1)


@devices.command("remove")
@DB_OPTION
@click.argument("name")
def remove(db_path: str, name: str) -> None:
    """Forget a retired kiosk or display (its history stays; audited).

    \b
    Example:
        queue-server devices remove --db var/hall.db kiosk-old
    """
    from queue_server.devices.store import remove_device

    try:
        remove_device(open_db(db_path), name, actor="cli", now=time.time())
    except Exception as exc:
        fail(exc)
        return
    click.echo(f"removed {name}")
