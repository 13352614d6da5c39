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
