"""Ticket lifecycle rules of the queue engine: numbering, call, recall, start, finish,
no-show, transfer, cancel, window pause/resume, events."""

from __future__ import annotations

import json

import pytest

from queue_server import queue as q
from queue_server.demo import make_hall
from queue_server.errors import Conflict, Forbidden, NotFound, ValidationError
from queue_server.settings import set_setting


@pytest.fixture
def hall(db, clock):
    return make_hall(db, clock=clock)


def events(db, after: int = 0) -> list[tuple[str, dict]]:
    rows = db.conn.execute("SELECT type, data FROM events WHERE id > ? ORDER BY id", (after,)).fetchall()
    return [(r[0], json.loads(r[1])) for r in rows]


def last_event_id(db) -> int:
    return int(db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])


def test_numbers_are_prefix_plus_three_digits_per_prefix(db, hall, clock):
    a1 = q.issue_ticket(db, "QY01", clock=clock)
    a2 = q.issue_ticket(db, "QY03", clock=clock)
    b1 = q.issue_ticket(db, "SB01", clock=clock)
    assert (a1["number"], a2["number"], b1["number"]) == ("A001", "A002", "B001")
    assert a1["status"] == "waiting" and a1["day"] == "2026-11-25"
    assert len(a1["progress_code"]) >= 8


def test_number_after_999_grows_a_fourth_digit_and_stays_unique(db, hall, clock):
    db.conn.execute("INSERT INTO counters (day, prefix, last) VALUES ('2026-11-25', 'A', 998)")
    numbers = [q.issue_ticket(db, "QY01", clock=clock)["number"] for _ in range(3)]
    assert numbers == ["A999", "A1000", "A1001"]


def test_numbering_resets_on_a_new_business_day_and_expires_open_tickets(db, hall, clock):
    old = q.issue_ticket(db, "QY01", clock=clock)
    q.issue_ticket(db, "QY01", clock=clock)
    clock.set("2026-11-26", "08:40")
    before = last_event_id(db)
    new = q.issue_ticket(db, "QY01", clock=clock)
    assert new["number"] == "A001" and new["day"] == "2026-11-26"
    assert q.get_ticket(db, old["id"])["status"] == "expired"
    types = [t for t, _ in events(db, before)]
    assert types[0] == "day.reset"
    # Yesterday's ticket can no longer be called.
    assert q.call_next(db, 4, clock=clock)["number"] == "A001"
    assert q.call_next(db, 4, clock=clock) is None


def test_business_day_follows_the_hall_time_zone(db, hall, clock):
    clock.set("2026-11-25", "23:59")
    assert q.issue_ticket(db, "QY01", clock=clock)["day"] == "2026-11-25"
    clock.advance(minutes=2)  # 00:01 Shanghai = 16:01 UTC the day before
    t = q.issue_ticket(db, "QY01", clock=clock)
    assert (t["day"], t["number"]) == ("2026-11-26", "A001")


def test_call_next_calls_the_oldest_waiting_ticket_and_logs_the_call(db, hall, clock):
    first = q.issue_ticket(db, "QY01", clock=clock)
    clock.advance(10)
    q.issue_ticket(db, "QY01", clock=clock)
    before = last_event_id(db)
    called = q.call_next(db, 4, clock=clock)
    assert called["id"] == first["id"]
    assert called["status"] == "called" and called["window"] == 4 and called["call_count"] == 1
    log = db.conn.execute("SELECT ticket_id, window, kind FROM call_log").fetchall()
    assert [tuple(r) for r in log] == [(first["id"], 4, "call")]
    (etype, data), = events(db, before)
    assert etype == "ticket.called"
    assert data["number"] == "A001" and data["window"] == 4 and data["window_name"].startswith("4号窗口")


def test_call_next_returns_none_when_nobody_waits_for_the_window(db, hall, clock):
    q.issue_ticket(db, "SB01", clock=clock)  # social insurance: not served by window 4
    assert q.call_next(db, 4, clock=clock) is None


def test_call_next_closes_the_windows_current_ticket(db, hall, clock):
    a = q.issue_ticket(db, "QY01", clock=clock)
    b = q.issue_ticket(db, "QY01", clock=clock)
    c = q.issue_ticket(db, "QY01", clock=clock)
    q.call_next(db, 4, clock=clock)
    q.start(db, a["id"], clock=clock)
    q.call_next(db, 4, clock=clock)  # a: serving → done
    assert q.get_ticket(db, a["id"])["status"] == "done"
    q.call_next(db, 4, clock=clock)  # b: called, never came → no-show
    assert q.get_ticket(db, b["id"])["status"] == "no_show"
    assert q.get_ticket(db, c["id"])["status"] == "called"


