"""Per-day facts of closed business days, so a month of statistics need not read a month
of tickets (docs/admin.md, "Scale").

A closed day (earlier than today, none of its tickets still open) never changes again: the
engine only calls, starts, finishes or cancels tickets of the current business day, and
the day rollover only touches open tickets. For such a day :mod:`queue_server.admin.stats`
stores, once, one row of ``admin_stats_days`` in the hall file (archiving leaves it there):

* a column per ticket fact, as packed little-endian arrays (one entry per ticket of the
  day): service and category (indexes into the day's code lists), last window, last clerk
  (user id), hour of issue, status, transferred, calls, recalls, and the three times
  ``wait``, ``walk``, ``service`` (float64 as computed from the rows; NaN = none) — about
  50 bytes a ticket;
* each window's and each clerk's (user id) open and idle seconds of the day.

A range is then the concatenation of its days' columns (today and any day without a row
computed from the rows as before), grouped with numpy: counts are ``bincount``, medians and
90th percentiles are read from the values sorted per group — the same values, so the same
figures. Served-within-target is computed when asked (the targets are a setting), group
keys are mapped when asked (a clerk's 工号 can change), labels come from the catalogue.

What the stored figures do depend on is the row's ``basis``: the time zone (day bounds,
hour of issue) and every window's service list and kind (idle time); a row whose basis
differs from the hall's current one is ignored and made again.

This module packs, stores and groups; it does not read tickets (``stats`` builds the facts).
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlite_utils import Database

from queue_server.admin.columns import STATS_COLUMNS
from queue_server.db import write_tx

#: Bumped when what a row holds or how it is computed changes (old rows are then made again).
FORMAT = 1

#: Status codes of the ``status`` column (anything else — waiting, called, serving — is 0).
STATUS_CODES = {"done": 1, "no_show": 2, "cancelled": 3, "expired": 4}
OPEN, DONE, NO_SHOW, CANCELLED, EXPIRED = 0, 1, 2, 3, 4

#: The per-ticket columns: name → numpy dtype (explicitly little-endian).
COLUMNS = STATS_COLUMNS
NONE = -1  # win / clerk of a ticket never called


@dataclass
class DayFacts:
    """One business day's ticket facts (columns of equal length) and window time."""

    day: str
    services: list[str]
    categories: list[str]
    cols: dict[str, np.ndarray]
    #: window number (text) → (open seconds, idle seconds)
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: clerk user id (text; "" = nobody signed in) → (open seconds, idle seconds)
    clerks: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: the schemas (files) the day's tickets were read from; stored only when from one
    sources: frozenset[str] = frozenset()
    #: tickets read from the hall file itself (checked again when storing)
    from_main: int = 0
    #: no ticket still open (waiting, called, serving)
    settled: bool = True

    @property
    def n(self) -> int:
        return len(self.cols["status"])


def empty_columns() -> dict[str, np.ndarray]:
    return {k: np.zeros(0, dtype=v) for k, v in COLUMNS.items()}


def basis(tz: str, windows: dict[int, tuple[list[str], str]]) -> str:
    """What stored figures depend on besides the tickets: the time zone, every window's
    services (as a set) and kind, and :data:`FORMAT`."""
    spec = {"format": FORMAT, "tz": tz,
            "windows": sorted([n, sorted(str(s) for s in svc), kind] for n, (svc, kind) in windows.items())}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:24]


# --- storage ----------------------------------------------------------------------------------

_SELECT = ("SELECT day, tickets, services, categories, windows, clerks, "
           + ", ".join(f"c_{k}" for k in COLUMNS) + " FROM admin_stats_days ")


def _decode(row: Sequence[Any]) -> DayFacts:
    n = int(row[1])
    cols = {k: np.frombuffer(row[6 + i], dtype=dt, count=n) if n else np.zeros(0, dtype=dt)
            for i, (k, dt) in enumerate(COLUMNS.items())}
    return DayFacts(row[0], json.loads(row[2]), json.loads(row[3]), cols,
                    {k: (v[0], v[1]) for k, v in json.loads(row[4]).items()},
                    {k: (v[0], v[1]) for k, v in json.loads(row[5]).items()})


