"""``python -m hardware idcard``: ID-card reader diagnostics (身份证阅读器检测)."""

from __future__ import annotations

import json
import sys

import click

from hardware.idcard.errors import IdCardError
from hardware.idcard.probe import probe as probe_reader


@click.group("idcard")
def idcard() -> None:
    """ID-card readers (身份证阅读器): probe."""


@idcard.command("probe")
@click.argument("url")
@click.option("--no-read", is_flag=True, help="do not read the card, only look for it")
def probe(url: str, no_read: bool) -> None:
    """SAM status and id, card present, the card's data masked — as one JSON line. Exits 0
    when the reader answered, 2 when it could not be opened or did not answer.

    URL: serial:///dev/ttyUSB0?baudrate=115200, sim://?card=true, termb:///…, sdt:///…

    \b
    Example:
        python -m hardware idcard probe serial:///dev/ttyUSB0
        {"ok": true, "sam_ok": true, "sam_id": "0001…", "card_present": true, "card": {"name": "张*", …}}
    """
    try:
        out = probe_reader(url, read=not no_read)
    except IdCardError as e:
        click.echo(json.dumps({"ok": False, "code": e.code, "message": e.zh, "message_en": e.en,
                               "detail": e.detail}, ensure_ascii=False))
        sys.exit(2)
    click.echo(json.dumps(out, ensure_ascii=False))
