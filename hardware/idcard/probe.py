"""Technician diagnostics of an ID-card reader: a probe (``python -m hardware idcard probe``)
and the device health record (``python -m hardware health``). Card data leaves masked only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hardware.health import DeviceHealth

from .drivers import open_reader, open_reader_url
from .errors import IdCardError
from .reader import IdCardReader


def _open(reader: str | Mapping[str, Any]) -> IdCardReader:
    return open_reader_url(reader) if isinstance(reader, str) else open_reader(reader)


def _name(reader: str | Mapping[str, Any]) -> str:
    if isinstance(reader, str):
        return reader
    return str(reader.get("url") or f"{reader.get('driver', 'sam')}:{reader.get('port', '')}")


def probe(reader: str | Mapping[str, Any], read: bool = True) -> dict[str, Any]:
    """SAM status and id (SAM readers), whether a card is present and — with ``read`` — the
    card's data, masked. Raises :class:`IdCardError` when the reader cannot be opened or
    does not answer."""
    device = _open(reader)
    try:
        out: dict[str, Any] = {"ok": True, "url": _name(reader)}
        sam_ok = getattr(device, "sam_ok", None)
        if sam_ok is not None:
            out["sam_ok"] = bool(sam_ok())
            out["sam_id"] = device.sam_id()  # type: ignore[attr-defined]
        out["card_present"] = device.card_present()
        if read and out["card_present"]:
            card = device.read_card()
            out["card"] = {
                "name": card.name_masked, "id": card.id_masked, "sex": card.sex, "nation": card.nation,
                "valid_to": card.valid_to.isoformat() if card.valid_to else "长期",
                "photo_wlt_bytes": len(card.photo_wlt), "photo_decoded": card.photo is not None,
            }
            card.wipe()
        return out
    finally:
        device.close()


def health(reader: str | Mapping[str, Any]) -> DeviceHealth:
    """The reader's health record: it opens, its SAM module answers "ok" (SAM readers) and it
    can look for a card (``ok``); a SAM fault, no answer or no port is an ``error``. No card
    is read."""
    name = _name(reader)
    try:
        out = probe(reader, read=False)
    except IdCardError as exc:
        return DeviceHealth("idcard", name, "error", f"{exc.zh} / {exc.en}: {exc.detail}")
    if out.get("sam_ok") is False:
        return DeviceHealth("idcard", name, "error", "SAM module reports a fault (SW3 != 90)")
    sam = f"SAM {out['sam_id']}, " if out.get("sam_id") else ""
    card = "a card on the reader" if out["card_present"] else "no card"
    return DeviceHealth("idcard", name, "ok", f"{sam}{card}")