def test_start_then_finish_records_times(db, hall, clock):
    t = q.issue_ticket(db, "QY01", clock=clock)
    q.call_next(db, 4, clock=clock)
    clock.advance(30)
    s = q.start(db, t["id"], clock=clock)
    clock.advance(minutes=12)
    f = q.finish(db, t["id"], clock=clock)
    assert s["status"] == "serving" and f["status"] == "done"
    assert f["finished_at"] - f["started_at"] == pytest.approx(720)


def test_finish_directly_from_called_is_allowed(db, hall, clock):
    t = q.issue_ticket(db, "QY01", clock=clock)
    q.call_next(db, 4, clock=clock)
    assert q.finish(db, t["id"], clock=clock)["status"] == "done"


@pytest.mark.parametrize("action", ["start", "no_show", "finish", "recall"])
def test_actions_on_a_waiting_ticket_are_refused(db, hall, clock, action):
    t = q.issue_ticket(db, "QY01", clock=clock)
    with pytest.raises(Conflict) as exc:
        getattr(q, action)(db, t["id"], clock=clock)
    assert exc.value.code == "bad_ticket_state"
    assert q.get_ticket(db, t["id"])["status"] == "waiting"


def test_finishing_twice_is_a_conflict(db, hall, clock):
    t = q.issue_ticket(db, "QY01", clock=clock)
    q.call_next(db, 4, clock=clock)
    q.finish(db, t["id"], clock=clock)
    with pytest.raises(Conflict):
        q.finish(db, t["id"], clock=clock)


def test_unknown_ticket_is_not_found(db, hall, clock):
    with pytest.raises(NotFound):
        q.start(db, 999, clock=clock)


def test_recall_of_a_called_ticket_calls_again_and_logs_a_recall(db, hall, clock):
    t = q.issue_ticket(db, "QY01", clock=clock)
    q.call_next(db, 4, clock=clock)
    clock.advance(60)
    r = q.recall(db, t["id"], clock=clock)
    assert r["status"] == "called" and r["call_count"] == 2
    kinds = [x[0] for x in db.conn.execute("SELECT kind FROM call_log ORDER BY id")]
    assert kinds == ["call", "recall"]
    assert events(db)[-1][0] == "ticket.recalled"


def test_no_show_can_be_recalled_within_the_recall_window(db, hall, clock):
    t = q.issue_ticket(db, "QY01", clock=clock)
    q.call_next(db, 4, clock=clock)
    q.no_show(db, t["id"], clock=clock)
    clock.advance(minutes=29)
    assert q.recall(db, t["id"], clock=clock)["status"] == "called"


def test_no_show_cannot_be_recalled_after_the_recall_window(db, hall, clock):
    t = q.issue_ticket(db, "QY01", clock=clock)
    q.call_next(db, 4, clock=clock)
    q.no_show(db, t["id"], clock=clock)
    clock.advance(minutes=31)
    with pytest.raises(Conflict) as exc:
        q.recall(db, t["id"], clock=clock)
    assert exc.value.code == "no_show_expired"


def test_only_the_last_few_no_shows_of_a_window_are_recallable(db, hall, clock):
    set_setting(db, "no_show_recall_last", 2)
    tickets = [q.issue_ticket(db, "QY01", clock=clock) for _ in range(3)]
    for t in tickets:
        q.call_next(db, 4, clock=clock)
        clock.advance(5)
        q.no_show(db, t["id"], clock=clock)
    with pytest.raises(Conflict):
        q.recall(db, tickets[0]["id"], clock=clock)
    assert q.recall(db, tickets[1]["id"], clock=clock)["status"] == "called"


def test_transfer_to_a_window_keeps_number_and_issue_time_and_goes_first_there(db, hall, clock):
    t = q.issue_ticket(db, "QY01", clock=clock)
    clock.advance(10)
    waiting = q.issue_ticket(db, "SB01", clock=clock)
    q.call_next(db, 4, clock=clock)
    clock.advance(minutes=5)
    moved = q.transfer(db, t["id"], window=6, note="需补充社保材料", clock=clock)
    assert moved["number"] == t["number"] and moved["issued_at"] == t["issued_at"]
    assert moved["status"] == "waiting" and moved["transfer_window"] == 6
    # Other windows do not see it, not even universal ones…
    assert q.call_next(db, 1, clock=clock)["id"] == waiting["id"]
    q.issue_ticket(db, "SB02", clock=clock)
    # …and window 6 calls it before its own services' tickets.
    assert q.call_next(db, 6, clock=clock)["id"] == t["id"]
    types = [e[0] for e in events(db)]
    assert "ticket.transferred" in types


