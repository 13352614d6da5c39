"""A synthetic hall day whose statistics are counted by hand (docs/admin.md's formulas).

``synthetic_day(db)`` builds 2026-11-25 (Wednesday) in a 3-window demo hall (windows 1
and 2 universal, 15 green channel; only 1 and 2 open), with a clock it moves:

======  ======  =====  =====================================================================
ticket  number  issued what happens
======  ======  =====  =====================================================================
T1      H001    08:40  w1 calls 08:50, start 08:51, finish 09:01
T2      H002    08:42  w2 calls 08:55, start 08:57, transferred to w1 09:05, w1 calls 09:06,
                       start 09:07, finish 09:12
T3      A001    08:45  w1 calls 09:02, no-show 09:04
T4      A002    08:50  w2 calls 09:12, recall 09:13, start 09:15, finish 09:24
T5      H003    09:10  still waiting at 09:30
T6      A003    09:15  cancelled 09:16
======  ======  =====  =====================================================================

clerk1 opens window 1 and clerk2 window 2 at 08:30; the figures are taken at 09:30.
"""

from __future__ import annotations

from typing import Any

from queue_server import queue as engine
from queue_server.demo import make_hall
from queue_server.settings import set_setting

DAY = "2026-11-25"


def synthetic_day(db: Any, clock: Any) -> dict[str, Any]:
    """Build the day above; returns ``{"tickets": {"T1": id, ...}, "numbers": {...}, "users": ...}``."""
    clock.set(DAY, "08:00")
    made = make_hall(db, windows=3, appointments=0, open_windows=False, clock=clock)
    set_setting(db, "admin.wait_target_minutes", {"*": 15})
    c1 = made["users"]["clerk1"]["id"]
    c2 = made["users"]["clerk2"]["id"]
    ids: dict[str, int] = {}
    numbers: dict[str, str] = {}

    def at(hhmm: str) -> None:
        clock.set(DAY, hhmm)

    def issue(name: str, service: str, hhmm: str) -> None:
        at(hhmm)
        t = engine.issue_ticket(db, service, clock=clock)
        ids[name], numbers[name] = t["id"], t["number"]

    at("08:30")
    engine.open_window(db, 1, c1, clock=clock)
    engine.open_window(db, 2, c2, clock=clock)
    issue("T1", "ZH01", "08:40")
    issue("T2", "ZH01", "08:42")
    issue("T3", "QY01", "08:45")
    issue("T4", "QY01", "08:50")
    at("08:50")
    assert engine.call_next(db, 1, clerk_user_id=c1, clock=clock)["id"] == ids["T1"]
    at("08:51")
    engine.start(db, ids["T1"], clerk_user_id=c1, clock=clock)
    at("08:55")
    assert engine.call_next(db, 2, clerk_user_id=c2, clock=clock)["id"] == ids["T2"]
    at("08:57")
    engine.start(db, ids["T2"], clerk_user_id=c2, clock=clock)
    at("09:01")
    engine.finish(db, ids["T1"], clerk_user_id=c1, clock=clock)
    at("09:02")
    assert engine.call_next(db, 1, clerk_user_id=c1, clock=clock)["id"] == ids["T3"]
    at("09:04")
    engine.no_show(db, ids["T3"], clerk_user_id=c1, clock=clock)
    at("09:05")
    engine.transfer(db, ids["T2"], window=1, clerk_user_id=c2, clock=clock)
    at("09:06")
    assert engine.call_next(db, 1, clerk_user_id=c1, clock=clock)["id"] == ids["T2"]
    at("09:07")
    engine.start(db, ids["T2"], clerk_user_id=c1, clock=clock)
    issue("T5", "ZH01", "09:10")
    at("09:12")
    engine.finish(db, ids["T2"], clerk_user_id=c1, clock=clock)
    assert engine.call_next(db, 2, clerk_user_id=c2, clock=clock)["id"] == ids["T4"]
    at("09:13")
    engine.recall(db, ids["T4"], window=2, clerk_user_id=c2, clock=clock)
    issue("T6", "QY01", "09:15")
    at("09:15")
    engine.start(db, ids["T4"], clerk_user_id=c2, clock=clock)
    at("09:16")
    engine.cancel(db, ids["T6"], clock=clock)
    at("09:24")
    engine.finish(db, ids["T4"], clerk_user_id=c2, clock=clock)
    at("09:30")
    return {"tickets": ids, "numbers": numbers, "users": made["users"], "clerks": (c1, c2)}


#: The days :func:`synthetic_days` builds by default (Monday to Thursday).
DAYS = ("2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26")


