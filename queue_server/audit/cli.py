"""``queue-server audit ...``: check the chain, list records."""

from __future__ import annotations

import json
import sys

import click

from queue_server.cliutil import DB_OPTION
from queue_server.migrations import open_db


@click.group()
def audit() -> None:
    """The append-only, hash-chained audit trail."""


@audit.command("verify")
@DB_OPTION
def verify_cmd(db_path: str) -> None:
    """Walk the chain; exit 1 naming the first row that does not match. Prints the chain
    head (id and hash) to anchor off this machine: whoever owns the file can drop the
    triggers and rewrite the whole chain, which only a head kept elsewhere reveals.

    \b
    Example:
        queue-server audit verify --db var/hall.db
    """
    from queue_server.audit.chain import verify

    result = verify(open_db(db_path))
    if result.ok:
        click.echo(f"audit chain ok: {result.rows} records; head {result.head.id} {result.head.hash}")
        return
    click.echo(f"audit chain BROKEN at record {result.bad_id}: {result.problem} "
               f"({result.rows} records before it check out; last good {result.head.id} {result.head.hash})",
               err=True)
    sys.exit(1)


@audit.command("list")
@DB_OPTION
@click.option("--kind", default=None, help="Only records of this kind, e.g. identity.checked.")
@click.option("--limit", default=20, show_default=True, type=int)
def list_cmd(db_path: str, kind: str | None, limit: int) -> None:
    """Print the newest records as JSON lines.

    \b
    Example:
        queue-server audit list --db var/hall.db --kind setting.changed
    """
    from queue_server.audit.chain import recent

    for rec in recent(open_db(db_path), kind=kind, limit=limit):
        click.echo(json.dumps(rec, ensure_ascii=False))
