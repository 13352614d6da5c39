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
each. When only tickets were issued since (the common change while kiosks are busy), the
kept run takes them in from the turn where it would first differ instead of being made
again (:meth:`_Run.advance`). A run is played only as far as the tickets asked about are
called, so putting a new ticket in costs the turns from where the runs part to its call,
not the rest of the run. With ``serve --workers N`` the starting process keeps the run
and answers every worker's new tickets (:mod:`~queue_server.queue.ahead_keeper`), so the
new tickets are put in once, not once per worker. ``tests/test_queue_ahead.py`` checks N against
``call_next`` itself, called repeatedly on a copy of a hall with shared windows, and the
kept run against one made from scratch.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from queue_server import clock as clk
from queue_server.queue import ahead_shared
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
    """One simulated run of the calling order (the module docstring says how it goes).

    A call is a *turn*: round × windows + window index, so turns sort in calling order. N of
    a ticket is the number of calls of its component at earlier turns; its window count is
    the number of windows whose first call of that component came at its turn or before.
    Both are lookups (:meth:`get`).

    The run keeps how it went — every call in order, each line's picks with their positions,
    the turn each window first found nobody — so that newly issued tickets can be put in
    without running it all again (:meth:`advance`). It is played lazily: :meth:`get` plays
    on until the ticket asked about is called (or nobody is left to call).
    """

    def __init__(self, rows: list[tuple[Any, ...]], windows: list[Window], h: Hall) -> None:
        """``rows``: today's waiting tickets as (id, service_code, priority, issued_at,
        transfer_window, transferred_at, slot_start), in any order (the slot start only
        matters for on-time appointment tickets). ``windows``: the windows that call.

        Linear in the waiting tickets per distinct window line-up, because the order of
        :mod:`queue_server.queue.order` needs no general sort: ordinary tickets come service
        by service in the window's priority order, each service's in issue order (a
        universal window: everyone's in issue order), so a window's list is those lists
        joined; only the few tickets that jump ahead (on-time appointments, overdue and
        priority tickets) are sorted. Windows with the same line-up share one list and one
        read position: the first ticket not yet called is the same for all of them.
        """
        self.lock = threading.Lock()
        self.state: tuple[Any, ...] | None = None  # the state key it was made (or advanced) for
        self.top = 0  # the highest ticket id it has seen
        max_wait = int(h.settings.get("max_wait_minutes") or 0) * 60
        self.overdue_before = h.now - max_wait if max_wait > 0 else float("-inf")
        self.hhmm = clk.local(h.now, h.tz).strftime("%H:%M")
        self.nwin = nwin = len(windows)
        # Every service a window names is in the map too, so that a ticket of a service with
        # nobody waiting yet can be put in later (:meth:`advance`); the services of ``rows``
        # share windows the same way either way.
        self.comp = comp = _components(windows, {r[1] for r in rows}.union(
            *(w.services for w in windows if not w.universal)))
        rows = sorted(rows, key=_ISSUE_ORDER)
        self.issue_key = [(r[3], r[0]) for r in rows]  # dense index → its place in issue order
        self.index = {r[0]: i for i, r in enumerate(rows)}  # ticket id → dense index
        self.comp_of = [comp[r[1]] for r in rows]  # dense index → its component
        # Tickets by how they are ordered: the ones that jump ahead with their sort keys (by
        # service), the ordinary ones (dense indexes, issue order) by service and all together.
        special: dict[str, list[tuple[Any, ...]]] = {}
        group_special: list[tuple[Any, ...]] = []
        ordinary: dict[str, list[int]] = {}
        ordinary_all: list[int] = []
        transferred: dict[int, list[tuple[Any, ...]]] = {}
        overdue_before, hhmm = self.overdue_before, self.hhmm
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
        self.lines: list[list[int]] = []
        #: per line: service → where its ordinary tickets end (None: a universal line, whose
        #: ordinary tickets are all in issue order, so a new one goes at the end)
        self.seg_end: list[dict[str, int] | None] = []
        self.line_windows: list[list[int]] = []
        self.jump_len: list[int] = []  # per line: how many tickets jump ahead at its start
        line_of: dict[tuple[Any, ...], int] = {}
        self.window_line: list[int] = []
        self.window_first: list[list[int]] = []  # transferred tickets each window calls first
        for wi, w in enumerate(windows):
            sig = ("*",) if w.universal else (tuple(w.services), w.kind == "green")
            k = line_of.get(sig)
            if k is None:
                ends: dict[str, int] | None = None
                if w.universal:
                    jump = [key for keys in special.values() for key in keys]
                    tail = ordinary_all
                else:
                    jump = [key for code in w.services for key in special.get(code, ())]
                    if w.kind == "green":
                        served = frozenset(w.services)
                        jump += [key for key in group_special if rows[key[3]][1] not in served]
                    tail, ends = [], {}
                    for code in w.services:
                        tail.extend(ordinary.get(code, ()))
                        ends[code] = len(jump) + len(tail)
                jump.sort()
                k = line_of[sig] = len(self.lines)
                self.lines.append([key[3] for key in jump] + tail)
                self.jump_len.append(len(jump))
                self.seg_end.append(ends)
                self.line_windows.append([])
            self.line_windows[k].append(wi)
            self.window_line.append(k)
            self.window_first.append([t[2] for t in sorted(transferred.get(w.number, ()))])
        self.turn_of = [-1] * len(rows)  # dense index → the turn it is called at (-1: never)
        self.order: list[int] = []  # dense indexes in calling order
        self.call_turns: list[int] = []  # their turns
        self.pick_turns: list[list[int]] = [[] for _ in self.lines]  # per line: turns of its windows' picks
        self.pick_pos: list[list[int]] = [[] for _ in self.lines]  # and the positions they picked
        self.fail = [-1] * nwin  # the first turn each window found nobody to call
        self.line_pos = [0] * len(self.lines)
        self.first_pos = [0] * nwin
        self.turns: dict[str, list[int]] = {}  # component → turns of its calls, ascending
        self.first: dict[str, dict[int, int]] = {}  # component → window index → its first turn
        # One component (a 综合窗口 is open, or the windows chain every service together):
        # every call is its own, so its turns are the calls' turns — the same list.
        comps = set(comp.values())
        self.single = comps.pop() if len(comps) == 1 else None
        if self.single is not None:
            self.turns[self.single] = self.call_turns
            self.first[self.single] = {}
        # Played lazily: as far as the tickets asked about (:meth:`get`); the next turn to
        # play, whether somebody was called earlier in its round, and whether a whole round
        # has called nobody (the run is over).
        self.next_turn = 0
        self.moved = False
        self.done = not windows

    def _play(self, until: int | None) -> None:
        """Play on from where the run stopped, round by round, until the ticket at dense index
        ``until`` has been called (None: to the end) or a whole round calls nobody."""
        if self.done:
            return
        nwin, turn_of, order, call_turns = self.nwin, self.turn_of, self.order, self.call_turns
        lines, window_line, window_first = self.lines, self.window_line, self.window_first
        line_pos, first_pos, fail = self.line_pos, self.first_pos, self.fail
        pick_turns, pick_pos = self.pick_turns, self.pick_pos
        turn, moved, j = self.next_turn, self.moved, len(order)
        start = turn % nwin
        while True:
            for wi in range(start, nwin):
                first = window_first[wi]
                if first:
                    p, m = first_pos[wi], len(first)
                    while p < m and turn_of[first[p]] >= 0:
                        p += 1
                    first_pos[wi] = p
                    if p < m:
                        i = first[p]
                        turn_of[i] = turn
                        order.append(i)
                        call_turns.append(turn)
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
                    i = line[p]
                    turn_of[i] = turn
                    order.append(i)
                    call_turns.append(turn)
                    pick_turns[k].append(turn)
                    pick_pos[k].append(p)
                    p += 1
                    moved = True
                elif fail[wi] < 0:  # nobody left for it, now or later (nobody new arrives)
                    fail[wi] = turn
                line_pos[k] = p
                turn += 1
            if not moved:
                self.done = True
                break
            moved = False
            start = 0
            if until is not None and turn_of[until] >= 0:
                break
        self.next_turn, self.moved = turn, moved
        self._index_calls(j)

    def _index_calls(self, j: int) -> None:
        """Add the calls from ``order[j]`` on to the lookup tables (turns per component, first
        turn per window)."""
        nwin, turns, first, comp_of = self.nwin, self.turns, self.first, self.comp_of
        if self.single is not None:  # the turns are already there (call_turns): the firsts only
            firsts = first[self.single]
            if len(firsts) < nwin:
                for t in self.call_turns[j:]:
                    if t % nwin not in firsts:
                        firsts[t % nwin] = t
                        if len(firsts) == nwin:
                            break
            return
        for i, t in zip(self.order[j:], self.call_turns[j:], strict=True):
            c = comp_of[i]
            lst = turns.get(c)
            if lst is None:
                lst = turns[c] = []
                first[c] = {}
            lst.append(t)
            firsts = first[c]
            if len(firsts) < nwin and t % nwin not in firsts:
                firsts[t % nwin] = t

    def _cut(self, turn: int) -> None:
        """Forget the calls from ``turn`` on: the run goes on from there when next played."""
        j = bisect_left(self.call_turns, turn)
        turn_of = self.turn_of
        for i in self.order[j:]:
            turn_of[i] = -1
        del self.order[j:], self.call_turns[j:]
        for k in range(len(self.lines)):
            c = bisect_left(self.pick_turns[k], turn)
            del self.pick_turns[k][c:], self.pick_pos[k][c:]
            self.line_pos[k] = self.pick_pos[k][-1] + 1 if c else 0
        self.fail = [t if t < turn else -1 for t in self.fail]
        self.first_pos = [0] * self.nwin
        for lst in self.turns.values():
            del lst[bisect_left(lst, turn):]
        for comp, firsts in self.first.items():
            self.first[comp] = {w: t for w, t in firsts.items() if t < turn}
        round_start = turn - turn % self.nwin
        self.next_turn = turn
        self.moved = bool(self.call_turns) and self.call_turns[-1] >= round_start
        self.done = False

    def get(self, ticket_id: int) -> tuple[int, int] | None:
        """(N, windows) of a ticket some window calls in this run; None for the others."""
        with self.lock:
            i = self.index.get(ticket_id)
            if i is None:
                return None
            if self.turn_of[i] < 0:
                self._play(i)
            if (turn := self.turn_of[i]) < 0:
                return None
            c = self.comp_of[i]
            return bisect_left(self.turns[c], turn), sum(1 for t in self.first[c].values() if t <= turn)

    def as_dict(self) -> dict[int, tuple[int, int]]:
        with self.lock:
            self._play(None)
        return {tid: n for tid in self.index if (n := self.get(tid)) is not None}

    def _lines_of(self, code: str) -> list[int]:
        return [k for k, ends in enumerate(self.seg_end) if ends is None or code in ends]

    def _place(self, k: int, code: str, key: tuple[Any, int]) -> int:
        """Where an ordinary ticket of ``code`` issued at ``key`` (issued_at, id) goes in line
        ``k``: in its service's part (a universal line: all ordinary tickets), by issue order."""
        ends = self.seg_end[k]
        lo = self.jump_len[k]
        if ends is None:
            hi = len(self.lines[k])
        else:
            for c, end in ends.items():  # the parts follow each other in the window's order
                if c == code:
                    hi = end
                    break
                lo = end
        return bisect_left(self.lines[k], key, lo, hi, key=self.issue_key.__getitem__)

    def advance(self, new: list[tuple[Any, ...]]) -> bool:
        """Put newly issued tickets (rows as for the constructor) into the run, as if it had
        been made with them; False, and the run unchanged, unless every one is an ordinary
        ticket (of a service the run knows).

        Such a ticket goes into its service's part of each line it is in, by issue order —
        nearly always at its end; a ticket issued a moment before one another worker
        committed first goes just before that one — so the run goes exactly as before
        until a window of one of those lines would pick at or past that place (or finds
        nobody): the earliest such turn over the new tickets is where the runs part. The
        calls from there on are forgotten and played again when asked for
        (:meth:`get`); the ones before are kept. Called with the run's lock held.
        """
        if not new:
            return True
        new = sorted(new, key=_ISSUE_ORDER)
        for row in new:
            if (row[4] is not None or row[0] in self.index or row[1] not in self.comp
                    or _jump_key(row, 0, self.overdue_before, self.hhmm) is not None):
                return False
        # Where the runs part: the first pick at or past a new ticket's place in its lines.
        # Only what has been played is known: a place no window has reached yet parts nothing.
        diverge = None
        fail = self.fail
        for row in new:
            for k in self._lines_of(row[1]):
                q = self._place(k, row[1], (row[3], row[0]))
                pos = self.pick_pos[k]
                c = bisect_left(pos, q)
                at = [fail[w] for w in self.line_windows[k] if fail[w] >= 0]
                if c < len(pos):
                    at.append(self.pick_turns[k][c])
                if at and (diverge is None or min(at) < diverge):
                    diverge = min(at)
        if diverge is not None:  # keep the calls before it, forget the rest
            self._cut(diverge)
        for row in new:
            i = len(self.turn_of)
            self.turn_of.append(-1)
            self.comp_of.append(self.comp[row[1]])
            self.issue_key.append((row[3], row[0]))
            self.index[row[0]] = i
            for k in self._lines_of(row[1]):
                self.lines[k].insert(self._place(k, row[1], self.issue_key[i]), i)
                ends = self.seg_end[k]
                if ends is None:
                    continue
                after = False  # its service's part and the ones after it grow by one
                for code in ends:
                    after = after or code == row[1]
                    if after:
                        ends[code] += 1
        return True


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
    simulated run (:class:`_Run`): N as in the module docstring, and how many windows called
    those N and it (what the wait estimate divides by)."""
    return _Run(rows, windows, h).as_dict()



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
#: The tickets issued since a read: a range of the primary key (the unary ``+`` keeps the
#: planner off the (day, status) index, which would walk every waiting ticket of the day).
_ROWS_NEW_SQL = (
    "SELECT id, service_code, priority, issued_at, transfer_window, transferred_at, appointment_id "
    "FROM tickets WHERE id > ? AND +day = ? AND +status = 'waiting'"
)
_SLOTS_NEW_SQL = (
    "SELECT t.id, a.slot_start FROM tickets t JOIN appointments a ON a.id = t.appointment_id "
    f"WHERE t.id > ? AND +t.day = ? AND +t.status = 'waiting' AND +t.priority = '{APPOINTMENT}'"
)
#: db key → (day, last event id, highest ticket id, rows) of the newest read
_rows_cache: dict[str, tuple[str, int, int, list[tuple[Any, ...]]]] = {}


def _top(cur: sqlite3.Connection | sqlite3.Cursor) -> int:
    """The highest ticket id (a run has seen every ticket up to it)."""
    return int(cur.execute("SELECT COALESCE(MAX(id), 0) FROM tickets").fetchone()[0])


def _issued_since(conn: sqlite3.Connection, day: str, top: int, seen: int, upto: int,
                  unaffected: Callable[[str], bool]) -> tuple[list[tuple[Any, ...]], int] | None:
    """The waiting tickets of ``day`` above id ``top`` (rows as :func:`_rows` gives them) and
    the highest ticket id now, if every event after ``seen`` up to ``upto`` is of a type
    ``unaffected`` says leaves what was read before as it was; else None."""
    cur = conn.cursor()
    cur.row_factory = None
    try:
        types = cur.execute("SELECT DISTINCT type FROM events WHERE id > ? AND id <= ?", (seen, upto)).fetchall()
        if not all(unaffected(t[0]) for t in types):
            return None
        new = cur.execute(_ROWS_NEW_SQL, (top, day)).fetchall()
        slots = dict(cur.execute(_SLOTS_NEW_SQL, (top, day)).fetchall()) if new else {}
        if slots:
            new = [r[:6] + (slots.get(r[0]),) for r in new]
        return new, _top(cur)
    finally:
        cur.close()


def _rows_unaffected(event_type: str) -> bool:
    return event_type in _ROWS_KEEP or not event_type.startswith(("ticket.", "day."))


def _current_rows(conn: sqlite3.Connection, key: str, day: str, last_event: int, *, store: bool
                  ) -> tuple[list[tuple[Any, ...]], int]:
    """Today's waiting rows as of ``last_event``, read in the caller's snapshot, and the
    highest ticket id: the rows kept from the previous read plus the tickets issued since,
    when nothing else happened to tickets meanwhile — while kiosks issue, a run reads a
    handful of rows instead of every waiting ticket — else every row again. ``store``: keep
    these rows for the next read (only from a read snapshot: a write transaction's own rows
    may still be rolled back)."""
    with _lock:
        hit = _rows_cache.get(key)
    got: tuple[list[tuple[Any, ...]], int] | None = None
    if hit is not None and hit[0] == day and hit[1] <= last_event:
        _day, seen, top, kept = hit
        if seen == last_event:
            got = kept, top
        elif (since := _issued_since(conn, day, top, seen, last_event, _rows_unaffected)) is not None:
            new, top = since
            got = (kept + new if new else kept), top
    if got is None:
        got = _rows(conn, day), _top(conn)
    if store:
        with _lock:
            _rows_cache[key] = (day, last_event, got[1], got[0])
    return got


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
    # The run all worker processes share, if any (told how many of ours are about to ask).
    shared = ahead_shared.ask(ticket_id, h.day, flight.issuing)
    if shared is not None:
        return shared
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
                made = _runs_for(conn, key, h, _state(conn, h, read_snapshot=True))
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


def _runs_for(conn: sqlite3.Connection, key: str, h: Hall, state: tuple[Any, ...]) -> _Runs:
    """The runs for ``state`` (read in the caller's snapshot): the ones kept for it, or
    :func:`_open_run`'s, kept from now on."""
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == state:
        return hit[1]
    runs = _open_run(conn, key, h, state)
    with _lock:
        _cache[key] = (state, runs)
    return runs


def _open_run(conn: sqlite3.Connection, key: str, h: Hall, state: tuple[Any, ...]
              ) -> _Runs:
    """The runs for ``state`` (read in the caller's snapshot): the kept run with the tickets
    issued since put in, when that is all that happened; else a new run."""
    runs = _advanced(conn, key, state)
    if runs is not None:
        return runs
    rows, top = _current_rows(conn, key, h.day, int(state[1]), store=state[-1] is None)
    windows = load_windows(conn)
    run = _Run(rows, [w for w in windows if w.status == "open"], h)
    run.state, run.top = state, top
    return _Runs(run)


#: Events that change nothing a run is made from, besides the tickets issued (a window's
#: state, a call, a transfer, the catalogue, a new day: any other event means a new run).
_ADVANCE_OVER = frozenset({"ticket.issued", "notice.changed", "evaluation.created", "device.state_changed",
                           "printer.status", "rectification.changed"})


def _advanced(conn: sqlite3.Connection, key: str, state: tuple[Any, ...]) -> _Runs | None:
    """The kept run of ``key`` brought to ``state`` by putting in the tickets issued since
    (:meth:`_Run.advance`), or None when a new run is needed: other events happened, the
    minute or the settings changed, a new ticket jumps ahead, or ``state`` is a write
    transaction's own."""
    if state[-1] is not None:
        return None
    with _lock:
        hit = _cache.get(key)
    if hit is None:
        return None
    runs = hit[1]
    run = runs.open
    with run.lock:
        old = run.state
        if old is None or old[-1] is not None or old[0] != state[0] or old[2:5] != state[2:5]:
            return None
        if old[1] >= state[1]:
            return runs  # already there or past it (another caller brought it on): as good
        since = _issued_since(conn, state[0], run.top, old[1], state[1], _ADVANCE_OVER.__contains__)
        if since is None:
            return None
        new, top = since
        if not run.advance(new):
            return None
        run.state, run.top = state, top
        runs.all = None  # made from the old state; made again when needed
    return runs


def ahead_and_windows(conn: sqlite3.Connection, key: str, h: Hall, ticket_id: int) -> tuple[int, int]:
    """(N, windows calling them) of a waiting ticket; (0, 0) for one nobody would call."""
    return _answers(conn, key, h, [ticket_id])[ticket_id]


def answer_batch(conn: sqlite3.Connection, key: str, h: Hall, ticket_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(N, windows) of tickets committed before the call, all from one snapshot taken now
    (what the keeper of ``serve --workers N`` answers, :mod:`~queue_server.queue.ahead_keeper`)."""
    if conn.in_transaction:
        raise RuntimeError("answer_batch takes its own snapshot: call it outside a transaction")
    return _answers(conn, key, h, ticket_ids)


def _answers(conn: sqlite3.Connection, key: str, h: Hall, ticket_ids: list[int]) -> dict[int, tuple[int, int]]:
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")  # one snapshot: the state key and the rows agree
    try:
        state = _state(conn, h, read_snapshot=own)
        runs = _runs_for(conn, key, h, state)
        out: dict[int, tuple[int, int]] = {}
        for ticket_id in ticket_ids:
            n = runs.open.get(ticket_id)
            if n is None:
                everyone = runs.all
                if everyone is None:
                    rows, _top_id = _current_rows(conn, key, h.day, int(state[1]), store=state[-1] is None)
                    everyone = runs.all = _Run(rows, load_windows(conn), h)
                n = everyone.get(ticket_id) or (0, 0)
            out[ticket_id] = n
        return out
    finally:
        if own:
            conn.execute("COMMIT")
