"""The statistics' per-day facts of closed days (queue_server/admin/rollups.py): the fast
path gives exactly the figures of a full recomputation from the rows — over several
engine-driven days, a window left open overnight, a day still open, and a range that
crosses the archive cut — and facts are made only for closed days, survive archiving,
follow the settings they depend on, and are made by the daily job. Also the one
definition the per-day split relies on, counted by hand: a ticket waits (and is handled)
within its own business day only."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace

import pytest
from support.admin import DAYS, synthetic_days

from queue_server import queue as engine
from queue_server import schedule
from queue_server.admin import rollups, stats
from queue_server.archive import archive_days
from queue_server.db import connect
from queue_server.demo import make_hall
from queue_server.settings import set_setting
from tests.support.queue import FakeClock, hall_time

FIRST, LAST = DAYS[0], DAYS[-1]
NOW = hall_time(LAST, "10:30")  # the last day is today, its morning still going


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Four engine-driven days (the last one until 10:30), built once; each test gets a copy."""
    path = tmp_path_factory.mktemp("days") / "hall.db"
    from queue_server.migrations import open_db

    db = open_db(path)
    clock = FakeClock()
    made = synthetic_days(db, clock, last_until="10:30")
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return path, made


@pytest.fixture
def days_db(built, tmp_path):
    src, made = built
    path = tmp_path / "hall.db"
    shutil.copy(src, path)
    db = connect(path)
    yield db, path, made
    db.conn.close()


def stored(db) -> dict[str, int]:
    return dict(db.conn.execute("SELECT day, tickets FROM admin_stats_days").fetchall())


def assert_same(db, f, t, now=NOW):
    for group in stats.GROUPS:
        fast = stats.queue_stats(db, f, t, group, now=now)
        full = stats.queue_stats(db, f, t, group, now=now, rollups=False)
        assert fast == full, group


def test_fast_path_equals_recomputation_and_only_closed_days_are_kept(days_db):
    db, _path, made = days_db
    assert stored(db) == {}
    total = stats.queue_stats(db, FIRST, LAST, "day", now=NOW)["total"]
    assert total["issued"] == made["tickets"] > 250 and total["expired"] > 0 and total["open"] > 0
    # the three closed days were read once and kept; today (still open) is never kept
    kept = stored(db)
    assert set(kept) == set(DAYS[:-1])
    by_day = {r["group"]: r["issued"] for r in stats.queue_stats(db, FIRST, LAST, "day", now=NOW)["rows"]}
    assert all(kept[d] == by_day[d] for d in DAYS[:-1])
    made_at = db.conn.execute("SELECT MAX(made_at) FROM admin_stats_days").fetchone()[0]
    assert_same(db, FIRST, LAST)  # every grouping, now read from the kept days + today
    assert_same(db, DAYS[1], DAYS[2])
    assert db.conn.execute("SELECT MAX(made_at) FROM admin_stats_days").fetchone()[0] == made_at  # not remade
    # the window left open overnight (day 2 → day 3) counts open time all night, idle none
    win = {r["group"]: r for r in stats.queue_stats(db, DAYS[1], DAYS[2], "window", now=NOW)["rows"]}
    assert win["2"]["open_s"] > win["1"]["open_s"] + 12 * 3600
    # a drill-down reads only its row's tickets and finds what a full read finds
    for group, key, figure in (("service", "QY01", "served"), ("window", "2", "wait"), ("clerk", "0101", "issued"),
                               ("window", "null", "open"), ("day", DAYS[1], "expired"), ("hour", "09:00", "called"),
                               ("clerk", "null", "issued"), ("category", "qiye", "over_target")):
        quick = stats.tickets_behind(db, FIRST, LAST, group, key, figure, now=NOW)
        full = stats.tickets_behind(db, FIRST, LAST, group, key, figure, now=NOW,
                                    data=stats.load(db, FIRST, LAST, now=NOW))
        assert quick == full and quick["count"] > 0, (group, key, figure)


