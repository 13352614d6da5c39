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
from operator import itemgetter
from typing import Any

from queue_server import clock as clk
from queue_server.queue.common import APPOINTMENT, PRIORITY_GROUPS, Hall, Window, load_windows
from queue_server.slots import released

_GROUPS = frozenset(PRIORITY_GROUPS)
_ISSUE_ORDER = itemgetter(3, 0)  # (issued_at, id)
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

    Linear in the waiting tickets per distinct window line-up, because the order of
    :mod:`queue_server.queue.order` needs no general sort: ordinary tickets come service by
    service in the window's priority order, each service's in issue order (a universal
    window: everyone's in issue order), so a window's list is those lists joined; only the
    few tickets that jump ahead (on-time appointments, overdue and priority tickets) are
    sorted. Windows with the same line-up share one list and one read position: the first
    ticket not yet called is the same for all of them.
    """
    max_wait = int(h.settings.get("max_wait_minutes") or 0) * 60
    overdue_before = h.now - max_wait if max_wait > 0 else float("-inf")
    hhmm = clk.local(h.now, h.tz).strftime("%H:%M")
    comp = _components(windows, {r[1] for r in rows})
    rows = sorted(rows, key=_ISSUE_ORDER)
    tids = [r[0] for r in rows]
    comp_of = [comp[r[1]] for r in rows]
    # Tickets by how they are ordered: the ones that jump ahead with their sort keys (by
    # service), the ordinary ones (dense indexes, issue order) by service and all together.
    special: dict[str, list[tuple[Any, ...]]] = {}
    group_special: list[tuple[Any, ...]] = []
    ordinary: dict[str, list[int]] = {}
    ordinary_all: list[int] = []
    transferred: dict[int, list[tuple[Any, ...]]] = {}
    for i, (_tid, code, prio, issued, tw, tat, slot) in enumerate(rows):
        if tw is not None:
            transferred.setdefault(tw, []).append((tat, issued, i))
            continue
        if prio == APPOINTMENT and slot is not None and slot <= hhmm:
            key: tuple[Any, ...] | None = (2, slot, issued, i)
        elif issued < overdue_before:
            key = (3, 0, issued, i)
        elif prio in _GROUPS:
            key = (4, 0, issued, i)
        else:
            key = None
        if key is None:
            ordinary.setdefault(code, []).append(i)
            ordinary_all.append(i)
        else:
            special.setdefault(code, []).append(key)
            if prio in _GROUPS:
                group_special.append(key)
    lines: list[list[int]] = []
    line_of: dict[tuple[Any, ...], int] = {}
    window_line: list[int] = []
    window_first: list[list[int]] = []
    for w in windows:
        sig = ("*",) if w.universal else (tuple(w.services), w.kind == "green")
        k = line_of.get(sig)
        if k is None:
            if w.universal:
                jump = [key for keys in special.values() for key in keys]
                tail = ordinary_all
            else:
                jump = [key for code in w.services for key in special.get(code, ())]
                if w.kind == "green":
                    served = frozenset(w.services)
                    jump += [key for key in group_special if rows[key[3]][1] not in served]
                tail = [i for code in w.services for i in ordinary.get(code, ())]
            jump.sort()
            k = line_of[sig] = len(lines)
            lines.append([key[3] for key in jump] + tail)
        window_line.append(k)
        window_first.append([t[2] for t in sorted(transferred.get(w.number, ()))])
    taken = bytearray(len(rows))
    line_pos = [0] * len(lines)
    first_pos = [0] * len(windows)
    ahead: dict[int, tuple[int, int]] = {}
    calls: dict[str, int] = {}
    callers: dict[str, set[int]] = {}
    called: list[tuple[int, int]] = []  # (dense index, window) in calling order
    moved = True
    while moved:
        moved = False
        for wi in range(len(windows)):
            first = window_first[wi]
            if first:
                p, n = first_pos[wi], len(first)
                while p < n and taken[first[p]]:
                    p += 1
                first_pos[wi] = p
                if p < n:
                    taken[first[p]] = 1
                    called.append((first[p], wi))
                    first_pos[wi] = p + 1
                    moved = True
                    continue
            k = window_line[wi]
            line = lines[k]
            p, n = line_pos[k], len(line)
            while p < n and taken[line[p]]:
                p += 1
            line_pos[k] = p
            if p < n:
                taken[line[p]] = 1
                called.append((line[p], wi))
                line_pos[k] = p + 1
                moved = True
    for i, wi in called:
        c = comp_of[i]
        n_before = calls.get(c, 0)
        who = callers.get(c)
        if who is None:
            who = callers[c] = set()
        who.add(wi)
        ahead[tids[i]] = (n_before, len(who))
        calls[c] = n_before + 1
    return ahead


_ROWS_SQL = (
    "SELECT id, service_code, priority, issued_at, transfer_window, transferred_at, appointment_id "
    "FROM tickets INDEXED BY tickets_waiting_order WHERE day = ? AND status = 'waiting'"
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


def _state(conn: sqlite3.Connection, h: Hall) -> tuple[Any, ...]:
    # Every queue change records an event; catalogue edits (a window's services) are audited.
    last = conn.execute("SELECT (SELECT COALESCE(MAX(id), 0) FROM events), "
                        "(SELECT COALESCE(MAX(id), 0) FROM audit)").fetchone()
    # Inside a transaction the state is this connection's own (what it may still roll back):
    # nobody else may use a run made from it.
    return (h.day, int(last[0]), int(last[1]), int(h.now // 60), int(h.settings.get("max_wait_minutes") or 0),
            (id(conn), conn.total_changes) if conn.in_transaction else None)


class _Flight:
    """Runs for one database that callers who have just committed share (see :func:`after_commit`)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.started = 0
        self.finished = 0
        self.running = False
        self.runs: dict[str, dict[int, tuple[int, int]] | None] = {}


_flights: dict[str, _Flight] = {}


def after_commit(conn: sqlite3.Connection, key: str, h: Hall, ticket_id: int) -> tuple[int, int]:
    """(N, windows) of a ticket the caller has just committed, from a run that started after
    that commit — shared by every caller waiting meanwhile, like a group commit.

    Issuing is where N changes most: each new ticket is a new state, and a run costs time
    linear in the waiting tickets. Run inside the issuing transaction, under the write lock,
    it would serialise every issue behind a simulation; here, outside it, twenty kiosks
    issuing at once share one run (the one that starts after the last of their commits).
    The N a caller gets is the hall's as of a moment after its commit — what its progress
    page shows too. Inside a transaction (nothing committed yet) it is
    :func:`ahead_and_windows`.
    """
    if conn.in_transaction:
        return ahead_and_windows(conn, key, h, ticket_id)
    with _lock:
        flight = _flights.setdefault(key, _Flight())
    with flight.cond:
        wanted = flight.started + 1  # the next run to start begins after our commit
    while True:
        with flight.cond:
            if flight.finished >= wanted:
                runs = flight.runs
                break
            lead = not flight.running
            if lead:
                flight.running = True
                flight.started += 1
                generation = flight.started
        if not lead:
            # Another request is making a run; wait for it without our work slot (and take the
            # slot back only after leaving the condition: the leader needs both to finish).
            with released(), flight.cond:
                while flight.running and flight.finished < wanted:
                    flight.cond.wait()
            continue
        made = None
        try:
            conn.execute("BEGIN")  # one snapshot: the state key and the rows agree
            try:
                state = _state(conn, h)
                made = _open_run(conn, h)
                with _lock:
                    _cache[key] = (state, made)
            finally:
                conn.execute("COMMIT")
        finally:
            with flight.cond:
                flight.running = False
                if made is not None:
                    flight.runs, flight.finished = made, generation
                flight.cond.notify_all()
    n = runs["open"].get(ticket_id) if runs.get("open") is not None else None  # type: ignore[union-attr]
    return n if n is not None else ahead_and_windows(conn, key, h, ticket_id)


def _open_run(conn: sqlite3.Connection, h: Hall) -> dict[str, dict[int, tuple[int, int]] | None]:
    rows = _rows(conn, h.day)
    windows = load_windows(conn)
    return {"open": simulate(rows, [w for w in windows if w.status == "open"], h), "all": None}


def ahead_and_windows(conn: sqlite3.Connection, key: str, h: Hall, ticket_id: int) -> tuple[int, int]:
    """(N, windows calling them) of a waiting ticket; (0, 0) for one nobody would call."""
    state = _state(conn, h)
    cacheable = True
    with _lock:
        hit = _cache.get(key)
    runs = hit[1] if hit is not None and hit[0] == state else None
    if runs is None:
        runs = _open_run(conn, h)
        if cacheable:
            with _lock:
                _cache[key] = (state, runs)
    n = runs["open"].get(ticket_id)  # type: ignore[union-attr]
    if n is not None:
        return n
    everyone = runs["all"]
    if everyone is None:
        everyone = runs["all"] = simulate(_rows(conn, h.day), load_windows(conn), h)
    return everyone.get(ticket_id, (0, 0))
