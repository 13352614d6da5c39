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
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from queue_server import clock as clk
from queue_server.queue.common import APPOINTMENT, PRIORITY_GROUPS, Hall, Window, load_windows
from queue_server.slots import released

_GROUPS = frozenset(PRIORITY_GROUPS)
_ISSUE_ORDER = itemgetter(3, 0)  # (issued_at, id)
_lock = threading.Lock()
#: db key → (state key, the runs made from that state)
_cache: dict[str, tuple[tuple[Any, ...], _Runs]] = {}


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _rows_cache.clear()


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


class _Run:
    """One simulated run of the calling order, kept so that N of any ticket in it is a lookup.

    A call is a *turn*: round × windows + window index, so turns sort in calling order. N of
    a ticket is the number of calls of its component at earlier turns; its window count is
    the number of windows whose first call of that component came at its turn or before.
    """

    __slots__ = ("nwin", "index", "turn_of", "comp_of", "turns", "first")

    def __init__(self, nwin: int, index: dict[int, int], turn_of: list[int], comp_of: list[str]) -> None:
        self.nwin = nwin
        self.index = index  # ticket id → dense index
        self.turn_of = turn_of  # dense index → the turn it is called at (-1: never)
        self.comp_of = comp_of  # dense index → its component
        self.turns: dict[str, list[int]] = {}  # component → turns of its calls, ascending
        self.first: dict[str, dict[int, int]] = {}  # component → window index → its first turn
        by_comp: dict[str, list[int]] = {}
        if len(set(comp_of)) == 1:  # one component (a 综合窗口 is open): no grouping needed
            ordered = sorted(turn_of)
            by_comp[comp_of[0]] = ordered[bisect_right(ordered, -1):]
        else:
            for t, c in zip(turn_of, comp_of, strict=True):
                if t >= 0:
                    lst = by_comp.get(c)
                    if lst is None:
                        lst = by_comp[c] = []
                    lst.append(t)
            for lst in by_comp.values():
                lst.sort()
        for c, lst in by_comp.items():
            self.turns[c] = lst
            firsts = self.first[c] = {}
            for t in lst:  # windows in the order of their first call; stops once all are seen
                w = t % nwin
                if w not in firsts:
                    firsts[w] = t
                    if len(firsts) == nwin:
                        break

    def get(self, ticket_id: int) -> tuple[int, int] | None:
        """(N, windows) of a ticket some window calls in this run; None for the others."""
        i = self.index.get(ticket_id)
        if i is None or (turn := self.turn_of[i]) < 0:
            return None
        c = self.comp_of[i]
        return bisect_left(self.turns[c], turn), sum(1 for t in self.first[c].values() if t <= turn)

    def as_dict(self) -> dict[int, tuple[int, int]]:
        return {tid: n for tid in self.index if (n := self.get(tid)) is not None}


class _Runs:
    """The runs of one state: with the open windows, and with every window (made when first
    needed: for a ticket no open window calls)."""

    __slots__ = ("open", "all")

    def __init__(self, open_run: _Run) -> None:
        self.open = open_run
        self.all: _Run | None = None


def _jump_key(row: tuple[Any, ...], i: int, overdue_before: float, hhmm: str) -> tuple[Any, ...] | None:
    """The sort key of a ticket that jumps ahead of the ordinary ones (an on-time
    appointment, an overdue or a priority ticket); None for an ordinary ticket."""
    _tid, _code, prio, issued, _tw, _tat, slot = row
    if prio == APPOINTMENT and slot is not None and slot <= hhmm:
        return (2, slot, issued, i)
    if issued < overdue_before:
        return (3, 0, issued, i)
    if prio in _GROUPS:
        return (4, 0, issued, i)
    return None


def simulate(rows: list[tuple[Any, ...]], windows: list[Window], h: Hall) -> dict[int, tuple[int, int]]:
    """(N, windows) of every ticket in ``rows`` that one of ``windows`` calls in the
    simulated run: N as in the module docstring, and how many windows called those N and
    it (what the wait estimate divides by).

    ``rows``: today's waiting tickets as (id, service_code, priority, issued_at,
    transfer_window, transferred_at, slot_start), in any order (the slot start only
    matters for on-time appointment tickets).
    """
    return _simulate(rows, windows, h).as_dict()


