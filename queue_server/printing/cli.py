"""`queue-server printer ...` commands."""

import click


@click.group()
def printer() -> None:
    """Manage the hall's receipt printers."""
