"""Recording ``stale`` without waiting for another device's heartbeat.

A heartbeat records the ``device.state_changed`` event of every device that went stale
(:func:`~queue_server.devices.store.sweep_stale`), but a hall whose only kiosk died sends no
other heartbeat. So ``queue-server serve`` also runs :class:`StaleSweeper`: one thread per
server process that looks every ``devices.stale_after_s`` / 3 seconds (1–30 s) for devices
past the limit and records them stale — with the moment each went stale, as a heartbeat
would.

Cheap and safe with several server processes: the look is one read of the small
``devices`` table; only when a device is due does the sweep take the write lock, and
inside it :func:`sweep_stale` reads again and records only devices not recorded yet, so
two processes sweeping at once record each device once.
"""

from __future__ import annotations

import logging
import os

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.background import BackgroundThread
from queue_server.db import connect, write_tx
from queue_server.devices.store import stale_after, sweep_stale

log = logging.getLogger(__name__)

#: Bounds of the time between two looks (seconds).
MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 30.0


def interval_for(stale_after_s: float) -> float:
    """Seconds between looks: a third of the stale limit, 1–30 s."""
    return min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, stale_after_s / 3))


def sweep(db: Database, now: float, stale_after_s: float | None = None) -> list[str]:
    """Record ``stale`` for every device past the limit at ``now`` (names recorded)."""
    limit = stale_after(db) if stale_after_s is None else stale_after_s
    due = db.conn.execute("SELECT 1 FROM devices WHERE stale_recorded IS NULL AND last_seen <= ? LIMIT 1",
                          (now - limit,)).fetchone()
    if due is None:
        return []
    with write_tx(db) as conn:
        return sweep_stale(conn, now, limit)


class StaleSweeper(BackgroundThread):
    """The thread (see the module doc); ``interval`` fixes the time between looks (tests)."""

    name = "devices-stale"

    def __init__(self, db_path: str | os.PathLike[str], clock: clk.Clock | None = None,
                 interval: float | None = None) -> None:
        super().__init__()
        self.db_path = str(db_path)
        self.clock = clock
        self.interval = interval

    def run(self) -> None:
        db = connect(self.db_path)
        try:
            while not self.stopping.is_set():
                wait = MAX_INTERVAL_S
                try:
                    limit = stale_after(db)
                    wait = interval_for(limit)
                    sweep(db, clk.now(self.clock), limit)
                except Exception:  # storage trouble: try again at the next look
                    log.exception("devices: stale sweep failed")
                self.stopping.wait(self.interval if self.interval is not None else wait)
        finally:
            db.conn.close()
