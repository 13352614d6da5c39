"""``queue-server licences ...``: the licence register and the token signing keys."""

from __future__ import annotations

import json
import sys
import time
from typing import IO

import click

from queue_server.cliutil import DB_OPTION, fail
from queue_server.migrations import open_db


@click.group()
def licences() -> None:
    """E-licences (电子证照): load, list, revoke; the keys that sign 亮证 tokens."""


@licences.command("load")
@DB_OPTION
@click.argument("file", type=click.File("r", encoding="utf-8"))
def load_cmd(db_path: str, file: IO[str]) -> None:
    """Load licences from FILE.json ({"licences": [...]}, see docs/licences.md). A bad row
    refuses the whole file, naming the row and the field; loading the same file again
    changes nothing, and a changed licence becomes a new version.

    \b
    Example:
        queue-server licences load --db var/hall.db licences.json
    """
    from queue_server.licences.register import load

    try:
        data = json.load(file)
    except ValueError as exc:
        raise click.ClickException(f"{file.name}: not JSON ({exc})") from exc
    try:
        result = load(open_db(db_path), data, actor="cli")
    except Exception as exc:
        fail(exc)
        return
    click.echo(f"{result['rows']} rows: {result['new']} new, {result['version']} new versions, "
               f"{result['unchanged']} unchanged")


@licences.command("list")
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=200, show_default=True, type=int)
def list_cmd(db_path: str, as_json: bool, limit: int) -> None:
    """List licences, newest first (numbers and holders masked).

    \b
    Example:
        queue-server licences list --db var/hall.db
    """
    from queue_server.licences.register import list_all
    from queue_server.licences.showing import today

    db = open_db(db_path)
    rows = list_all(db, today(db, time.time()), limit=limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo("no licences (queue-server licences load --db ... FILE.json)")
    for r in rows:
        click.echo(f"{r['id']:>5}  {r['status']:<10} {r['type_name']:<12} {r['number_masked']:<22} "
                   f"{r['holder_masked']:<12} v{r['version']:03d}  to {r['valid_to'] or '长期'}  {r['identifier']}")


@licences.command("revoke")
@DB_OPTION
@click.argument("licence")
@click.option("--reason", default="注销", show_default=True, help="Why (吊销/注销), at most 100 characters.")
def revoke_cmd(db_path: str, licence: str, reason: str) -> None:
    """Revoke LICENCE (its id or identifier): its QR tokens answer "revoked" from now on and
    printed copies' online checks say so.

    \b
    Example:
        queue-server licences revoke --db var/hall.db 12 --reason 吊销
    """
    from queue_server.licences.register import revoke

    try:
        r = revoke(open_db(db_path), licence, reason, actor="cli")
    except Exception as exc:
        fail(exc)
        return
    click.echo(f"revoked {r['id']} {r['identifier']}")


@licences.group("keys")
def keys_group() -> None:
    """The keys that sign e-licence tokens (private keys never leave the server)."""


@keys_group.command("rotate")
@DB_OPTION
@click.option("--alg", type=click.Choice(["ed25519", "sm2"]), default="ed25519", show_default=True,
              help="Ed25519, or SM2 with SM3 (国密; needs tongsuopy, extra 'gm').")
@click.option("--retire-after", default=86400, show_default=True, type=int,
              help="Seconds the previous key keeps verifying (0 = at once, e.g. after a leak).")
def rotate_cmd(db_path: str, alg: str, retire_after: int) -> None:
    """Make a new signing key current; the old one verifies until its not_after.

    \b
    Example:
        queue-server licences keys rotate --db var/hall.db
        queue-server licences keys rotate --db var/hall.db --alg sm2 --retire-after 300
    """
    from queue_server.licences.keys import rotate

    try:
        r = rotate(open_db(db_path), alg, retire_after=retire_after, actor="cli")
    except Exception as exc:
        fail(exc)
        return
    click.echo(f"new key {r['kid']} ({r['alg']})" + (f"; {r['retired']} verifies until "
               f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(r['not_after']))}" if r["retired"] else ""))


@keys_group.command("list")
@DB_OPTION
def keys_list_cmd(db_path: str) -> None:
    """List signing keys: kid, algorithm, current or retired (never a private key).

    \b
    Example:
        queue-server licences keys list --db var/hall.db
    """
    from queue_server.licences.keys import ensure_key, list_keys

    db = open_db(db_path)
    ensure_key(db, actor="cli")
    for k in list_keys(db):
        state = "current" if k["current"] else (
            f"retired, verifies until {time.strftime('%Y-%m-%d %H:%M', time.localtime(k['not_after']))}")
        click.echo(f"{k['kid']}  {k['alg']:<8} {state}")


@keys_group.command("export")
@DB_OPTION
def keys_export_cmd(db_path: str) -> None:
    """Print the public keys document (what GET /api/licences/keys answers) for offline
    verifiers: python -m queue_server.licences verify QR --keys keys.json.

    \b
    Example:
        queue-server licences keys export --db var/hall.db > keys.json
    """
    from queue_server.licences.keys import keys_document

    json.dump(keys_document(open_db(db_path)), sys.stdout, indent=1)
    click.echo("")


@licences.group("trust")
def trust_group() -> None:
    """The city's licence trust list: other halls' keys and revocations, from the city hub."""


@trust_group.command("list")
@DB_OPTION
def trust_list_cmd(db_path: str) -> None:
    """Show the trust list this hall applied last: its date and, per hall, how many keys
    and revoked handles it lists (JSON).

    \b
    Example:
        queue-server licences trust list --db var/hall.db
    """
    from queue_server.licences.trust import summary

    click.echo(json.dumps(summary(open_db(db_path)), ensure_ascii=False, indent=1))


@trust_group.command("export")
@DB_OPTION
def trust_export_cmd(db_path: str) -> None:
    """Print the trust list as the hub signed it, for offline verifiers:
    python -m queue_server.licences verify QR --keys trust.json [--hub-key KEY].

    \b
    Example:
        queue-server licences trust export --db var/hall.db > trust.json
    """
    from queue_server.uplink.manifests import current_manifest
    from yichuang.citylink import TRUST_LIST_KIND

    m = current_manifest(open_db(db_path), TRUST_LIST_KIND)
    if m is None:
        raise click.ClickException("no licence trust list yet (the uplink brings it from the city hub)")
    json.dump(m, sys.stdout, ensure_ascii=False, indent=1)
    click.echo("")