def test_a_range_across_the_archive_cut_reads_kept_days_and_archived_rows_alike(days_db):
    db, path, _made = days_db
    before = {g: stats.queue_stats(db, FIRST, LAST, g, now=NOW, rollups=False) for g in stats.GROUPS}
    stats.queue_stats(db, FIRST, DAYS[1], "day", now=NOW)  # the first two days are kept …
    assert set(stored(db)) == set(DAYS[:2])
    moved = archive_days(db, str(path) + ".archive.db", before=DAYS[2])["moved"]
    assert moved["tickets"] > 200 and moved["admin_window_log"] > 0  # … three days archived
    assert set(stored(db)) == set(DAYS[:2])  # the kept days stay in the hall file
    for g in stats.GROUPS:  # day 3 now made from the archive, days 1–2 kept, today live
        assert stats.queue_stats(db, FIRST, LAST, g, now=NOW) == before[g], g
    assert set(stored(db)) == set(DAYS[:3])
    assert_same(db, FIRST, LAST)
    assert_same(db, DAYS[1], LAST)  # starting on an archived day whose window stayed open overnight
    # even without the archive file, the kept days answer (and nothing is missing)
    kept = stats.queue_stats(db, FIRST, DAYS[2], "service", now=NOW)
    (path.parent / "hall.db.archive.db").rename(path.parent / "elsewhere.db")
    assert stats.queue_stats(db, FIRST, DAYS[2], "service", now=NOW) == kept
    assert kept["missing_archives"] == [] and kept["total"]["issued"] > 200


def test_kept_days_follow_the_settings_they_depend_on(days_db):
    db, _path, _made = days_db
    stats.queue_stats(db, FIRST, LAST, "service", now=NOW)
    basis = db.conn.execute("SELECT DISTINCT basis FROM admin_stats_days").fetchall()
    # targets are applied when asked: a new target changes served_within_target at once
    set_setting(db, "admin.wait_target_minutes", {"*": 1})
    assert_same(db, FIRST, LAST)
    strict = stats.queue_stats(db, FIRST, LAST, "service", now=NOW)["total"]
    set_setting(db, "admin.wait_target_minutes", {"*": 600})
    lenient = stats.queue_stats(db, FIRST, LAST, "service", now=NOW)["total"]
    assert strict["served_within_target"] < lenient["served_within_target"] == 1.0
    assert db.conn.execute("SELECT DISTINCT basis FROM admin_stats_days").fetchall() == basis
    # a window's services change its idle time: the kept days are made again on that basis
    idle_before = {r["group"]: r["idle_s"] for r in stats.queue_stats(db, FIRST, LAST, "window", now=NOW)["rows"]}
    db.conn.execute("UPDATE windows SET services = '[\"QY01\"]' WHERE number = 1")
    assert_same(db, FIRST, LAST)
    idle_after = {r["group"]: r["idle_s"] for r in stats.queue_stats(db, FIRST, LAST, "window", now=NOW)["rows"]}
    assert idle_after["1"] < idle_before["1"] and idle_after["2"] == idle_before["2"]
    assert db.conn.execute("SELECT DISTINCT basis FROM admin_stats_days").fetchall() != basis
    # a clerk's 工号 is looked up when asked
    db.conn.execute("UPDATE users SET staff_no = '0999' WHERE staff_no = '0101'")
    clerks = {r["group"] for r in stats.queue_stats(db, FIRST, LAST, "clerk", now=NOW)["rows"]}
    assert "0999" in clerks and "0101" not in clerks
    assert_same(db, FIRST, LAST)


def test_the_daily_job_keeps_every_closed_day(days_db):
    db, _path, _made = days_db
    set_setting(db, "admin.rollup_time", "18:30")
    assert "stats_rollups" in schedule.JOBS
    assert schedule.run_due(db, hall_time(LAST, "18:00"), only="stats_rollups") == []
    ran = schedule.run_due(db, hall_time(LAST, "18:45"), only="stats_rollups")
    assert ran[0]["error"] is None and ran[0]["result"]["days_made"] == 400  # quiet days too
    assert set(DAYS[:-1]) <= set(stored(db)) and LAST not in stored(db)
    again = stats.make_rollups(db, LAST)
    assert again["days_made"] == 0 and again["days_kept"] == 400
    assert_same(db, FIRST, LAST)


def _window_1_open_since_0830(db) -> tuple[FakeClock, int]:
    """The demo hall on the 25th: clerk1 opens window 1 at 08:30; the clock stops at 09:00."""
    clock = FakeClock()
    clock.set("2026-11-25", "08:00")
    made = make_hall(db, windows=3, appointments=0, open_windows=False, clock=clock)
    c1 = made["users"]["clerk1"]["id"]
    clock.set("2026-11-25", "08:30")
    engine.open_window(db, 1, c1, clock=clock)
    clock.set("2026-11-25", "09:00")
    return clock, c1


def test_a_day_is_kept_only_once_the_next_day_has_expired_what_it_left_open(db):
    clock, c1 = _window_1_open_since_0830(db)
    engine.issue_ticket(db, "ZH01", clock=clock)
    # the next morning, before the first ticket: the 25th still has a waiting ticket
    stats.queue_stats(db, "2026-11-25", "2026-11-26", "day", now=hall_time("2026-11-26", "08:00"))
    assert stored(db) == {}
    clock.set("2026-11-26", "09:00")
    engine.issue_ticket(db, "ZH01", clock=clock)  # expires the 25th's ticket
    out = stats.queue_stats(db, "2026-11-25", "2026-11-26", "day", now=hall_time("2026-11-26", "10:00"))
    assert stored(db) == {"2026-11-25": 1}
    assert {r["group"]: r["expired"] for r in out["rows"]} == {"2026-11-25": 1, "2026-11-26": 0}


