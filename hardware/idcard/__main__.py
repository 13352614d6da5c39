"""Technician diagnostics for the ID-card reader.

Example::

    python -m hardware.idcard probe serial:///dev/ttyUSB0
    {"ok": true, "sam_ok": true, "sam_id": "0001…", "card_present": true, "card": {"name": "张*", ...}}

Prints one JSON line with masked card data only. Exit 0 when the reader answered, 2 when it
could not be opened or did not answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from . import IdCardError, open_reader_url


def probe(url: str, read: bool = True) -> dict[str, Any]:
    reader = open_reader_url(url)
    try:
        out: dict[str, Any] = {"ok": True, "url": url}
        sam_ok = getattr(reader, "sam_ok", None)
        if sam_ok is not None:
            out["sam_ok"] = bool(sam_ok())
            out["sam_id"] = reader.sam_id()  # type: ignore[attr-defined]
        out["card_present"] = reader.card_present()
        if read and out["card_present"]:
            card = reader.read_card()
            out["card"] = {
                "name": card.name_masked, "id": card.id_masked, "sex": card.sex, "nation": card.nation,
                "valid_to": card.valid_to.isoformat() if card.valid_to else "长期",
                "photo_wlt_bytes": len(card.photo_wlt), "photo_decoded": card.photo is not None,
            }
            card.wipe()
        return out
    finally:
        reader.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hardware.idcard", description="ID-card reader diagnostics (身份证阅读器检测).",
        epilog="example: python -m hardware.idcard probe serial:///dev/ttyUSB0?baudrate=115200",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("probe", help="SAM status and id, card present, masked card data",
                       epilog="example: python -m hardware.idcard probe 'sim://'")
    p.add_argument("url", help="reader URL: serial:///dev/ttyUSB0, sim://, termb:///…, sdt:///…")
    p.add_argument("--no-read", action="store_true", help="do not read the card, only find it")
    args = parser.parse_args(argv)
    try:
        out = probe(args.url, read=not args.no_read)
    except IdCardError as e:
        print(json.dumps({"ok": False, "code": e.code, "message": e.message_zh, "detail": e.detail},
                         ensure_ascii=False))
        return 2
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