def synthetic_days(db: Any, clock: Any, days: tuple[str, ...] = DAYS, *, seed: int = 5,
                   last_until: str = "11:30") -> dict[str, Any]:
    """Several hall days driven through the queue engine minute by minute (seeded): windows
    1–3 universal, 4 企业开办, 15 green channel; clerks sign in at 08:30 (window 3 is opened
    by an admin, no clerk), window 1 pauses for 20 minutes on even days, a ticket arrives
    more than one a minute on average (one in ten a priority ticket); clerks call, and after
    a minute or three start (then finish after 3 to 12 minutes), mark no-show, recall or
    transfer (to another window or service). At 11:30 the windows close — except that on the second day window
    2 stays open overnight with its called ticket — and whatever still waits is expired by
    the next day's first ticket. The last day stops at ``last_until`` (its tickets may
    still be open). Returns ``{"clerks": {window: user id}, "tickets": n}``."""
    import random

    from queue_server.errors import Conflict

    rng = random.Random(seed)
    clock.set(days[0], "08:00")
    made = make_hall(db, windows=5, appointments=0, open_windows=False, clock=clock)
    set_setting(db, "admin.wait_target_minutes", {"*": 15, "QY01": 10})
    users = made["users"]
    clerks: dict[int, int | None] = {1: users["clerk1"]["id"], 2: users["clerk2"]["id"], 3: None,
                                     4: users["clerk4"]["id"], 15: users["clerk5"]["id"]}
    codes = ["ZH01", "ZH02", "QY01", "QY02", "SB01", "SW01", "MZ02"]
    issued = 0
    for n, day in enumerate(days):
        current: dict[int, tuple[int, str, float]] = {}  # window → (ticket, phase, due)
        stop = last_until if n == len(days) - 1 else "11:30"
        minutes = [f"{h:02d}:{m:02d}" for h in range(8, 12) for m in range(60)]
        for hhmm in [x for x in minutes if "08:30" <= x <= stop]:
            clock.set(day, hhmm)
            now = clock()
            if hhmm == "08:30":
                for w, c in clerks.items():
                    if not (n == 2 and w == 2):  # on the day after the night open, window 2 just goes on
                        engine.open_window(db, w, c, clock=clock)
            if n % 2 == 0 and hhmm == "10:00":
                engine.pause_window(db, 1, "午间休息", clerk_user_id=clerks[1], clock=clock)
            if n % 2 == 0 and hhmm == "10:20":
                engine.resume_window(db, 1, clerk_user_id=clerks[1], clock=clock)
            if rng.random() < 0.6:
                engine.issue_ticket(db, rng.choice(codes), priority="elderly" if rng.random() < 0.1 else None,
                                    clock=clock)
                issued += 1
            for w, c in clerks.items():
                if n % 2 == 0 and w == 1 and "10:00" <= hhmm < "10:20":
                    continue
                if w not in current:
                    t = engine.call_next(db, w, clerk_user_id=c, clock=clock)
                    if t is not None:
                        current[w] = (t["id"], "called", now + 60 * rng.randint(1, 3))
                    continue
                tid, phase, due = current[w]
                if now < due:
                    continue
                r = rng.random()
                if phase == "called" and r < 0.1:
                    engine.no_show(db, tid, clerk_user_id=c, clock=clock)
                    del current[w]
                elif phase == "called" and r < 0.18:
                    try:
                        engine.recall(db, tid, window=w, clerk_user_id=c, clock=clock)
                        current[w] = (tid, "called", now + 60 * rng.randint(1, 2))
                    except Conflict:
                        del current[w]
                elif r < 0.26:
                    other = rng.choice([x for x in clerks if x != w])
                    if rng.random() < 0.5:
                        engine.transfer(db, tid, window=other, clerk_user_id=c, clock=clock)
                    else:
                        engine.transfer(db, tid, service=rng.choice(codes), clerk_user_id=c, clock=clock)
                    del current[w]
                elif phase == "called":
                    engine.start(db, tid, clerk_user_id=c, clock=clock)
                    current[w] = (tid, "serving", now + 60 * rng.randint(3, 12))
                else:
                    engine.finish(db, tid, clerk_user_id=c, clock=clock)
                    del current[w]
        if stop == "11:30":
            clock.set(day, "11:30")
            for w, c in clerks.items():
                if not (n == 1 and w == 2):  # left open overnight, with whatever it had called
                    engine.close_window(db, w, clerk_user_id=c, clock=clock)
    return {"clerks": clerks, "tickets": issued}
