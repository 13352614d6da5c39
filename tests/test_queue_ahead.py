"""前面还有 N 人 against the calling order itself: a hall with shared windows (一窗受理), N of
every waiting ticket compared with a run of ``call_next`` on a copy of the hall — the open
windows calling in turn, time standing still, counting the calls before each ticket of the
services that share its windows."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

from queue_server import queue as q
from queue_server.db import connect
from queue_server.queue.ahead import clear_cache
from queue_server.queue.hall_config import import_hall
from queue_server.settings import set_setting
from tests.support.queue import FakeClock, add_appointment

# Services: A1, A2 (shared by windows 1 and 2, in opposite order), B1 (window 2 and 3),
# C1 alone at window 4 (its own component), G priority at the green window 5 (serves C1).
CATALOG = {
    "categories": [{"code": "a", "name": "甲", "prefix": "A"}, {"code": "b", "name": "乙", "prefix": "B"},
                   {"code": "c", "name": "丙", "prefix": "C"}],
    "services": [
        {"code": "A1", "name": "甲一", "category": "a", "avg_minutes": 10},
        {"code": "A2", "name": "甲二", "category": "a", "avg_minutes": 10},
        {"code": "B1", "name": "乙一", "category": "b", "avg_minutes": 10},
        {"code": "C1", "name": "丙一", "category": "c", "avg_minutes": 10},
    ],
    "windows": [
        {"number": 1, "name": "1号窗口", "services": ["A1", "A2"]},
        {"number": 2, "name": "2号窗口", "services": ["A2", "B1", "A1"]},
        {"number": 3, "name": "3号窗口", "services": ["B1"]},
        {"number": 4, "name": "4号窗口", "services": ["C1"]},
        {"number": 5, "name": "5号窗口 绿色通道", "services": ["C1"], "kind": "green"},
    ],
}



def _hall(db, clock) -> None:
    import_hall(db, json.loads(json.dumps(CATALOG)))
    for w in CATALOG["windows"]:
        q.open_window(db, w["number"], clock=clock)


def _components(open_windows: list[int]) -> dict[str, int]:
    # What shares open windows with what, computed here independently of the engine.
    groups: list[set[str]] = [{s["code"]} for s in CATALOG["services"]]
    for w in CATALOG["windows"]:
        if w["number"] not in open_windows:
            continue
        s = set(w["services"])
        for g in [g for g in groups if g & s]:
            s |= g
            groups.remove(g)
        groups.append(s)
    return {code: i for i, g in enumerate(groups) for code in g}


def _replay(db_path: Path, tmp_path: Path, clock: FakeClock) -> tuple[list[dict], list[int]]:
    """call_next at every open window in turn on a copy of the hall until nobody is left."""
    copy = tmp_path / "copy.db"
    src = sqlite3.connect(db_path)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    db = connect(copy)
    try:
        open_windows = [w["number"] for w in q.windows(db) if w["status"] == "open"]
        called: list[dict] = []
        while True:
            round_ = [q.call_next(db, w, clock=clock) for w in open_windows]
            got = [t for t in round_ if t is not None]
            if not got:
                return called, open_windows
            called.extend(got)
    finally:
        db.conn.close()


def _expected(called: list[dict], open_windows: list[int]) -> dict[int, int]:
    comp = _components(open_windows)
    out: dict[int, int] = {}
    for i, t in enumerate(called):
        out[t["id"]] = sum(1 for u in called[:i] if comp[u["service"]] == comp[t["service"]])
    return out


def _check(db, db_path, tmp_path, clock) -> dict[int, int]:
    clear_cache()
    waiting = [r[0] for r in db.conn.execute("SELECT id FROM tickets WHERE status = 'waiting'")]
    got = {tid: q.get_ticket(db, tid, clock=clock)["waiting_ahead"] for tid in waiting}
    want = _expected(*_replay(db_path, tmp_path, clock))
    assert got == want
    # The progress page says the same.
    for tid in waiting[:5]:
        code = db.conn.execute("SELECT progress_code FROM tickets WHERE id = ?", (tid,)).fetchone()[0]
        assert q.ticket_progress(db, code, clock=clock)["waiting_ahead"] == want[tid]
    return got


def test_people_ahead_is_the_simulated_calling_order_across_shared_windows(db, db_path, tmp_path, clock):
    _hall(db, clock)
    rng = random.Random(18)
    for _ in range(60):
        clock.advance(rng.randint(1, 40))
        q.issue_ticket(db, rng.choice(["A1", "A1", "A2", "B1", "B1", "C1"]), clock=clock)
    # A few priority tickets (the green window takes them across services), an on-time appointment.
    for svc in ("A1", "C1", "B1"):
        clock.advance(5)
        q.issue_ticket(db, svc, priority="elderly", clock=clock)
    add_appointment(db, "YY000001", "A2", "10:15", "10:45")  # now is about 10:21: on time
    clock.advance(5)
    q.check_in(db, code="YY000001", clock=clock)
    # Some tickets already called, one transferred to window 3.
    first = q.call_next(db, 1, clock=clock)
    q.call_next(db, 2, clock=clock)
    q.transfer(db, first["id"], window=3, clock=clock)
    got = _check(db, db_path, tmp_path, clock)
    assert max(got.values()) > 20  # a real queue, not a trivial one


def test_overdue_tickets_and_a_closed_window_change_the_count(db, db_path, tmp_path, clock):
    _hall(db, clock)
    set_setting(db, "max_wait_minutes", 10)
    for i in range(30):
        clock.advance(45)
        q.issue_ticket(db, ["A1", "A2", "B1"][i % 3], clock=clock)
    _check(db, db_path, tmp_path, clock)  # the oldest ones are overdue: tier 3 first
    q.close_window(db, 2, clock=clock)
    _check(db, db_path, tmp_path, clock)


def test_same_service_is_not_the_whole_story(db, db_path, tmp_path, clock):
    """The old count (same service only) says 0 for the first B1; under 一窗受理 window 2
    calls the A2 tickets first (its list starts with A2), but window 3 takes B1 at once."""
    _hall(db, clock)
    q.close_window(db, 3, clock=clock)
    for svc in ("A2", "A2", "A2", "A1", "B1"):
        clock.advance(10)
        t = q.issue_ticket(db, svc, clock=clock)
    # Windows 1 and 2 call in turn: A2, A2 (round 1), A2, A1 (round 2), then B1.
    assert t["waiting_ahead"] == 4
    assert _check(db, db_path, tmp_path, clock)[t["id"]] == 4


def test_no_open_window_counts_with_every_window_open(db, db_path, tmp_path, clock):
    _hall(db, clock)
    for w in (1, 2, 3, 4, 5):
        q.close_window(db, w, clock=clock)
    tickets = [q.issue_ticket(db, "B1", clock=clock) for _ in range(3)]
    assert [t["waiting_ahead"] for t in tickets] == [0, 1, 2]


def test_rows_kept_between_runs_follow_every_change_and_n_at_issue_is_exact(db, db_path, clock):
    """The runs keep the waiting rows and read only newly issued tickets while nothing else
    happens (queue_server.queue.ahead._current_rows); after any other change they read every
    row again. Through a random morning the kept rows are the rows on disk, and the N a new
    ticket is issued with is the N computed from scratch."""
    from queue_server.db import db_path as key_of
    from queue_server.queue import ahead
    from queue_server.queue.common import hall

    _hall(db, clock)
    clear_cache()
    rng = random.Random(7)
    key = key_of(db)
    waiting: list[int] = []
    for step in range(160):
        clock.advance(rng.randint(1, 20))
        r = rng.random()
        if r < 0.6 or not waiting:
            t = q.issue_ticket(db, rng.choice(["A1", "A2", "B1", "C1"]),
                               priority="elderly" if rng.random() < 0.1 else None, clock=clock)
            waiting.append(t["id"])
            issued_with = t["waiting_ahead"]
            clear_cache()  # from scratch
            assert q.get_ticket(db, t["id"], clock=clock)["waiting_ahead"] == issued_with, step
        elif r < 0.8:
            q.call_next(db, rng.choice([1, 2, 3, 4, 5]), clock=clock)
        elif r < 0.9:
            tid = rng.choice(waiting)
            if q.get_ticket(db, tid, clock=clock)["status"] == "waiting":
                q.cancel(db, tid, clock=clock)
        else:
            called = db.conn.execute("SELECT id, window FROM tickets WHERE status = 'called'").fetchone()
            if called:
                q.transfer(db, called[0], window=rng.choice([w for w in (1, 2, 3) if w != called[1]]), clock=clock)
        h = hall(db, clock)
        db.conn.execute("BEGIN")
        try:
            last = db.conn.execute("SELECT MAX(id) FROM events").fetchone()[0]
            kept, _top = ahead._current_rows(db.conn, key, h.day, last, store=True)
            on_disk = ahead._rows(db.conn, h.day)
        finally:
            db.conn.execute("COMMIT")
        assert sorted(kept) == sorted(on_disk), step


def test_a_kept_run_with_new_tickets_put_in_says_what_a_run_from_scratch_says(db, clock):
    """While kiosks issue, the run is not made again: the new tickets are put into the kept
    one (queue_server.queue.ahead._Run.advance) from the turn where it would first differ.
    Through a random morning — issues in bursts, calls, transfers, priority tickets, a window
    closing — N of every waiting ticket from the kept run is N from scratch."""
    from queue_server.queue import ahead

    _hall(db, clock)
    clear_cache()
    rng = random.Random(11)
    advanced = 0
    real_advance = ahead._Run.advance

    def counting(self, new):
        nonlocal advanced
        ok = real_advance(self, new)
        advanced += bool(ok and new)
        return ok

    def open_windows() -> list[int]:
        return [w["number"] for w in q.windows(db) if w["status"] == "open"]

    ahead._Run.advance = counting
    try:
        for step in range(120):
            clock.advance(rng.randint(1, 15))
            r = rng.random()
            if r < 0.7:
                for _ in range(rng.randint(1, 4)):
                    q.issue_ticket(db, rng.choice(["A1", "A2", "B1", "C1"]),
                                   priority="elderly" if rng.random() < 0.05 else None, clock=clock)
            elif r < 0.85:
                q.call_next(db, rng.choice(open_windows()), clock=clock)
            elif r < 0.9:
                called = db.conn.execute("SELECT id, window FROM tickets WHERE status = 'called'").fetchone()
                targets = [w for w in open_windows() if w in (1, 2, 3) and called and w != called[1]]
                if targets:
                    q.transfer(db, called[0], window=rng.choice(targets), clock=clock)
            elif r < 0.92:
                w = rng.choice([1, 2, 3])
                if w in open_windows():
                    q.close_window(db, w, clock=clock)
                else:
                    q.open_window(db, w, clock=clock)
            waiting = [t[0] for t in db.conn.execute("SELECT id FROM tickets WHERE status = 'waiting'")]
            kept = {tid: q.get_ticket(db, tid, clock=clock)["waiting_ahead"] for tid in waiting}
            clear_cache()
            fresh = {tid: q.get_ticket(db, tid, clock=clock)["waiting_ahead"] for tid in waiting}
            assert kept == fresh, step
            # the next step starts from a kept run again (the one just made from scratch)
    finally:
        ahead._Run.advance = real_advance
    assert advanced > 30  # the kept run was really brought on, not made again each time


def test_putting_tickets_into_a_run_equals_running_again_on_random_halls():
    """_Run.advance against a run from scratch on 600 random halls: universal, green and
    shared windows, transfers, priority and appointment tickets, several new tickets at
    once, some of which no open window calls, some issued before tickets already in; runs
    played to the end and runs played only as far as a few tickets asked about."""
    from queue_server.queue.ahead import _Run
    from queue_server.queue.common import Window

    class H:
        now, tz, day = 100000.0, "Asia/Shanghai", "2026-12-03"
        settings: dict = {}

    rng = random.Random(3)
    services = ["A1", "A2", "B1", "B2", "C1", "D1"]
    next_id = 0

    def ticket(h, issued, ordinary):
        nonlocal next_id
        next_id += 1
        prio = None if ordinary else rng.choice([None] * 6 + ["elderly", "appointment"])
        tw = None if ordinary else rng.choice([None] * 8 + [1, 2])
        return (next_id, rng.choice(services), prio, issued, tw, h.now - rng.randint(0, 100) if tw else None,
                rng.choice([None, "00:00", "23:59"]) if prio == "appointment" else None)

    advanced = 0
    for _ in range(600):
        windows = []
        for n in range(1, rng.randint(2, 7)):
            if rng.random() < 0.25:
                windows.append(Window(n, f"{n}", ["*"], "open", None, None, "universal"))
            else:
                windows.append(Window(n, f"{n}", rng.sample(services, rng.randint(1, 3)), "open", None, None,
                                      "green" if rng.random() < 0.2 else "normal"))
        h = H()
        h.settings = {"max_wait_minutes": rng.choice([0, 10])}
        rows = [ticket(h, h.now - rng.randint(0, 3000), False) for _ in range(rng.randint(0, 40))]
        run = _Run(rows, windows, h)
        for step in range(rng.randint(1, 5)):
            # Mostly the newest; some issued a moment before tickets already in (another
            # worker committed first), some long before (overdue: a new run).
            new = [ticket(h, rng.choice([h.now + 10 * step + k] * 5 + [h.now - rng.randint(0, 3000)]),
                          rng.random() < 0.95) for k in range(rng.randint(0, 4))]
            if run.advance(new):
                advanced += 1
            else:
                run = _Run(rows + new, windows, h)
            rows = rows + new
            fresh = _Run(rows, windows, h).as_dict()
            if rng.random() < 0.5:
                # A few tickets asked about: the run is played only as far as they are
                # called, and the next new tickets are put into a run played partly.
                for r in rng.sample(rows, min(len(rows), rng.randint(1, 3))):
                    assert run.get(r[0]) == fresh.get(r[0])
            else:
                assert run.as_dict() == fresh
    assert advanced > 1000


def test_worker_processes_ask_one_keeper_and_get_what_they_would_count_themselves(db, clock):
    """``serve --workers N``: the starting process keeps the hall's run and answers every
    worker's 前面还有 N 人 (queue_server.queue.ahead_keeper). Through issues, calls and a
    window closing, every answer is N counted from scratch; a keeper that is gone (or asked
    about another day) leaves the worker to count by itself, with the same N."""
    from queue_server.db import db_path
    from queue_server.queue import ahead_shared
    from queue_server.queue.ahead_keeper import Keeper

    _hall(db, clock)
    clear_cache()
    keeper = Keeper(db_path(db), clock=clock)
    keeper.start()
    ahead_shared.use(keeper.path)
    rng = random.Random(5)
    issued = 0
    try:
        for step in range(60):
            clock.advance(rng.randint(1, 20))
            if rng.random() < 0.2:
                q.call_next(db, rng.choice([1, 2, 3, 4]), clock=clock)
            if step == 30:
                q.close_window(db, 2, clock=clock)
            t = q.issue_ticket(db, rng.choice(["A1", "A2", "B1", "C1"]), clock=clock)
            issued += 1
            clear_cache()  # counted again from scratch in this process
            assert t["waiting_ahead"] == q.get_ticket(db, t["id"], clock=clock)["waiting_ahead"], step
        assert keeper.answered == issued and 0 < keeper.batches <= issued

        other_day = FakeClock(clock() + 86400)
        t = q.issue_ticket(db, "A1", clock=other_day)  # a day the keeper is not at
        assert keeper.answered == issued
        assert t["waiting_ahead"] == 0  # the first of its day, counted by the worker

        keeper.close()
        t = q.issue_ticket(db, "B1", clock=clock)
        clear_cache()
        assert t["waiting_ahead"] == q.get_ticket(db, t["id"], clock=clock)["waiting_ahead"]
        assert ahead_shared.ask(t["id"], "2026-11-25") is None  # not asked again for a while
    finally:
        ahead_shared.use(None)
        keeper.close()


def test_a_keeper_that_fails_leaves_the_workers_counting_at_once(db, clock):
    """The keeper's loop dying (a bug) closes its connections and its socket: a worker
    waiting on it gets the same N by counting itself, without waiting out ASK_TIMEOUT_S."""
    import time

    from queue_server.db import db_path
    from queue_server.queue import ahead_shared
    from queue_server.queue.ahead_keeper import Keeper

    _hall(db, clock)
    clear_cache()
    keeper = Keeper(db_path(db), clock=clock)

    def broken(_db, _pending):
        raise RuntimeError("a bug in the keeper")

    keeper._answer = broken  # type: ignore[method-assign]
    keeper.start()
    ahead_shared.use(keeper.path)
    try:
        for code in ("A1", "B1"):
            ahead_shared.use(keeper.path)  # asks again at once (not RETRY_AFTER_S later)
            t0 = time.monotonic()
            t = q.issue_ticket(db, code, clock=clock)
            assert time.monotonic() - t0 < ahead_shared.ASK_TIMEOUT_S / 2
            clear_cache()
            assert t["waiting_ahead"] == q.get_ticket(db, t["id"], clock=clock)["waiting_ahead"]
        assert keeper.answered == 0
    finally:
        ahead_shared.use(None)
        keeper.close()
