"""What every ``queue-server`` command group shares: the ``--db`` option and one way to
turn an engine error into a plain message (Chinese / English, with the code)."""

from __future__ import annotations

from typing import NoReturn

import click

from yichuang.errors import AppError

DB_OPTION = click.option(
    "--db", "db_path", type=click.Path(dir_okay=False), envvar="YICHUANG_DB_PATH", required=True,
    help="Hall database file (created if missing). Env: YICHUANG_DB_PATH.",
)


def fail(exc: Exception) -> NoReturn:
    """Exit with the error's message (status 1) for a known error; re-raise anything else."""
    if isinstance(exc, AppError):
        raise click.ClickException(f"{exc.zh} / {exc.en} ({exc.code})") from exc
    raise exc
