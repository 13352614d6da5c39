"""What every ``queue-server`` command group shares: the ``--db`` option and one way to
turn an engine error into a plain message (Chinese / English, with the code)."""

from __future__ import annotations

import sqlite3
from typing import Any, NoReturn

import click

from queue_server.storage import fault_code
from yichuang.errors import AppError, lookup


def db_option(*, required: bool = True,
              help_text: str = "Hall database file (created if missing). Env: YICHUANG_DB_PATH.") -> Any:
    """The ``--db`` option (``db_path``, env ``YICHUANG_DB_PATH``); optional only for a command
    that has something useful to do without a database (it then gets ``None``)."""
    return click.option("--db", "db_path", type=click.Path(dir_okay=False), envvar="YICHUANG_DB_PATH",
                        required=required, help=help_text)


#: ``--db`` as nearly every command takes it: required.
DB_OPTION = db_option()


def fail(exc: Exception) -> NoReturn:
    """Exit with the error's message (status 1) for a known error; re-raise anything else."""
    if isinstance(exc, AppError):
        raise click.ClickException(f"{exc.zh} / {exc.en} ({exc.code})") from exc
    raise exc


class Group(click.Group):
    """A click group whose commands answer a storage fault (read-only database, full disk,
    a lock held elsewhere) with one plain line and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except sqlite3.Error as exc:
            code = fault_code(exc)
            if code is None:
                raise
            spec = lookup(code)
            raise click.ClickException(f"{spec.zh} / {spec.en} ({code}: {exc}). {spec.advice_zh} {spec.advice_en}") \
                from exc