def test_a_ticket_waits_within_its_own_day_only(db):
    """Hand count (docs/admin.md, idle_s). Window 1 opens on the 25th at 08:30 and is never
    closed. X is issued at 09:00 and never called; it expires when Y, the first ticket of
    the 26th, is issued at 09:00; Y is called at 09:10 and finished at 09:20. At 10:00 on
    the 26th: open 08:30 → 10:00 the next day = 91,800 s; idle while something callable
    waited = X on the 25th, 09:00 → midnight (54,000 s) + Y 09:00 → 09:10 (600 s) =
    54,600 s. (Counting X as waiting until it expired would add the night: 32,400 s.)"""
    clock, c1 = _window_1_open_since_0830(db)
    engine.issue_ticket(db, "ZH01", clock=clock)
    clock.set("2026-11-26", "09:00")
    y = engine.issue_ticket(db, "ZH01", clock=clock)
    clock.set("2026-11-26", "09:10")
    assert engine.call_next(db, 1, clerk_user_id=c1, clock=clock)["id"] == y["id"]
    clock.set("2026-11-26", "09:20")
    engine.finish(db, y["id"], clerk_user_id=c1, clock=clock)
    now = hall_time("2026-11-26", "10:00")
    for fast in (False, True, True):  # the second fast run reads the kept 25th
        win = {r["group"]: r for r in stats.queue_stats(db, "2026-11-25", "2026-11-26", "window", now=now,
                                                          rollups=fast)["rows"]}
        assert (win["1"]["open_s"], win["1"]["idle_s"]) == (91800.0, 54600.0)
    assert stored(db) == {"2026-11-25": 1}
    one = {r["group"]: r for r in stats.queue_stats(db, "2026-11-26", "2026-11-26", "window", now=now)["rows"]}
    assert (one["1"]["open_s"], one["1"]["idle_s"]) == (36000.0, 600.0)


def test_facts_are_not_kept_when_an_archive_file_is_missing(days_db):
    db, path, _made = days_db
    archive_days(db, str(path) + ".archive.db", before=DAYS[1])
    assert set(stored(db)) == {FIRST}  # archiving made the facts of what it moved first …
    db.conn.execute("DELETE FROM admin_stats_days")  # … which an archive of an older server did not
    (path.parent / "hall.db.archive.db").rename(path.parent / "gone.db")
    out = stats.queue_stats(db, FIRST, DAYS[2], "day", now=NOW)
    assert out["missing_archives"] and DAYS[0] not in stored(db)
    assert {r["group"]: r["issued"] for r in out["rows"]}[FIRST] == 0  # as before: the rows are not there
    assert DAYS[2] not in stored(db)  # nor any day read with it


def test_a_day_read_while_it_was_being_archived_is_not_kept(days_db):
    db, path, _made = days_db
    labels = stats._Labels(db)
    basis = rollups.basis("Asia/Shanghai", labels.window_services)
    facts = stats.day_facts(stats.load(db, FIRST, FIRST, now=NOW), labels.window_services)[FIRST]
    assert rollups.storable(facts, LAST) and facts.sources == frozenset({"main"}) and facts.from_main > 80
    assert not rollups.storable(replace(facts, sources=frozenset({"main", "arch0"})), LAST)  # read from two files
    assert not rollups.storable(facts, FIRST)  # today is never kept
    archive_days(db, str(path) + ".archive.db", before=DAYS[1])  # moved after it was read
    db.conn.execute("DELETE FROM admin_stats_days")  # (archiving made its facts first: not these)
    assert rollups.store(db, [facts], basis) == 0 and stored(db) == {}
    assert rollups.store(db, [replace(facts, from_main=0)], basis) == 1 and stored(db) == {FIRST: facts.n}


# --- made ahead of the first request: in the background, and by archiving ------------------------