def test_transfer_to_a_service_requeues_by_original_issue_time(db, hall, clock):
    t = q.issue_ticket(db, "QY01", clock=clock)
    clock.advance(60)
    later = q.issue_ticket(db, "SB02", clock=clock)
    q.call_next(db, 4, clock=clock)
    moved = q.transfer(db, t["id"], service="SB02", clock=clock)
    assert moved["service"] == "SB02" and moved["category"] == "shebao" and moved["number"] == "A001"
    assert [x["id"] for x in q.window_queue(db, 6, clock=clock)] == [t["id"], later["id"]]


def test_transfer_needs_a_target_and_a_known_service(db, hall, clock):
    t = q.issue_ticket(db, "QY01", clock=clock)
    with pytest.raises(ValidationError):
        q.transfer(db, t["id"], clock=clock)
    with pytest.raises(ValidationError):
        q.transfer(db, t["id"], service="NOPE", clock=clock)
    with pytest.raises(NotFound):
        q.transfer(db, t["id"], window=99, clock=clock)


def test_cancelled_ticket_is_never_called(db, hall, clock):
    t = q.issue_ticket(db, "QY01", clock=clock)
    assert q.cancel(db, t["id"], clock=clock)["status"] == "cancelled"
    assert q.call_next(db, 4, clock=clock) is None
    with pytest.raises(Conflict):
        q.cancel(db, t["id"], clock=clock)


def test_pause_needs_a_reason_and_a_paused_window_cannot_call(db, hall, clock):
    q.issue_ticket(db, "QY01", clock=clock)
    with pytest.raises(ValidationError):
        q.pause_window(db, 4, "  ", clock=clock)
    w = q.pause_window(db, 4, "系统维护", clock=clock)
    assert (w["status"], w["pause_reason"]) == ("paused", "系统维护")
    with pytest.raises(Conflict) as exc:
        q.call_next(db, 4, clock=clock)
    assert exc.value.code == "window_paused"
    assert q.resume_window(db, 4, clock=clock)["status"] == "open"
    assert q.call_next(db, 4, clock=clock) is not None
    types = [e[0] for e in events(db)]
    assert types.index("window.paused") < types.index("window.resumed")


def test_closed_window_cannot_call_until_opened(db, hall, clock):
    q.issue_ticket(db, "QY01", clock=clock)
    q.close_window(db, 4, clock=clock)
    with pytest.raises(Conflict):
        q.call_next(db, 4, clock=clock)
    q.open_window(db, 4, hall["users"]["clerk1"]["id"], clock=clock)
    assert q.call_next(db, 4, clock=clock)["number"] == "A001"


def test_a_clerk_cannot_work_another_clerks_window(db, hall, clock):
    c1, c2 = hall["users"]["clerk1"]["id"], hall["users"]["clerk2"]["id"]
    q.close_window(db, 4, clock=clock)
    q.open_window(db, 4, c1, clock=clock)
    t = q.issue_ticket(db, "QY01", clock=clock)
    with pytest.raises(Forbidden):
        q.call_next(db, 4, clerk_user_id=c2, clock=clock)
    with pytest.raises(Conflict):
        q.open_window(db, 4, c2, clock=clock)
    q.call_next(db, 4, clerk_user_id=c1, clock=clock)
    with pytest.raises(Forbidden):
        q.finish(db, t["id"], clerk_user_id=c2, clock=clock)
    assert q.finish(db, t["id"], clerk_user_id=c1, clock=clock)["status"] == "done"


def test_every_change_writes_its_event_in_order(db, hall, clock):
    before = last_event_id(db)
    t = q.issue_ticket(db, "QY01", clock=clock)
    q.call_next(db, 4, clock=clock)
    q.start(db, t["id"], clock=clock)
    q.finish(db, t["id"], clock=clock)
    q.set_notice(db, "今天下午 3 点系统升级", clock=clock)
    got = [e for e in events(db, before) if e[0] != "day.reset"]
    assert [e[0] for e in got] == ["ticket.issued", "ticket.called", "ticket.started", "ticket.finished",
                                   "notice.changed"]
    # Event data carries no personal data.
    assert all("id_masked" not in d and "id_hash" not in d for _, d in got)
    assert got[-1][1] == {"notice": "今天下午 3 点系统升级"}
