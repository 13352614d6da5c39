"""GET /api/stats/evaluations on a synthetic day, against a count made by hand.

The day (Wed 2026-11-25), written out so the expected figures can be checked by reading:

    window 1 (clerk1): t1 QY01 → 5 · t2 QY01 → 4 · t3 QY01 → 1 (attitude, efficiency)
                       t4 SB01 → rated 3 by phone two days later
    window 2 (clerk2): t5 SB01 → 2 (attitude) · t6 SB01 → 3 · t7 QY01 unrated
    kiosk:             c1 approval SB01 → 5 · c2 licence_show JSZ unrated
    not served:        a no-show at window 1, a ticket still waiting
    the day before:    t0 QY01 at window 1 → 5
    t3's case is verified and rectified the same day and followed up (on time);
    t5's case is left alone and is overdue on Dec 3 (deadline Dec 2).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from queue_server import queue as engine
from queue_server.archive import archive_days
from tests.support.evaluations import Api, assert_error, finished_ticket, kiosk_case, seed
from tests.support.queue import FakeClock

DAY = "2026-11-25"


@pytest.fixture(scope="module")
def built():
    tmp = Path(tempfile.mkdtemp())
    from queue_server.db import connect
    from queue_server.migrations import open_db

    path = tmp / "hall.db"
    open_db(path).conn.close()
    db = connect(path)
    clock = FakeClock()
    clock.set("2026-11-24", "10:00")
    hall = seed(db, clock)
    api = Api(path, hall, clock)
    c1, c2 = hall["users"]["clerk1"]["id"], hall["users"]["clerk2"]["id"]
    engine.open_window(db, 1, c1, clock=clock)
    engine.open_window(db, 2, c2, clock=clock)
    pad, kiosk = api.as_("display"), api.as_("kiosk")

    t0 = finished_ticket(db, clock, window=1, clerk=c1)
    assert pad.rate(ticket=t0["id"], level=5, channel="window").status_code == 201

    clock.set(DAY, "09:00")
    t = {}
    for name, service, window, clerk in (("t1", "QY01", 1, c1), ("t2", "QY01", 1, c1), ("t3", "QY01", 1, c1),
                                         ("t4", "SB01", 1, c1), ("t5", "SB01", 2, c2), ("t6", "SB01", 2, c2),
                                         ("t7", "QY01", 2, c2)):
        t[name] = finished_ticket(db, clock, service=service, window=window, clerk=clerk)
        clock.advance(minutes=10)
    gone = engine.issue_ticket(db, "QY01", clock=clock)
    engine.call_next(db, 1, clerk_user_id=c1, clock=clock)
    engine.no_show(db, gone["id"], clerk_user_id=c1, clock=clock)
    engine.issue_ticket(db, "QY01", clock=clock)                       # still waiting
    case1 = kiosk_case(db, clock)
    kiosk_case(db, clock, kind="licence_show", item="JSZ", item_name="机动车驾驶证")

    def ok(r):
        assert r.status_code == 201, r.get_json()
        return r.json

    ok(pad.rate(ticket=t["t1"]["id"], level=5, channel="window"))
    ok(pad.rate(ticket=t["t2"]["id"], level=4, channel="window"))
    r3 = ok(pad.rate(ticket=t["t3"]["id"], level=1, reasons=["attitude", "efficiency"], channel="window"))
    ok(pad.rate(ticket=t["t5"]["id"], level=2, reasons=["attitude"], channel="window"))
    ok(pad.rate(ticket=t["t6"]["id"], level=3, channel="window"))
    ok(kiosk.rate(case=case1["number"], level=5, channel="kiosk"))
    sup = api.as_("supervisor")
    case3 = r3["rectification"]["id"]
    assert sup.step(case3, "verify").status_code == 200
    assert sup.step(case3, "rectify", measure="当日约谈并培训").status_code == 200
    assert sup.step(case3, "follow_up", method="phone", outcome="satisfied").status_code == 200
    clock.set("2026-11-27", "20:00")
    code4 = db.conn.execute("SELECT progress_code FROM tickets WHERE id = ?", (t["t4"]["id"],)).fetchone()[0]
    ok(api.as_(None).rate(code=code4, level=3, channel="phone"))
    clock.set("2026-12-03", "09:00")
    yield {"api": api, "db": db, "hall": hall, "clerks": (c1, c2), "path": path, "clock": clock}
    db.conn.close()


def stats(api, group, start=DAY, end=DAY):
    r = api.as_("admin").get(f"/api/stats/evaluations?from={start}&to={end}&group={group}")
    assert r.status_code == 200, r.get_json()
    return r.json


def figures(served, rated, levels, reasons, opened=0, on_time=0, overdue=0, followed=0):
    good = sum(n for lvl, n in levels.items() if lvl >= 3)
    bad = sum(n for lvl, n in levels.items() if lvl <= 2)
    active = rated / served if served else None
    return {
        "served": served, "rated": rated, "unrated": served - rated, "good": good, "bad": bad,
        "good_rate": good / rated if rated else None, "active_rate": active,
        "unrated_rate": 1 - active if active is not None else None,
        "levels": {str(lvl): levels.get(lvl, 0) for lvl in range(1, 6)},
        "top_reasons": reasons, "rectifications_opened": opened, "rectifications_on_time": on_time,
        "rectifications_overdue": overdue, "rectifications_invalid": 0, "followed_up": followed,
        "follow_up_rate": followed / opened if opened else None,
        "second_rated": 0, "second_good": 0, "second_bad": 0,
    }


ATTITUDE = {"code": "attitude", "name": "服务态度不好", "name_en": "Poor service attitude"}
EFFICIENCY = {"code": "efficiency", "name": "办理效率低、等候时间长", "name_en": "Slow handling or long wait"}


def test_the_day_in_total_matches_the_hand_count(built):
    got = stats(built["api"], "day")
    assert got["from"] == got["to"] == DAY and got["group"] == "day"
    # served 7 tickets + 2 cases; rated t1 t2 t3 t4 t5 t6 c1; levels 5: t1 c1, 4: t2, 3: t4 t6, 2: t5, 1: t3
    expected = figures(9, 7, {5: 2, 4: 1, 3: 2, 2: 1, 1: 1},
                       [{**ATTITUDE, "count": 2}, {**EFFICIENCY, "count": 1}],
                       opened=2, on_time=1, overdue=1, followed=1)
    assert got["rows"] == [{"group": DAY, "day": DAY, **expected}]
    assert got["total"] == expected
    assert expected["good_rate"] == 5 / 7 and expected["active_rate"] == 7 / 9
    assert got["total"]["unrated_rate"] == pytest.approx(2 / 9)


def test_by_window_and_by_clerk(built):
    w1 = figures(4, 4, {5: 1, 4: 1, 3: 1, 1: 1}, [{**ATTITUDE, "count": 1}, {**EFFICIENCY, "count": 1}],
                 opened=1, on_time=1, followed=1)
    w2 = figures(3, 2, {3: 1, 2: 1}, [{**ATTITUDE, "count": 1}], opened=1, overdue=1)
    kiosk = figures(2, 1, {5: 1}, [])
    got = stats(built["api"], "window")["rows"]
    assert got == [{"group": 1, "window": 1, **w1}, {"group": 2, "window": 2, **w2},
                   {"group": "kiosk", "window": None, **kiosk}]
    c1, c2 = built["clerks"]
    got = stats(built["api"], "clerk")["rows"]
    assert got == [{"group": c1, "clerk": c1, "clerk_name": "王晓明", "staff_no": "0101", **w1},
                   {"group": c2, "clerk": c2, "clerk_name": "李娜", "staff_no": "0102", **w2},
                   {"group": None, "clerk": None, "clerk_name": None, "staff_no": None, **kiosk}]


def test_by_service(built):
    got = {r["service"]: r for r in stats(built["api"], "service")["rows"]}
    assert set(got) == {"QY01", "SB01", "JSZ"}
    # QY01: t1 5, t2 4, t3 1, t7 unrated. SB01: t4 3, t5 2, t6 3, c1 5. JSZ: c2 unrated.
    assert got["QY01"] == {"group": "QY01", "service": "QY01", "service_name": "企业设立登记",
                           **figures(4, 3, {5: 1, 4: 1, 1: 1}, [{**ATTITUDE, "count": 1}, {**EFFICIENCY, "count": 1}],
                                     opened=1, on_time=1, followed=1)}
    assert got["SB01"]["served"] == 4 and got["SB01"]["rated"] == 4 and got["SB01"]["good_rate"] == 3 / 4
    assert got["SB01"]["rectifications_overdue"] == 1
    assert got["JSZ"] == {"group": "JSZ", "service": "JSZ", "service_name": "机动车驾驶证", **figures(1, 0, {}, [])}
    assert got["JSZ"]["good_rate"] is None and got["JSZ"]["active_rate"] == 0.0 and got["JSZ"]["unrated_rate"] == 1.0


def test_every_day_of_the_period_is_a_row(built):
    got = stats(built["api"], "day", "2026-11-24", "2026-11-26")
    assert [r["day"] for r in got["rows"]] == ["2026-11-24", DAY, "2026-11-26"]
    assert got["rows"][0] == {"group": "2026-11-24", "day": "2026-11-24", **figures(1, 1, {5: 1}, [])}
    empty = got["rows"][2]
    assert (empty["served"], empty["good_rate"], empty["active_rate"], empty["unrated_rate"]) == (0, None, None, None)
    assert got["total"]["served"] == 10 and got["total"]["rated"] == 8


def test_bad_queries(built):
    api = built["api"]
    assert_error(api.as_("admin").get("/api/stats/evaluations?from=2026-11-25"), 422, "missing_field")
    assert_error(api.as_("admin").get("/api/stats/evaluations?from=2026-11-26&to=2026-11-25"), 422, "bad_period")
    assert_error(api.as_("admin").get("/api/stats/evaluations?from=25.11.2026&to=2026-11-25"), 422, "bad_period")
    assert_error(api.as_("admin").get("/api/stats/evaluations?from=2025-01-01&to=2026-11-25"), 422, "bad_period")
    assert_error(api.as_("admin").get(f"/api/stats/evaluations?from={DAY}&to={DAY}&group=week"), 422, "bad_group")
    assert_error(api.as_("clerk").get(f"/api/stats/evaluations?from={DAY}&to={DAY}"), 403, "forbidden")
    assert api.as_("supervisor").get(f"/api/stats/evaluations?from={DAY}&to={DAY}").status_code == 200


def test_archived_days_keep_their_served_count(built):
    before = stats(built["api"], "window", "2026-11-24", "2026-11-24")["rows"]
    out = archive_days(built["db"], built["path"].with_name("archive.db"), before=DAY)
    assert out["moved"]["tickets"] == 1 and out["moved"]["evaluation_served_rows"] == 1
    after = stats(built["api"], "window", "2026-11-24", "2026-11-24")["rows"]
    assert after == before and after[0]["served"] == 1 and after[0]["rated"] == 1
    assert stats(built["api"], "day")["total"]["served"] == 9       # the day itself untouched
