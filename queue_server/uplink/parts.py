"""Optional parts of a batch that capabilities add beside the events and the figures.

A part is a name of :data:`yichuang.citylink.BATCH_PARTS` and a function ``(db, now) ->
JSON value`` that the worker calls for every batch; the value travels in the signed body
under that name (a hub that does not know the part ignores it). The licences capability
adds ``licence_trust`` — its public token keys and the presentation handles whose licence
is no longer valid — from its ``schema.py``::

    from queue_server.uplink.parts import batch_part

    @batch_part("licence_trust")
    def _licence_trust(db, now):
        ...

A part that fails is left out of that batch and logged: it never stops the uplink.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from yichuang import citylink

log = logging.getLogger("queue_server.uplink")

BatchPart = Callable[[Database, float], Any]
#: name → the function that makes the part.
PARTS: dict[str, BatchPart] = {}


def batch_part(name: str) -> Callable[[BatchPart], BatchPart]:
    """Decorator: add a capability's part to every batch (``name`` must be one the wire
    format knows: :data:`yichuang.citylink.BATCH_PARTS`)."""
    if name not in citylink.BATCH_PARTS:
        raise ValueError(f"{name} is not a batch part of the wire format ({', '.join(citylink.BATCH_PARTS)})")

    def register(fn: BatchPart) -> BatchPart:
        PARTS[name] = fn
        return fn

    return register


def collect(db: Database, now: float) -> dict[str, Any]:
    """Every registered part for the next batch (a failing one is left out and logged)."""
    out: dict[str, Any] = {}
    for name, fn in PARTS.items():
        try:
            out[name] = fn(db, now)
        except Exception:  # a capability's part must never stop the uplink
            log.exception("uplink: batch part %s failed; sent without it", name)
    return out
