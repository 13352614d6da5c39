"""Limits on phone ratings, so a progress page cannot be used to flood the hall's figures.

Every phone rating attempt counts, refused or not, per progress code and per client
address, in fixed one-hour windows (settings ``evaluations.phone_limit_per_code`` and
``evaluations.phone_limit_per_address``). The address is stored only as a keyed digest
(HMAC under the hall's key ring, :mod:`queue_server.idkey`, which is not in the database);
rows older than a day are dropped by archiving. Beyond a limit: 429 ``too_many_ratings``
with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.db import db_path, write_tx
from queue_server.errors import QueueError
from queue_server.idkey import key_ring
from queue_server.settings import get_setting

WINDOW_SECONDS = 3600


def address_digest(db: Database, address: str) -> str:
    ring = key_ring(db_path(db))
    mac = hmac.new(ring.keys[ring.current], b"rate-limit|" + address.encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()[:32]


def count_phone_attempt(db: Database, code: str, address: str, *, clock: clk.Clock | None = None) -> None:
    """Count one attempt for ``code`` and ``address``; 429 when either is over its limit."""
    now = clk.now(clock)
    start = now - now % WINDOW_SECONDS
    keys = ((f"code:{code[:32]}", int(get_setting(db, "evaluations.phone_limit_per_code"))),
            (f"addr:{address_digest(db, address or '-')}", int(get_setting(db, "evaluations.phone_limit_per_address"))))
    over = False
    with write_tx(db) as conn:
        for key, limit in keys:
            n = conn.execute(
                "INSERT INTO evaluation_rate_limits (key, window_start, n) VALUES (?, ?, 1) "
                "ON CONFLICT (key, window_start) DO UPDATE SET n = n + 1 RETURNING n", (key, start)).fetchone()[0]
            over = over or n > limit
    if over:
        raise QueueError("too_many_ratings", retry_after=max(1, math.ceil(start + WINDOW_SECONDS - now)))
