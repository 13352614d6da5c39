"""Wait estimate: people ahead × recent median service time ÷ open windows (DESIGN §4).

"People ahead" (前面还有 N 人) is a simulated run of the calling order across every
service that shares the ticket's windows (:mod:`queue_server.queue.ahead`); the estimate
divides it by the windows that call those tickets. The median service time and the
number of open windows per service are cached per process for :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import math
import sqlite3
import statistics
import threading
import time

from queue_server.queue.common import load_windows

CACHE_SECONDS = 30.0
#: Finished tickets the median is taken over, and the fewest that override the prior.
SAMPLE_SIZE = 30
MIN_SAMPLES = 5

_lock = threading.Lock()
_median_cache: dict[tuple[str, str, str], tuple[float, float]] = {}
_windows_cache: dict[str, tuple[float, dict[str, int]]] = {}


def clear_cache() -> None:
    with _lock:
        _median_cache.clear()
        _windows_cache.clear()


def median_service_minutes(conn: sqlite3.Connection, key: str, day: str, service: str) -> float:
    """Median of today's recent service times of ``service``; the service's prior if few."""
    now = time.monotonic()
    ck = (key, day, service)
    with _lock:
        hit = _median_cache.get(ck)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    rows = conn.execute(
        "SELECT finished_at - started_at FROM tickets WHERE day = ? AND status = 'done' "
        "AND service_code = ? AND started_at IS NOT NULL ORDER BY finished_at DESC LIMIT ?",
        (day, service, SAMPLE_SIZE),
    ).fetchall()
    samples = [r[0] / 60.0 for r in rows if r[0] is not None and r[0] >= 0]
    if len(samples) >= MIN_SAMPLES:
        value = float(statistics.median(samples))
    else:
        prior = conn.execute("SELECT avg_minutes FROM services WHERE code = ?", (service,)).fetchone()
        value = float(prior[0]) if prior else 8.0
    with _lock:
        _median_cache[ck] = (now, value)
    return value


def serving_windows(conn: sqlite3.Connection, key: str, service: str) -> int:
    """Open windows that serve ``service`` (all windows that serve it when none is open)."""
    now = time.monotonic()
    with _lock:
        hit = _windows_cache.get(key)
    if hit is None or now - hit[0] >= CACHE_SECONDS / 10:
        open_counts: dict[str, int] = {}
        all_counts: dict[str, int] = {}
        universal_open = universal_all = 0
        for w in load_windows(conn):
            if w.kind == "green" and not w.services:
                continue
            if w.universal:
                universal_all += 1
                universal_open += w.status == "open"
                continue
            for code in w.services:
                all_counts[code] = all_counts.get(code, 0) + 1
                if w.status == "open":
                    open_counts[code] = open_counts.get(code, 0) + 1
        merged = {f"open:{k}": v for k, v in open_counts.items()}
        merged.update({f"all:{k}": v for k, v in all_counts.items()})
        merged["open:*"] = universal_open
        merged["all:*"] = universal_all
        hit = (now, merged)
        with _lock:
            _windows_cache[key] = hit
    counts = hit[1]
    n_open = counts.get(f"open:{service}", 0) + counts.get("open:*", 0)
    if n_open:
        return n_open
    return max(1, counts.get(f"all:{service}", 0) + counts.get("all:*", 0))


def estimate_minutes(conn: sqlite3.Connection, key: str, day: str, service: str, ahead: int,
                     windows: int | None = None) -> int:
    """Minutes until the ticket is likely called, rounded up; 0 with nobody ahead.

    ``ahead`` is 前面还有 N 人 (:mod:`queue_server.queue.ahead`) and ``windows`` the number
    of windows that call those N in the simulated run; without it, the windows serving
    the service."""
    if ahead <= 0:
        return 0
    per_ticket = median_service_minutes(conn, key, day, service)
    return int(math.ceil(ahead * per_ticket / (windows or serving_windows(conn, key, service))))
