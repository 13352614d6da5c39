"""The ``city-hub`` command line. Every command takes ``--dsn`` (env ``CITY_HUB_DSN``), a
libpq connection string of the hub's PostgreSQL database; those that sign take
``--key-file`` (env ``CITY_HUB_KEY_FILE``, default ``var/city-hub.key``)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from city_hub.store import DEFAULT_KEY_FILE

DSN_OPTION = click.option("--dsn", envvar="CITY_HUB_DSN", required=True,
                          help="PostgreSQL connection string, e.g. 'dbname=cityhub'. Env: CITY_HUB_DSN.")
KEY_OPTION = click.option("--key-file", envvar="CITY_HUB_KEY_FILE", default=DEFAULT_KEY_FILE, show_default=True,
                          type=click.Path(dir_okay=False),
                          help="The hub's Ed25519 signing key (made when missing). Env: CITY_HUB_KEY_FILE.")


def _conn(dsn: str) -> Any:
    from city_hub.store import connect

    try:
        return connect(dsn, migrate=True)
    except Exception as exc:
        raise click.ClickException(f"cannot open the hub database: {exc}") from exc


@click.group()
@click.version_option("0.1.0", prog_name="city-hub")
def main() -> None:
    """一窗通 city hub: every hall's events in PostgreSQL, signed manifests down to the halls.

    \b
    Example:
        city-hub migrate --dsn 'dbname=cityhub'
        city-hub hall add zhangqiu --name 章丘区政务服务中心 --dsn 'dbname=cityhub'
        city-hub serve --dsn 'dbname=cityhub' --port 8700
    """


@main.command()
@DSN_OPTION
def migrate(dsn: str) -> None:
    """Create the hub's schema or bring it up to date (serve does this at start-up too).

    \b
    Example:
        city-hub migrate --dsn 'host=/run/postgresql dbname=cityhub'
    """
    from city_hub.schema import applied

    conn = _conn(dsn)
    click.echo(f"hub database ready ({len(applied(conn))} migrations)")


@main.command()
@DSN_OPTION
@KEY_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=int)
@click.option("--threads", default=16, show_default=True, type=int)
@click.option("--province", "province_spec", default="var/province-outbox", show_default=True,
              help="Where 好差评 go: a folder (the default adapter) or an http(s):// URL.")
@click.option("--province-interval", default=30.0, show_default=True, type=float,
              help="Seconds between pushes to the province (0 = do not push).")
@click.option("--view-token", envvar="CITY_HUB_VIEW_TOKEN", default=None,
              help="When set, the page and /api/* need ?token= or a Bearer token. Env: CITY_HUB_VIEW_TOKEN.")
def serve(dsn: str, key_file: str, host: str, port: int, threads: int, province_spec: str,
          province_interval: float, view_token: str | None) -> None:
    """Run the hub (waitress, plain HTTP: put a TLS-terminating proxy in front, see README).

    \b
    Example:
        city-hub serve --dsn 'dbname=cityhub' --host 127.0.0.1 --port 8700
    """
    import waitress

    from city_hub.app import create_app
    from city_hub.province import Pusher, adapter_from

    app = create_app({"DSN": dsn, "KEY_FILE": key_file, "VIEW_TOKEN": view_token})
    if province_interval > 0:
        Pusher(dsn, adapter_from(province_spec), province_interval).start()
    click.echo(f"city-hub: http://{host}:{port}/ (hub key {app.config['HUB_PUBLIC_KEY']})", err=True)
    waitress.serve(app, host=host, port=port, threads=threads, ident="yichuang-city-hub", _quiet=True)


@main.group()
def hall() -> None:
    """Halls that send their events to this hub."""


@hall.command("add")
@DSN_OPTION
@KEY_OPTION
@click.argument("code")
@click.option("--name", default="", help="Shown on the city page, e.g. 章丘区政务服务中心.")
@click.option("--public-key", default=None, help="The hall's own Ed25519 public key (base64); "
              "without it a key pair is made and the private key printed once.")
@click.option("--hub-url", default="https://hub.example", show_default=True,
              help="The hub's address as halls reach it (printed into the hall's command).")
def hall_add(dsn: str, key_file: str, code: str, name: str, public_key: str | None, hub_url: str) -> None:
    """Register a hall; prints its credentials and the hub's public key, and the command
    that configures the hall's uplink.

    \b
    Example:
        city-hub hall add zhangqiu --name 章丘区政务服务中心 --hub-url https://hub.city.example --dsn 'dbname=cityhub'
    """
    from city_hub.store import HallExists, add_hall, load_or_create_key
    from yichuang import citylink

    hub_pub = citylink.public_of(load_or_create_key(key_file))
    try:
        made = add_hall(_conn(dsn), code, name, public_key)
    except (HallExists, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    out = {"hall": code, "hall_public_key": made["public_key"], "hall_private_key": made["private_key"],
           "hub_public_key": hub_pub, "hub_url": hub_url}
    click.echo(json.dumps(out, ensure_ascii=False, indent=1))
    key = made["private_key"] or "<the hall's private key>"
    insecure = " --insecure" if citylink.insecure_transport(hub_url) else ""
    click.echo(f"# on the hall server:\n# queue-server uplink configure --db HALL.db --hub {hub_url} --hall {code} "
               f"--hall-key {key} --hub-key {hub_pub}{insecure}", err=True)


@hall.command("list")
@DSN_OPTION
def hall_list(dsn: str) -> None:
    """Every hall with its cursor, last contact and audit flag, as JSON lines.

    \b
    Example:
        city-hub hall list --dsn 'dbname=cityhub'
    """
    from city_hub.views import halls

    for h in halls(_conn(dsn)):
        click.echo(json.dumps(h, ensure_ascii=False))


@hall.command("set-key")
@DSN_OPTION
@click.argument("code")
@click.argument("public_key")
def hall_set_key(dsn: str, code: str, public_key: str) -> None:
    """Replace a hall's public key (new server, leaked key).

    \b
    Example:
        city-hub hall set-key zhangqiu MCowBQYDK2VwAyEA... --dsn 'dbname=cityhub'
    """
    from city_hub.store import set_hall_key

    try:
        set_hall_key(_conn(dsn), code, public_key)
    except KeyError as exc:
        raise click.ClickException(f"no hall {code}") from exc
    except ValueError as exc:
        raise click.ClickException(f"not an Ed25519 public key: {exc}") from exc
    click.echo(f"hall {code}: key replaced")


@hall.command("clear-flag")
@DSN_OPTION
@click.argument("code")
def hall_clear_flag(dsn: str, code: str) -> None:
    """Clear a hall's audit flag after an inspection (the flag history stays).

    \b
    Example:
        city-hub hall clear-flag zhangqiu --dsn 'dbname=cityhub'
    """
    from city_hub.store import clear_flag

    if not clear_flag(_conn(dsn), code):
        raise click.ClickException(f"no hall {code}")
    click.echo(f"hall {code}: audit flag cleared")


@main.group()
def manifest() -> None:
    """Signed manifests for the halls (service catalogue, rule sets, trust lists, reasons)."""


@manifest.command("publish")
@DSN_OPTION
@KEY_OPTION
@click.argument("kind")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--version", "version", type=int, default=None, help="Default: the last version + 1.")
def manifest_publish(dsn: str, key_file: str, kind: str, file: Any, version: int | None) -> None:
    """Sign the JSON in FILE as the next version of KIND and publish it to every hall.

    \b
    Example:
        city-hub manifest publish service_catalogue catalogue.json --dsn 'dbname=cityhub'
    """
    from city_hub.manifests import publish
    from city_hub.store import load_or_create_key

    try:
        content = json.load(file)
    except ValueError as exc:
        raise click.ClickException(f"not valid JSON: {exc}") from exc
    try:
        m = publish(_conn(dsn), load_or_create_key(key_file), kind, content, version)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{m['kind']} v{m['version']} {m['content_hash']}")


@manifest.command("publish-trust-list")
@DSN_OPTION
@KEY_OPTION
def manifest_publish_trust_list(dsn: str, key_file: str) -> None:
    """Assemble the licence trust list (every hall's e-licence keys and revocations, as the
    halls last reported them) and publish it as the next version of licence_trust_list if
    it changed. The hub does this by itself after each change; this is the by-hand way.

    \b
    Example:
        city-hub manifest publish-trust-list --dsn 'dbname=cityhub'
    """
    from city_hub.store import load_or_create_key
    from city_hub.trust import KIND, publish_if_changed

    out = publish_if_changed(_conn(dsn), load_or_create_key(key_file))
    counts = f"{out['halls']} halls, {out['keys']} keys, {out['revoked']} revoked"
    if out["result"] == "empty":
        click.echo(f"{KIND}: no hall has reported licence keys yet; nothing published")
    elif out["result"] == "unchanged":
        click.echo(f"{KIND} v{out['version']} {out['content_hash']} unchanged ({counts})")
    else:
        click.echo(f"{KIND} v{out['version']} {out['content_hash']} published ({counts})")


@manifest.command("list")
@DSN_OPTION
def manifest_list(dsn: str) -> None:
    """The newest manifest of each kind, and what halls reported.

    \b
    Example:
        city-hub manifest list --dsn 'dbname=cityhub'
    """
    from city_hub.manifests import index, reports

    conn = _conn(dsn)
    for m in index(conn):
        click.echo(f"{m['kind']:24} v{m['version']:<5} {m['content_hash']}")
    for r in reports(conn):
        click.echo(f"  {r['hall']}: {r['kind']} v{r['version']} {r['result']} {r['reason']}")


@main.command("province-push")
@DSN_OPTION
@click.option("--to", "spec", default="var/province-outbox", show_default=True,
              help="A folder (default adapter) or an http(s):// URL.")
def province_push(dsn: str, spec: str) -> None:
    """Push due 好差评 to the provincial platform once (serve does it every 30 s).

    \b
    Example:
        city-hub province-push --to var/province-outbox --dsn 'dbname=cityhub'
    """
    from city_hub.province import adapter_from, push_due

    click.echo(json.dumps(push_due(_conn(dsn), adapter_from(spec))))


@main.command("quarantine")
@DSN_OPTION
@click.option("--limit", default=50, show_default=True, type=int)
def quarantine(dsn: str, limit: int) -> None:
    """List quarantined events (events the hub could not read), newest first.

    \b
    Example:
        city-hub quarantine --dsn 'dbname=cityhub'
    """
    conn = _conn(dsn)
    rows = conn.execute("SELECT hall, id, reason, raw FROM quarantine ORDER BY received_at DESC LIMIT %s",
                        (limit,)).fetchall()
    for hall_code, eid, reason, raw in rows:
        click.echo(json.dumps({"hall": hall_code, "id": eid, "reason": reason, "event": raw}, ensure_ascii=False))
    if not rows:
        click.echo("no quarantined events", err=True)


if __name__ == "__main__":
    sys.exit(main())
