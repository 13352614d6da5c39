"""``queue-server uplink …``: connect this hall to a city hub, see how the link is doing."""

from __future__ import annotations

import json
import time

import click

from queue_server.cliutil import DB_OPTION, fail
from queue_server.migrations import open_db


@click.group()
def uplink() -> None:
    """The hall's link to the city hub (events up, signed manifests down)."""


@uplink.command("configure")
@DB_OPTION
@click.option("--hub", "hub_url", required=True, help="The hub's address, e.g. https://hub.city.example.")
@click.option("--hall", "hall_code", required=True, help="This hall's code at the hub (city-hub hall add).")
@click.option("--hall-key", required=True, help="This hall's Ed25519 private key (base64), as printed by "
              "city-hub hall add.")
@click.option("--hub-key", required=True, help="The hub's Ed25519 public key (base64): manifests must be "
              "signed with it.")
@click.option("--insecure", is_flag=True, help="Accept a plain http:// hub address that is not on this "
              "machine (batches stay signed, but anyone on the way can read them; use https://).")
def configure(db_path: str, hub_url: str, hall_code: str, hall_key: str, hub_key: str, insecure: bool) -> None:
    """Connect this hall to a city hub; the running server starts pushing within seconds.
    The hub's address is https://, or http:// only to this machine (127.0.0.1, ::1,
    localhost) unless --insecure is given.

    \b
    Example:
        queue-server uplink configure --db var/hall.db --hub https://hub.city.example \\
            --hall zhangqiu --hall-key <private key> --hub-key <hub public key>
    """
    from queue_server.uplink.setup import configure as do_configure

    try:
        info = do_configure(open_db(db_path), hub_url, hall_code, hall_key, hub_key, insecure=insecure)
    except Exception as exc:
        fail(exc)
    click.echo(json.dumps(info, ensure_ascii=False))


@uplink.command("status")
@DB_OPTION
def status(db_path: str) -> None:
    """Print the link's state as JSON: hub, cursor, backlog, last success and error, manifests.

    \b
    Example:
        queue-server uplink status --db var/hall.db
    """
    from queue_server.uplink.setup import status as get_status

    click.echo(json.dumps(get_status(open_db(db_path), time.time()), ensure_ascii=False, indent=1))


@uplink.command("push")
@DB_OPTION
def push(db_path: str) -> None:
    """Send one batch and look for manifests now (the server does this by itself).

    \b
    Example:
        queue-server uplink push --db var/hall.db
    """
    from queue_server.uplink.worker import HubError, pull_manifests, push_once

    db = open_db(db_path)
    try:
        result = push_once(db)
        result["manifests"] = pull_manifests(db)
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:
        fail(exc)
    click.echo(json.dumps(result, ensure_ascii=False))


@uplink.command("disable")
@DB_OPTION
def disable(db_path: str) -> None:
    """Stop pushing (archiving still holds the events the hub has not acknowledged).

    \b
    Example:
        queue-server uplink disable --db var/hall.db
    """
    from queue_server.uplink.setup import set_enabled

    try:
        set_enabled(open_db(db_path), False)
    except Exception as exc:
        fail(exc)
    click.echo("uplink disabled")
