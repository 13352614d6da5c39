"""前面还有 N 人: how many tickets the queue order will call before a ticket if nothing changes.

Under 一窗受理 one window serves several services, so counting the waiting tickets of the
same service (what the estimate did before) is wrong both ways: a universal window also
calls the other services' tickets, and a service served at several windows is called
faster than one at a time. N is therefore read from a simulated run of the calling order:

* time stands still (the hall's ``now``: overdue tickets and started appointment slots
  as they are now), nobody new arrives, nobody is transferred;
* the open windows call in turn, in window-number order, round after round; each call
  takes the window's next ticket exactly as :func:`~queue_server.queue.lifecycle.call_next`
  would (the order of :mod:`queue_server.queue.order`); a window with nobody left to call
  skips its turn;
* N of a ticket is the number of tickets called before it whose service shares an open
  window with its own, directly or through other services (with a universal 综合窗口
  open, every service). Calls at windows that have nothing to do with its service do not
  count.

A ticket no open window can call (before the hall opens, or its windows closed) is
counted with every window open instead. One run gives N of every waiting ticket; it is
kept per database for the state it was computed from (the newest event id and the
minute), so the progress pages of thousands of phones cost one run per change, not one
each. ``tests/test_queue_ahead.py`` checks N against ``call_next`` itself, called
repeatedly on a copy of a hall with shared windows.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from typing import Any

from queue_server import clock as clk
from queue_server.queue.common import APPOINTMENT, PRIORITY_GROUPS, Hall, Window, load_windows

_GROUPS = frozenset(PRIORITY_GROUPS)
_lock = threading.Lock()
#: db key → (state key, {"open": result, "all": result or None})
_cache: dict[str, tuple[tuple[Any, ...], dict[str, dict[int, tuple[int, int]] | None]]] = {}


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _components(windows: Iterable[Window], services: Iterable[str]) -> dict[str, str]:
    """Service → a representative of the services that share windows with it."""
    parent: dict[str, str] = {s: s for s in services}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    everything = list(parent)
    for w in windows:
        members = everything if w.universal else list(w.services)
        if not members:
            continue
        root = find(members[0])
        for m in members[1:]:
            r = find(m)
            if r != root:
                parent[r] = root
    return {s: find(s) for s in list(parent)}


def simulate(rows: list[tuple[Any, ...]], windows: list[Window], h: Hall) -> dict[int, tuple[int, int]]:
    """(N, windows) of every ticket in ``rows`` that one of ``windows`` calls in the
    simulated run: N as in the module docstring, and how many windows called those N and
    it (what the wait estimate divides by).

    ``rows``: today's waiting tickets as (id, service_code, priority, issued_at,
    transfer_window, transferred_at, slot_start), in any order (the slot start only
    matters for on-time appointment tickets).
    """
    max_wait = int(h.settings.get("max_wait_minutes") or 0) * 60
    overdue_before = h.now - max_wait if max_wait > 0 else float("-inf")
    hhmm = clk.local(h.now, h.tz).strftime("%H:%M")
    comp = _components(windows, {r[1] for r in rows})
    # Rows by service (issue order kept), the transferred ones by target window, so a
    # window's list is built from its own services' rows only.
    by_service: dict[str, list[tuple[Any, ...]]] = {}
    groups_rows: list[tuple[Any, ...]] = []
    transferred: dict[int, list[tuple[Any, ...]]] = {}
    for r in rows:
        if r[4] is not None:
            transferred.setdefault(r[4], []).append(r)
            continue
        by_service.setdefault(r[1], []).append(r)
        if r[2] in _GROUPS:
            groups_rows.append(r)
    lists: list[list[int]] = []
    shared: dict[tuple[Any, ...], list[int]] = {}
    for w in windows:
        sig = (tuple(w.services), w.kind == "green")
        order = shared.get(sig)
        if order is None:
            service_list = "" if w.universal else "," + ",".join(w.services) + ","
            if w.universal:
                mine_rows: Iterable[tuple[Any, ...]] = rows
                served: frozenset[str] | None = None
            else:
                served = frozenset(w.services)
                mine_rows = [r for code in w.services for r in by_service.get(code, ())]
                if w.kind == "green":
                    mine_rows = list(mine_rows) + [r for r in groups_rows if r[1] not in served]
            keyed: list[tuple[Any, ...]] = []
            add = keyed.append
            for tid, code, prio, issued, tw, _tat, slot in mine_rows:
                if tw is not None:
                    continue
                if prio is None:
                    if issued < overdue_before:
                        add((3, 0, issued, tid))
                    else:
                        add((5, service_list.find("," + code + ",") + 1 if served is not None else 0, issued, tid))
                elif prio == APPOINTMENT and slot is not None and slot <= hhmm:
                    add((2, slot, issued, tid))
                elif issued < overdue_before:
                    add((3, 0, issued, tid))
                elif prio in _GROUPS:
                    add((4, 0, issued, tid))
                else:
                    add((5, service_list.find("," + code + ",") + 1 if served is not None else 0, issued, tid))
            keyed.sort()
            order = shared[sig] = [k[3] for k in keyed]
        mine = sorted((r[5], r[3], r[0]) for r in transferred.get(w.number, ()))
        lists.append([t[2] for t in mine] + order if mine else order)
    service_of = {r[0]: r[1] for r in rows}
    taken: set[int] = set()
    ahead: dict[int, tuple[int, int]] = {}
    calls: dict[str, int] = {}
    callers: dict[str, set[int]] = {}
    ptr = [0] * len(lists)
    moved = True
    while moved:
        moved = False
        for i, lst in enumerate(lists):
            p, n = ptr[i], len(lst)
            while p < n and lst[p] in taken:
                p += 1
            if p < n:
                tid = lst[p]
                taken.add(tid)
                c = comp[service_of[tid]]
                n_before = calls.get(c, 0)
                who = callers.setdefault(c, set())
                who.add(i)
                ahead[tid] = (n_before, len(who))
                calls[c] = n_before + 1
                p += 1
                moved = True
            ptr[i] = p
    return ahead


_ROWS_SQL = (
    "SELECT id, service_code, priority, issued_at, transfer_window, transferred_at, appointment_id "
    "FROM tickets WHERE day = ? AND status = 'waiting'"
)
_SLOTS_SQL = (
    "SELECT t.id, a.slot_start FROM tickets t JOIN appointments a ON a.id = t.appointment_id "
    f"WHERE t.day = ? AND t.status = 'waiting' AND t.priority = '{APPOINTMENT}'"
)


def _rows(conn: sqlite3.Connection, day: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: a third of the time of sqlite3.Row for 5,000 rows
    try:
        rows = cur.execute(_ROWS_SQL, (day,)).fetchall()
        slots = dict(cur.execute(_SLOTS_SQL, (day,)).fetchall())
    finally:
        cur.close()
    if not slots:
        return rows
    return [r[:6] + (slots.get(r[0]),) for r in rows]


def people_ahead(conn: sqlite3.Connection, key: str, h: Hall, ticket_id: int) -> int:
    """前面还有 N 人 of a waiting ticket (the module docstring says what N is)."""
    return ahead_and_windows(conn, key, h, ticket_id)[0]


def ahead_and_windows(conn: sqlite3.Connection, key: str, h: Hall, ticket_id: int) -> tuple[int, int]:
    """(N, windows calling them) of a waiting ticket; (0, 0) for one nobody would call."""
    # Every queue change records an event; catalogue edits (a window's services) are audited.
    last = conn.execute("SELECT (SELECT COALESCE(MAX(id), 0) FROM events), "
                        "(SELECT COALESCE(MAX(id), 0) FROM audit)").fetchone()
    # Inside a transaction the state is this connection's own (what it may still roll back):
    # the issuing transaction and its print job share one run, nobody else sees it.
    state = (h.day, int(last[0]), int(last[1]), int(h.now // 60), int(h.settings.get("max_wait_minutes") or 0),
             (id(conn), conn.total_changes) if conn.in_transaction else None)
    cacheable = True
    with _lock:
        hit = _cache.get(key)
    runs = hit[1] if hit is not None and hit[0] == state else None
    rows: list[tuple[Any, ...]] | None = None
    windows: list[Window] | None = None
    if runs is None:
        rows = _rows(conn, h.day)
        windows = load_windows(conn)
        runs = {"open": simulate(rows, [w for w in windows if w.status == "open"], h), "all": None}
        if cacheable:
            with _lock:
                _cache[key] = (state, runs)
    n = runs["open"].get(ticket_id)  # type: ignore[union-attr]
    if n is not None:
        return n
    everyone = runs["all"]
    if everyone is None:
        if rows is None or windows is None:
            rows = _rows(conn, h.day)
            windows = load_windows(conn)
        everyone = runs["all"] = simulate(rows, windows, h)
    return everyone.get(ticket_id, (0, 0))
