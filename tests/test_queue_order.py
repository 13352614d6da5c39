"""The call-next order: transferred → appointments in their slot → overdue → priority
groups → the window's service order → oldest; green-channel and universal windows."""

from __future__ import annotations

import pytest

from queue_server import queue as q
from queue_server.demo import make_hall
from queue_server.settings import set_setting
from tests.support.queue import add_appointment, valid_id


@pytest.fixture
def hall(db, clock):
    made = make_hall(db, clock=clock, appointments=0)
    set_setting(db, "elderly_age", 0)  # keep synthetic IDs from adding priority by age
    return made


def drain(db, window: int, clock) -> list[str]:
    out = []
    while (t := q.call_next(db, window, clock=clock)) is not None:
        out.append(t["number"])
        clock.advance(1)
    return out


def test_oldest_first_within_the_same_service(db, hall, clock):
    for _ in range(3):
        q.issue_ticket(db, "QY01", clock=clock)
        clock.advance(5)
    assert drain(db, 4, clock) == ["A001", "A002", "A003"]


def test_window_service_order_comes_before_age(db, hall, clock):
    # Window 5 serves QY01..QY06 first, then SW01, SW02.
    q.issue_ticket(db, "SW01", clock=clock)  # F001, older
    clock.advance(60)
    q.issue_ticket(db, "QY03", clock=clock)  # A001
    clock.advance(60)
    q.issue_ticket(db, "QY01", clock=clock)  # A002
    assert drain(db, 5, clock) == ["A002", "A001", "F001"]


def test_priority_groups_come_before_ordinary_tickets(db, hall, clock):
    q.issue_ticket(db, "QY01", clock=clock)
    clock.advance(10)
    q.issue_ticket(db, "QY01", priority="elderly", clock=clock)
    clock.advance(10)
    q.issue_ticket(db, "QY01", priority="military", clock=clock)
    assert drain(db, 4, clock) == ["A002", "A003", "A001"]


def test_green_channel_tickets_get_the_green_prefix_and_priority(db, hall, clock):
    q.issue_ticket(db, "QY01", clock=clock)
    clock.advance(10)
    v = q.issue_ticket(db, "QY01", priority="green", clock=clock)
    assert v["number"] == "V001"
    assert drain(db, 4, clock) == ["V001", "A001"]


def test_overdue_ticket_jumps_ahead_of_priority_and_service_order(db, hall, clock):
    set_setting(db, "max_wait_minutes", 30)
    q.issue_ticket(db, "SW02", clock=clock)  # F001: last in window 5's service order
    clock.advance(minutes=31)
    q.issue_ticket(db, "QY01", priority="disabled", clock=clock)  # A001
    q.issue_ticket(db, "QY01", clock=clock)  # A002
    assert drain(db, 5, clock) == ["F001", "A001", "A002"]


def test_without_max_wait_service_order_holds(db, hall, clock):
    set_setting(db, "max_wait_minutes", 0)
    q.issue_ticket(db, "SW02", clock=clock)
    clock.advance(minutes=120)
    q.issue_ticket(db, "QY01", clock=clock)
    assert drain(db, 5, clock) == ["A001", "F001"]


def test_checked_in_appointment_in_its_slot_comes_before_priority_groups(db, hall, clock):
    add_appointment(db, "YY000001", "QY01", "09:50", "10:20")
    q.issue_ticket(db, "QY01", priority="elderly", clock=clock)  # A001
    clock.advance(10)
    y = q.check_in(db, code="YY000001", clock=clock)
    assert (y["number"], y["priority"]) == ("Y001", "appointment")
    assert drain(db, 4, clock) == ["Y001", "A001"]


def test_appointment_checked_in_before_its_slot_waits_like_everyone(db, hall, clock):
    add_appointment(db, "YY000002", "QY01", "10:30", "11:00")  # now is 10:00
    y = q.check_in(db, code="YY000002", clock=clock)
    clock.advance(10)
    q.issue_ticket(db, "QY01", priority="elderly", clock=clock)
    order = [t["number"] for t in q.window_queue(db, 4, clock=clock)]
    assert order == ["A001", y["number"]]
    clock.set("2026-11-25", "10:30")
    order = [t["number"] for t in q.window_queue(db, 4, clock=clock)]
    assert order == [y["number"], "A001"]


def test_transferred_ticket_beats_appointments_and_priority(db, hall, clock):
    add_appointment(db, "YY000003", "SB01", "09:55", "10:25")
    t = q.issue_ticket(db, "QY01", clock=clock)
    q.call_next(db, 4, clock=clock)
    q.issue_ticket(db, "SB01", priority="green", clock=clock)
    q.check_in(db, code="YY000003", clock=clock)
    clock.advance(60)
    q.transfer(db, t["id"], window=6, clock=clock)
    assert drain(db, 6, clock) == ["A001", "Y001", "V001"]


def test_green_window_takes_priority_groups_of_every_service_but_not_ordinary_tickets(db, hall, clock):
    q.issue_ticket(db, "BD01", id_number=valid_id(), clock=clock)  # C001 ordinary, not ZH01
    q.issue_ticket(db, "GJ01", priority="disabled", clock=clock)  # D001
    q.issue_ticket(db, "ZH01", clock=clock)  # H001: window 15's own service
    assert drain(db, 15, clock) == ["D001", "H001"]


def test_universal_window_serves_every_service(db, hall, clock):
    for code in ("QY01", "SB01", "MZ03", "GC02"):
        q.issue_ticket(db, code, clock=clock)
        clock.advance(1)
    assert drain(db, 1, clock) == ["A001", "B001", "J001", "G001"]


def test_window_queue_lists_tickets_in_call_next_order(db, hall, clock):
    set_setting(db, "max_wait_minutes", 20)
    add_appointment(db, "YY000004", "QY02", "10:15", "10:45")
    q.issue_ticket(db, "SW01", clock=clock)
    clock.advance(minutes=25)
    q.issue_ticket(db, "QY04", clock=clock)
    q.issue_ticket(db, "QY02", clock=clock)
    q.issue_ticket(db, "QY05", priority="elderly", clock=clock)
    q.check_in(db, code="YY000004", clock=clock)
    listed = [t["number"] for t in q.window_queue(db, 5, clock=clock)]
    assert listed == ["Y001", "F001", "A003", "A002", "A001"]
    assert drain(db, 5, clock) == listed