def read(conn: sqlite3.Connection, from_day: str, to_day: str, basis_: str) -> dict[str, DayFacts]:
    """The stored days of the range made on ``basis_``."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'admin_stats_days'").fetchone() is None:
        return {}
    return {r[0]: _decode(r) for r in conn.execute(
        _SELECT + "WHERE day >= ? AND day <= ? AND basis = ?", (from_day, to_day, basis_))}


def stored_days(conn: sqlite3.Connection, from_day: str, to_day: str, basis_: str) -> set[str]:
    return {r[0] for r in conn.execute("SELECT day FROM admin_stats_days WHERE day >= ? AND day <= ? AND basis = ?",
                                       (from_day, to_day, basis_))}


def storable(facts: DayFacts, today: str) -> bool:
    """A closed day read consistently: before today, nothing open, all from one file."""
    return facts.day < today and facts.settled and len(facts.sources) <= 1


#: Most tickets' facts written in one transaction (~100 KB: a day or two of a busy centre;
#: a bigger day alone), so the hall's writers — issuing, calling — wait a few ms at most.
STORE_BATCH = 2_000


def store(db: Database, facts: Iterable[DayFacts], basis_: str, *, timings: list[float] | None = None) -> int:
    """Write the days (replacing older rows of them), a few days per short transaction
    (:data:`STORE_BATCH`; each one's duration from BEGIN to before COMMIT, in seconds, is
    appended to ``timings``). A day whose tickets in the hall file changed since they were
    read (archiving moved some) is skipped: it is made again next time. Returns how many
    were written."""
    batches: list[list[DayFacts]] = [[]]
    size = 0
    for f in facts:
        if batches[-1] and size + f.n > STORE_BATCH:
            batches.append([])
            size = 0
        batches[-1].append(f)
        size += f.n
    written = 0
    for batch in batches:
        rows = [(f, [np.ascontiguousarray(f.cols[k], dtype=dt).tobytes() for k, dt in COLUMNS.items()],
                 json.dumps(f.services), json.dumps(f.categories), json.dumps(f.windows), json.dumps(f.clerks))
                for f in batch]
        if not rows:
            continue
        made_at = time.time()
        with write_tx(db) as conn:
            t0 = time.perf_counter()
            for f, cols, services, categories, windows, clerks in rows:
                now_main = conn.execute("SELECT COUNT(*) FROM main.tickets WHERE day = ?", (f.day,)).fetchone()[0]
                if now_main != f.from_main:
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO admin_stats_days (day, basis, made_at, tickets, services, categories, "
                    "windows, clerks, " + ", ".join(f"c_{k}" for k in COLUMNS) + ") VALUES ("
                    + ", ".join("?" * (8 + len(COLUMNS))) + ")",
                    (f.day, basis_, made_at, f.n, services, categories, windows, clerks, *cols))
                written += 1
            if timings is not None:
                timings.append(time.perf_counter() - t0)
    return written


# --- grouping ---------------------------------------------------------------------------------


@dataclass
class Combined:
    """Days' columns end to end, with service and category indexes into one list each."""

    services: list[str]
    categories: list[str]
    cols: dict[str, np.ndarray]
    days: list[str]
    day_index: np.ndarray  # per ticket: index into ``days``

    @property
    def n(self) -> int:
        return len(self.cols["status"])


def combine(days: Sequence[DayFacts]) -> Combined:
    services: dict[str, int] = {}
    categories: dict[str, int] = {}
    parts: dict[str, list[np.ndarray]] = {k: [] for k in COLUMNS}
    day_parts = []
    for i, d in enumerate(days):
        svc_map = np.array([services.setdefault(s, len(services)) for s in d.services] or [0], dtype="<u2")
        cat_map = np.array([categories.setdefault(c, len(categories)) for c in d.categories] or [0], dtype="<u2")
        for k in COLUMNS:
            col = d.cols[k]
            if k == "svc":
                col = svc_map[col]
            elif k == "cat":
                col = cat_map[col]
            parts[k].append(col)
        day_parts.append(np.full(d.n, i, dtype=np.int64))
    cols = {k: (np.concatenate(v) if v else np.zeros(0, dtype=COLUMNS[k])) for k, v in parts.items()}
    return Combined(list(services), list(categories), cols, [d.day for d in days],
                    np.concatenate(day_parts) if day_parts else np.zeros(0, dtype=np.int64))