def test_the_background_task_makes_closed_days_newest_first_in_short_steps(days_db, monkeypatch):
    db, _path, _made = days_db
    monkeypatch.setattr(stats, "AHEAD_STEP_DAYS", 2)
    memo: dict = {}
    assert schedule.run_background(db, NOW, memo, only="stats_facts") is True  # more to do
    assert set(stored(db)) == {DAYS[1], DAYS[2]}  # the most recent closed days first
    assert schedule.run_background(db, NOW, memo, only="stats_facts") is False
    assert set(stored(db)) == set(DAYS[:3])  # from the first day with tickets on; today never
    assert memo["stats_facts"]["days_made"] == 3 and 0 < memo["stats_facts"]["longest_tx_s"] < 1.0
    made_at = db.conn.execute("SELECT MAX(made_at) FROM admin_stats_days").fetchone()[0]
    assert schedule.run_background(db, NOW, memo, only="stats_facts") is False  # nothing left: nothing remade
    assert db.conn.execute("SELECT MAX(made_at) FROM admin_stats_days").fetchone()[0] == made_at
    # the month's first request reads only today from the rows
    loaded: list[tuple[str, str]] = []
    real_load = stats.load
    monkeypatch.setattr(stats, "load", lambda db, f, t, **kw: loaded.append((f, t)) or real_load(db, f, t, **kw))
    stats.queue_stats(db, FIRST, LAST, "window", now=NOW)
    assert loaded == [(LAST, LAST)]
    monkeypatch.setattr(stats, "load", real_load)
    assert_same(db, FIRST, LAST)
    # a window's services change: the days are made again on the new basis, in the background
    old = db.conn.execute("SELECT DISTINCT basis FROM admin_stats_days").fetchall()
    db.conn.execute("UPDATE windows SET services = '[\"QY01\"]' WHERE number = 1")
    while schedule.run_background(db, NOW, memo, only="stats_facts"):
        pass
    new = db.conn.execute("SELECT DISTINCT basis FROM admin_stats_days").fetchall()
    assert len(new) == 1 and new != old
    assert_same(db, FIRST, LAST)


def test_only_one_process_makes_facts_at_a_time(days_db):
    import fcntl

    db, path, _made = days_db
    with open(f"{path}.stats_facts.lock", "a+") as held:  # another server process is at it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert schedule.run_background(db, NOW, {}, only="stats_facts") is False
        assert stored(db) == {}
    schedule.run_background(db, NOW, {}, only="stats_facts")
    assert set(stored(db)) == set(DAYS[:3])


@pytest.mark.slow
def test_the_scheduler_makes_the_missing_facts_when_the_server_starts(days_db):
    db, path, _made = days_db
    sched = schedule.Scheduler(str(path), interval=30, clock=lambda: NOW, pause=0.01).start()
    try:
        deadline = time.monotonic() + 60
        while set(stored(db)) != set(DAYS[:3]) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sched.stop()
    assert set(stored(db)) == set(DAYS[:3])
    assert db.conn.execute("SELECT COUNT(*) FROM scheduled_runs WHERE job = 'stats_rollups'").fetchone()[0] == 0


def test_a_day_is_made_in_the_background_as_soon_as_it_closes(db):
    clock, c1 = _window_1_open_since_0830(db)
    engine.issue_ticket(db, "ZH01", clock=clock)  # left waiting at closing time
    memo: dict = {}
    assert schedule.run_background(db, hall_time("2026-11-25", "20:00"), memo, only="stats_facts") is False
    assert schedule.run_background(db, hall_time("2026-11-26", "08:00"), memo, only="stats_facts") is False
    assert stored(db) == {}  # still open: the 26th's first ticket has not expired it yet
    clock.set("2026-11-26", "08:31")
    engine.issue_ticket(db, "ZH01", clock=clock)
    schedule.run_background(db, hall_time("2026-11-26", "08:31"), memo, only="stats_facts")
    assert stored(db) == {"2026-11-25": 1}


def test_archiving_makes_the_facts_of_the_days_it_moves_first(days_db):
    db, path, _made = days_db
    before = {g: stats.queue_stats(db, FIRST, DAYS[1], g, now=NOW, rollups=False) for g in stats.GROUPS}
    assert stored(db) == {}
    out = archive_days(db, str(path) + ".archive.db", before=DAYS[2])
    assert out["prepared"] == {"admin_stats_days": 2} and set(stored(db)) == set(DAYS[:2])
    assert out["moved"]["tickets"] > 150
    for g in stats.GROUPS:  # made from the hall file before the move: the archive's figures
        assert stats.queue_stats(db, FIRST, DAYS[1], g, now=NOW) == before[g], g
    assert_same(db, FIRST, DAYS[1])


def test_facts_are_written_a_few_days_per_short_transaction(days_db, monkeypatch):
    db, _path, _made = days_db
    monkeypatch.setattr(rollups, "STORE_BATCH", 150)  # each day has 80-110 tickets: one day a transaction
    timings: list[float] = []
    out = stats.make_rollups(db, LAST, since=FIRST, timings=timings)
    assert out["days_made"] == 3 and len(timings) == 3
    assert rollups.STORE_BATCH < 150 or max(timings) < 1.0