def _simulate(rows: list[tuple[Any, ...]], windows: list[Window], h: Hall) -> _Run:
    """The run :func:`simulate` reads N from.

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
    n = len(rows)
    # Tickets by how they are ordered: the ones that jump ahead with their sort keys (by
    # service), the ordinary ones (dense indexes, issue order) by service and all together.
    special: dict[str, list[tuple[Any, ...]]] = {}
    group_special: list[tuple[Any, ...]] = []
    ordinary: dict[str, list[int]] = {}
    ordinary_all: list[int] = []
    transferred: dict[int, list[tuple[Any, ...]]] = {}
    for i, row in enumerate(rows):
        if row[4] is not None:
            transferred.setdefault(row[4], []).append((row[5], row[3], i))
            continue
        prio = row[2]
        key = None if prio is None and row[3] >= overdue_before else _jump_key(row, i, overdue_before, hhmm)
        if key is None:
            same = ordinary.get(row[1])
            if same is None:
                same = ordinary[row[1]] = []
            same.append(i)
            ordinary_all.append(i)
        else:
            special.setdefault(row[1], []).append(key)
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
                tail = []
                for code in w.services:
                    tail.extend(ordinary.get(code, ()))
            jump.sort()
            k = line_of[sig] = len(lines)
            lines.append([key[3] for key in jump] + tail)
        window_line.append(k)
        window_first.append([t[2] for t in sorted(transferred.get(w.number, ()))])
    turn_of = [-1] * n  # the turn each ticket is called at
    line_pos = [0] * len(lines)
    first_pos = [0] * len(windows)
    nwin = len(windows)
    moved = True
    turn = 0
    while moved:
        moved = False
        for wi in range(nwin):
            first = window_first[wi]
            if first:
                p, m = first_pos[wi], len(first)
                while p < m and turn_of[first[p]] >= 0:
                    p += 1
                first_pos[wi] = p
                if p < m:
                    turn_of[first[p]] = turn
                    first_pos[wi] = p + 1
                    moved = True
                    turn += 1
                    continue
            k = window_line[wi]
            line = lines[k]
            p, m = line_pos[k], len(line)
            while p < m and turn_of[line[p]] >= 0:
                p += 1
            if p < m:
                turn_of[line[p]] = turn
                p += 1
                moved = True
            line_pos[k] = p
            turn += 1
    return _Run(nwin, {r[0]: i for i, r in enumerate(rows)}, turn_of, [comp[r[1]] for r in rows])

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


#: Events after which the waiting tickets are the ones before plus the newly issued: none of
#: these changes a waiting ticket's row (a ``ticket.*`` event other than ``ticket.issued``
#: or ``day.reset`` does, and then the rows are read again whole).
_ROWS_KEEP = frozenset({"ticket.issued"})
_ROWS_NEW_SQL = _ROWS_SQL.replace("INDEXED BY tickets_waiting_order ", "") + " AND id > ?"
_SLOTS_NEW_SQL = _SLOTS_SQL + " AND t.id > ?"
#: db key → (day, last event id, highest ticket id, rows) of the newest read
_rows_cache: dict[str, tuple[str, int, int, list[tuple[Any, ...]]]] = {}


def _current_rows(conn: sqlite3.Connection, key: str, day: str, last_event: int, *, store: bool
                  ) -> list[tuple[Any, ...]]:
    """Today's waiting rows as of ``last_event``, read in the caller's snapshot: the rows kept
    from the previous read plus the tickets issued since, when nothing else happened to
    tickets meanwhile — while kiosks issue, a run reads a handful of rows instead of every
    waiting ticket — else every row again. ``store``: keep these rows for the next read (only
    from a read snapshot: a write transaction's own rows may still be rolled back)."""
    with _lock:
        hit = _rows_cache.get(key)
    rows: list[tuple[Any, ...]] | None = None
    if hit is not None and hit[0] == day and hit[1] <= last_event:
        _day, seen, top, kept = hit
        if seen == last_event:
            rows = kept
        else:
            cur = conn.cursor()
            cur.row_factory = None
            try:
                types = cur.execute("SELECT DISTINCT type FROM events WHERE id > ? AND id <= ?",
                                    (seen, last_event)).fetchall()
                if all(t[0] in _ROWS_KEEP or not t[0].startswith(("ticket.", "day.")) for t in types):
                    new = cur.execute(_ROWS_NEW_SQL, (day, top)).fetchall()
                    slots = dict(cur.execute(_SLOTS_NEW_SQL, (day, top)).fetchall()) if new else {}
                    if slots:
                        new = [r[:6] + (slots.get(r[0]),) for r in new]
                    rows = kept + new if new else kept
            finally:
                cur.close()
    if rows is None:
        rows = _rows(conn, day)
    if store:
        top = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM tickets").fetchone()[0])
        with _lock:
            _rows_cache[key] = (day, last_event, top, rows)
    return rows


def people_ahead(conn: sqlite3.Connection, key: str, h: Hall, ticket_id: int) -> int:
    """前面还有 N 人 of a waiting ticket (the module docstring says what N is)."""
    return ahead_and_windows(conn, key, h, ticket_id)[0]


def _state(conn: sqlite3.Connection, h: Hall, *, read_snapshot: bool = False) -> tuple[Any, ...]:
    # Every queue change records an event; catalogue edits (a window's services) are audited.
    last = conn.execute("SELECT (SELECT COALESCE(MAX(id), 0) FROM events), "
                        "(SELECT COALESCE(MAX(id), 0) FROM audit)").fetchone()
    # Inside a transaction the state is this connection's own (what it may still roll back):
    # nobody else may use a run made from it — unless it is a read snapshot we began ourselves
    # (``read_snapshot``), which only sees what is committed.
    return (h.day, int(last[0]), int(last[1]), int(h.now // 60), int(h.settings.get("max_wait_minutes") or 0),
            (id(conn), conn.total_changes) if conn.in_transaction and not read_snapshot else None)


class _Flight:
    """Runs for one database that callers who have just committed share (see :func:`after_commit`)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.started = 0  # runs whose snapshot has been (or is being) taken
        self.finished = 0
        self.running = False
        self.issuing = 0  # issuers of this process between their write transaction's start and end
        self.last_run_s = 0.0
        self.runs: _Runs | None = None


_flights: dict[str, _Flight] = {}

#: The longest a run waits for the issuers already inside their write transaction.
MAX_GATHER_S = 0.05


def _flight(key: str) -> _Flight:
    with _lock:
        return _flights.setdefault(key, _Flight())


@contextmanager
def issuing(key: str) -> Iterator[None]:
    """Wrap an issuer's write transaction: a run about to start waits (briefly) for the
    issuers inside one to commit, so that one run serves them all (see :func:`after_commit`)."""
    flight = _flight(key)
    with flight.cond:
        flight.issuing += 1
    try:
        yield
    finally:
        with flight.cond:
            flight.issuing -= 1
            flight.cond.notify_all()


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
    flight = _flight(key)
    with flight.cond:
        wanted = flight.started + 1  # the next run to take its snapshot does so after our commit
    while True:
        with flight.cond:
            if flight.finished >= wanted:
                runs = flight.runs
                break
            lead = not flight.running
            if lead:
                flight.running = True
        if not lead:
            # Another request is making a run; wait for it without our work slot (and take the
            # slot back only after leaving the condition: the leader needs both to finish).
            with released(), flight.cond:
                while flight.running and flight.finished < wanted:
                    flight.cond.wait()
            continue
        made = None
        try:
            # Gather: the issuers already inside their write transaction commit in a moment;
            # waiting for them (at most as long as a run takes) lets this one run serve them
            # too, instead of each needing its own. Nobody inside one: start at once.
            gather_until = time.monotonic() + min(flight.last_run_s, MAX_GATHER_S)
            with released(), flight.cond:
                while flight.issuing > 0 and (left := gather_until - time.monotonic()) > 0:
                    flight.cond.wait(left)
                flight.started += 1  # callers committed before this line are in the snapshot
                generation = flight.started
            t0 = time.monotonic()
            conn.execute("BEGIN")  # one snapshot: the state key and the rows agree
            try:
                state = _state(conn, h, read_snapshot=True)
                made = _open_run(conn, key, h, state)
                with _lock:
                    _cache[key] = (state, made)
            finally:
                conn.execute("COMMIT")
            flight.last_run_s = time.monotonic() - t0
        finally:
            with flight.cond:
                flight.running = False
                if made is not None:
                    flight.runs, flight.finished = made, generation
                flight.cond.notify_all()
    n = runs.open.get(ticket_id) if runs is not None else None
    return n if n is not None else ahead_and_windows(conn, key, h, ticket_id)


def _open_run(conn: sqlite3.Connection, key: str, h: Hall, state: tuple[Any, ...]
              ) -> _Runs:
    rows = _current_rows(conn, key, h.day, int(state[1]), store=state[-1] is None)
    windows = load_windows(conn)
    return _Runs(_simulate(rows, [w for w in windows if w.status == "open"], h))


def ahead_and_windows(conn: sqlite3.Connection, key: str, h: Hall, ticket_id: int) -> tuple[int, int]:
    """(N, windows calling them) of a waiting ticket; (0, 0) for one nobody would call."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")  # one snapshot: the state key and the rows agree
    try:
        state = _state(conn, h, read_snapshot=own)
        with _lock:
            hit = _cache.get(key)
        runs = hit[1] if hit is not None and hit[0] == state else None
        if runs is None:
            runs = _open_run(conn, key, h, state)
            with _lock:
                _cache[key] = (state, runs)
        n = runs.open.get(ticket_id)
        if n is not None:
            return n
        everyone = runs.all
        if everyone is None:
            rows = _current_rows(conn, key, h.day, int(state[1]), store=state[-1] is None)
            everyone = runs.all = _simulate(rows, load_windows(conn), h)
        return everyone.get(ticket_id) or (0, 0)
    finally:
        if own:
            conn.execute("COMMIT")