def _median_p90(v: np.ndarray, lo: int, n: int) -> tuple[float | None, float | None]:
    """The same arithmetic as ``stats.median`` and ``stats.p90`` on values sorted ascending."""
    if n == 0:
        return None, None
    mid = n // 2
    med = float(v[lo + mid]) if n % 2 else (float(v[lo + mid - 1]) + float(v[lo + mid])) / 2.0
    return med, float(v[lo + max(1, math.ceil(0.9 * n)) - 1])


def _quantiles(gid: np.ndarray, k: int, values: np.ndarray) -> list[tuple[float | None, float | None]]:
    """Median and 90th percentile of ``values`` (NaN: none) per group: the values sorted,
    then ordered by group keeping that order (a radix sort of small group numbers)."""
    has = ~np.isnan(values)
    v = values[has]
    if k == 1:
        v = np.sort(v)
        return [_median_p90(v, 0, len(v))]
    g = gid[has]
    order = np.argsort(v)
    v, g = v[order], g[order]
    by_group = np.argsort(g.astype(np.uint16) if k <= 65536 else g, kind="stable")
    v = v[by_group]
    counts = np.bincount(g, minlength=k)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])) if k else np.zeros(0, dtype=np.int64)
    return [_median_p90(v, int(starts[i]), int(counts[i])) for i in range(k)]


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def figures(comb: Combined, gid: np.ndarray, k: int, target: np.ndarray) -> list[dict[str, Any]]:
    """Each group's ticket figures (``gid``: the group index of every ticket, ``0 ≤ gid < k``;
    ``target``: each ticket's target wait in seconds), as ``stats._counts`` gives them."""
    c = comb.cols
    status = c["status"]

    def count(mask: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(gid if mask is None else gid[mask], minlength=k)

    def total(col: np.ndarray) -> np.ndarray:
        return np.bincount(gid, weights=col.astype(np.float64), minlength=k) if len(gid) else np.zeros(k)

    has_wait = ~np.isnan(c["wait"])
    done = status == DONE
    judged = done & has_wait
    within = judged & (c["wait"] <= target)
    columns = {
        "issued": count(), "called": count(has_wait), "served": count(done), "no_show": count(status == NO_SHOW),
        "transferred": count(c["transferred"] != 0), "cancelled": count(status == CANCELLED),
        "expired": count(status == EXPIRED), "open": count(status == OPEN), "calls": total(c["calls"]),
        "recalls": total(c["recalls"]), "within": count(within), "judged": count(judged),
    }
    waits, walks, services = (_quantiles(gid, k, c[x]) for x in ("wait", "walk", "service"))
    out = []
    for i in range(k):
        n = {name: int(col[i]) for name, col in columns.items()}
        out.append({
            "issued": n["issued"], "called": n["called"], "served": n["served"], "no_show": n["no_show"],
            "transferred": n["transferred"], "cancelled": n["cancelled"], "expired": n["expired"],
            "open": n["open"], "calls": n["calls"], "recalls": n["recalls"],
            "wait_median_s": _round(waits[i][0]), "wait_p90_s": _round(waits[i][1]),
            "walk_median_s": _round(walks[i][0]), "walk_p90_s": _round(walks[i][1]),
            "service_median_s": _round(services[i][0]), "service_p90_s": _round(services[i][1]),
            "served_within_target": round(n["within"] / n["judged"], 4) if n["judged"] else None,
            "served_within_target_n": n["within"], "served_judged_n": n["judged"],
        })
    return out


def group_ids(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``keys`` and each ticket's index among them."""
    uniq, inv = np.unique(keys, return_inverse=True)
    return uniq, inv.astype(np.int64).reshape(-1)
