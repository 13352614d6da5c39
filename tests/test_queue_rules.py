"""Hall rules: opening hours, per-ID daily limits, ID checks, appointment check-in and
the late rule, wait estimates, public progress, hall state, archive, settings."""

from __future__ import annotations

import pytest

from queue_server import queue as q
from queue_server.archive import archive_days
from queue_server.demo import make_hall
from queue_server.errors import Conflict, NotFound, ValidationError
from queue_server.queue.estimate import clear_cache
from queue_server.settings import get_setting, set_setting
from tests.support.queue import add_appointment, valid_id, wrong_check_digit


@pytest.fixture
def hall(db, clock):
    made = make_hall(db, clock=clock, appointments=0)
    set_setting(db, "elderly_age", 0)
    return made


# --- opening hours ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, hhmm, is_open",
    [
        ("2026-11-25", "08:29", False),  # Wednesday, before opening
        ("2026-11-25", "08:30", True),
        ("2026-11-25", "12:30", False),  # lunch break
        ("2026-11-25", "17:29", True),
        ("2026-11-25", "17:30", False),
        ("2026-11-28", "10:00", True),  # Saturday morning 延时服务
        ("2026-11-28", "14:00", False),
        ("2026-11-29", "10:00", False),  # Sunday
    ],
)
def test_tickets_outside_opening_hours_are_refused_with_the_hours(db, hall, clock, day, hhmm, is_open):
    set_setting(db, "enforce_opening_hours", True)
    clock.set(day, hhmm)
    if is_open:
        assert q.issue_ticket(db, "QY01", clock=clock)["number"] == "A001"
        return
    with pytest.raises(Conflict) as exc:
        q.issue_ticket(db, "QY01", clock=clock)
    assert exc.value.code == "hall_closed"
    assert "周一至周五 08:30-12:00、13:00-17:30" in exc.value.zh
    assert db.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 0


def test_demo_hall_issues_at_any_time_because_hours_are_not_enforced(db, hall, clock):
    clock.set("2026-11-29", "03:00")  # Sunday night
    assert q.issue_ticket(db, "QY01", clock=clock)["status"] == "waiting"


# --- ID numbers and limits -----------------------------------------------------------


def test_wrong_id_check_digit_is_rejected_and_nothing_written(db, hall, clock):
    with pytest.raises(ValidationError) as exc:
        q.issue_ticket(db, "QY01", id_number=wrong_check_digit(), clock=clock)
    assert exc.value.code == "bad_id_number"
    assert db.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 0


def test_ticket_keeps_only_the_masked_and_hashed_id(db, hall, clock):
    idn = valid_id()
    t = q.issue_ticket(db, "QY01", id_number=idn, clock=clock)
    assert t["id_masked"] == idn[:4] + "*" * 10 + idn[-4:]
    row = db.conn.execute("SELECT * FROM tickets").fetchone()
    assert idn not in [str(v) for v in tuple(row)]


def test_per_id_daily_limit_per_service(db, hall, clock):
    a, b = valid_id("37018119800101123"), valid_id("37018119800101456")
    q.issue_ticket(db, "BD01", id_number=a, clock=clock)  # limit 2 a day
    second = q.issue_ticket(db, "BD01", id_number=a, clock=clock)
    with pytest.raises(Conflict) as exc:
        q.issue_ticket(db, "BD01", id_number=a.lower(), clock=clock)
    assert exc.value.code == "daily_limit"
    q.issue_ticket(db, "BD01", id_number=b, clock=clock)  # another person
    q.issue_ticket(db, "BD02", id_number=a, clock=clock)  # another service
    q.cancel(db, second["id"], clock=clock)  # a cancelled ticket does not count
    q.issue_ticket(db, "BD01", id_number=a, clock=clock)
    clock.set("2026-11-26", "09:00")  # a new day
    q.issue_ticket(db, "BD01", id_number=a, clock=clock)


def test_limited_service_needs_an_id_number(db, hall, clock):
    with pytest.raises(ValidationError) as exc:
        q.issue_ticket(db, "HZ03", clock=clock)
    assert exc.value.code == "id_required"


def test_elderly_priority_from_the_id_number_age(db, hall, clock):
    set_setting(db, "elderly_age", 65)
    old = q.issue_ticket(db, "QY01", id_number=valid_id("37018119500101123"), clock=clock)
    young = q.issue_ticket(db, "QY01", id_number=valid_id("37018119900101123"), clock=clock)
    assert (old["priority"], young["priority"]) == ("elderly", None)


def test_unknown_service_and_priority_are_validation_errors(db, hall, clock):
    with pytest.raises(ValidationError):
        q.issue_ticket(db, "NOPE", clock=clock)
    with pytest.raises(ValidationError):
        q.issue_ticket(db, "QY01", priority="vip", clock=clock)
    with pytest.raises(ValidationError):  # only check-in sets the appointment priority
        q.issue_ticket(db, "QY01", priority="appointment", clock=clock)


# --- appointments ----------------------------------------------------------------------


def test_check_in_by_code_gives_an_appointment_ticket(db, hall, clock):
    add_appointment(db, "YY123456", "GJ02", "10:00", "10:30")
    t = q.check_in(db, code="yy123456", clock=clock)
    assert (t["number"], t["priority"], t["service"]) == ("Y001", "appointment", "GJ02")
    assert t["appointment"]["code"] == "YY123456" and t["appointment"]["on_time"] is True
    status = db.conn.execute("SELECT status, ticket_id FROM appointments").fetchone()
    assert tuple(status) == ("checked_in", t["id"])


def test_check_in_by_id_number(db, hall, clock):
    idn = valid_id("37011219800101123")
    add_appointment(db, "YY222222", "SB02", "10:00", "10:30", id_number=idn)
    t = q.check_in(db, id_number=idn, clock=clock)
    assert t["appointment"]["code"] == "YY222222" and t["id_masked"].endswith(idn[-4:])


def test_second_check_in_is_a_conflict(db, hall, clock):
    add_appointment(db, "YY333333", "SB02", "10:00", "10:30")
    q.check_in(db, code="YY333333", clock=clock)
    with pytest.raises(Conflict) as exc:
        q.check_in(db, code="YY333333", clock=clock)
    assert exc.value.code == "already_checked_in"


def test_too_early_check_in_is_refused(db, hall, clock):
    add_appointment(db, "YY444444", "SB02", "11:30", "12:00")  # now 10:00, 60 min early allowed
    with pytest.raises(Conflict) as exc:
        q.check_in(db, code="YY444444", clock=clock)
    assert exc.value.code == "appointment_too_early"
    clock.set("2026-11-25", "10:30")
    assert q.check_in(db, code="YY444444", clock=clock)["priority"] == "appointment"


def test_late_check_in_is_refused_unless_the_citizen_accepts_an_ordinary_ticket(db, hall, clock):
    add_appointment(db, "YY555555", "SB02", "09:30", "10:00")  # 30 min late; grace is 15
    with pytest.raises(Conflict) as exc:
        q.check_in(db, code="YY555555", clock=clock)
    assert exc.value.code == "appointment_late" and exc.value.details["minutes_late"] == 30
    t = q.check_in(db, code="YY555555", clock=clock, accept_ordinary=True)
    assert t["number"] == "B001" and t["priority"] is None
    assert t["appointment"]["on_time"] is False


def test_appointment_of_another_day_or_unknown_code(db, hall, clock):
    add_appointment(db, "YY666666", "SB02", "10:00", "10:30", day="2026-11-26")
    with pytest.raises(Conflict) as exc:
        q.check_in(db, code="YY666666", clock=clock)
    assert exc.value.code == "appointment_not_today"
    with pytest.raises(NotFound):
        q.check_in(db, code="YY000000", clock=clock)
    with pytest.raises(ValidationError):
        q.check_in(db, clock=clock)


def test_issuing_with_an_appointment_code_checks_it_in_for_that_service_only(db, hall, clock):
    add_appointment(db, "YY777777", "SB02", "10:00", "10:30")
    with pytest.raises(ValidationError):
        q.issue_ticket(db, "QY01", appointment="YY777777", clock=clock)
    assert q.issue_ticket(db, "SB02", appointment="YY777777", clock=clock)["number"] == "Y001"


# --- estimates, progress, state ---------------------------------------------------------


def test_people_ahead_counts_every_service_sharing_the_windows(db, hall, clock):
    # The demo hall's universal windows 1-3 call every service: the SB01 ticket is ahead
    # too (一窗受理). Windows 1..5 call in turn: SB01, QY01 ×3, then this one
    # (tests/test_queue_ahead.py checks this against call_next itself).
    q.issue_ticket(db, "SB01", clock=clock)
    for _ in range(3):
        clock.advance(1)
        q.issue_ticket(db, "QY01", clock=clock)
    clock.advance(1)
    t = q.issue_ticket(db, "QY01", clock=clock)
    assert t["waiting_ahead"] == 4
    q.call_next(db, 4, clock=clock)
    assert q.get_ticket(db, t["id"], clock=clock)["waiting_ahead"] == 3


def test_estimate_uses_the_prior_then_the_median_of_recent_service_times(db, hall, clock):
    clear_cache()
    # QY01's prior is 20 min; windows serving it and open: 1, 2, 3 (universal), 4, 5 → 5.
    for _ in range(5):
        q.issue_ticket(db, "QY01", clock=clock)
    t = q.issue_ticket(db, "QY01", clock=clock)
    assert t["estimated_wait_minutes"] == 5 * 20 // 5
    # Serve six QY01 tickets in 4 minutes each at window 4.
    for _ in range(6):
        called = q.call_next(db, 4, clock=clock)
        q.start(db, called["id"], clock=clock)
        clock.advance(minutes=4)
        q.finish(db, called["id"], clock=clock)
    clear_cache()
    for _ in range(10):
        q.issue_ticket(db, "QY01", clock=clock)
    last = q.issue_ticket(db, "QY01", clock=clock)
    assert last["waiting_ahead"] == 10
    assert last["estimated_wait_minutes"] == 10 * 4 // 5


def test_progress_shows_no_personal_data_and_the_window_once_called(db, hall, clock):
    t = q.issue_ticket(db, "QY01", id_number=valid_id(), clock=clock)
    p = q.ticket_progress(db, t["progress_code"], clock=clock)
    assert p["number"] == "A001" and p["status"] == "waiting" and p["window"] is None
    assert not {"id_masked", "id", "progress_code", "referral_reason"} & set(p)
    q.call_next(db, 4, clock=clock)
    p = q.ticket_progress(db, t["progress_code"], clock=clock)
    assert (p["status"], p["window"]) == ("called", 4)
    with pytest.raises(NotFound):
        q.ticket_progress(db, "nosuchcode", clock=clock)


def test_hall_state_has_current_calls_recent_calls_and_waiting_counts(db, hall, clock):
    q.open_window(db, 6, hall["users"]["clerk2"]["id"], clock=clock)
    q.issue_ticket(db, "QY01", clock=clock)
    q.issue_ticket(db, "SB01", clock=clock)
    q.issue_ticket(db, "SB02", clock=clock)
    q.call_next(db, 6, clock=clock)
    q.pause_window(db, 7, "临时离开", clock=clock)
    s = q.hall_state(db, clock=clock)
    assert s["hall"]["name"] == "济南市章丘区政务服务中心" and s["hall"]["day"] == "2026-11-25"
    w6 = next(w for w in s["windows"] if w["number"] == 6)
    assert w6["current"]["number"] == "B001" and w6["clerk"] == {"name": "李*", "staff_no": "0102"}
    w7 = next(w for w in s["windows"] if w["number"] == 7)
    assert (w7["status"], w7["pause_reason"]) == ("paused", "临时离开")
    assert s["recent_calls"][0]["number"] == "B001" and s["recent_calls"][0]["kind"] == "call"
    counts = {c["category"]: c["count"] for c in s["waiting"]}
    assert counts["qiye"] == 1 and counts["shebao"] == 1 and counts["shuiwu"] == 0
    assert s["last_event_id"] == db.conn.execute("SELECT MAX(id) FROM events").fetchone()[0]


def test_archive_moves_earlier_days_out_and_keeps_today(db, hall, clock, tmp_path):
    old = q.issue_ticket(db, "QY01", clock=clock)
    q.call_next(db, 4, clock=clock)
    clock.set("2026-11-26", "09:00")
    today = q.issue_ticket(db, "QY01", clock=clock)
    result = archive_days(db, tmp_path / "archive.db", clock=clock)
    assert result["moved"]["tickets"] == 1 and result["moved"]["call_log"] == 1
    ids = [r[0] for r in db.conn.execute("SELECT id FROM tickets")]
    assert ids == [today["id"]]
    from sqlite_utils import Database

    arch = Database(tmp_path / "archive.db")
    assert [r["id"] for r in arch["tickets"].rows] == [old["id"]]


def test_settings_are_validated(db, hall):
    with pytest.raises(ValidationError):
        set_setting(db, "max_wait_minutes", -5)
    with pytest.raises(ValidationError):
        set_setting(db, "opening_hours", {"mon": ["17:00-08:00"]})
    with pytest.raises(ValidationError):
        set_setting(db, "timezone", "Mars/Olympus")
    with pytest.raises(ValidationError):
        set_setting(db, "no_such_setting", 1)
    set_setting(db, "max_wait_minutes", 30)
    assert get_setting(db, "max_wait_minutes") == 30


def test_random_operations_keep_waiting_counts_and_queue_order_consistent(db, hall, clock):
    import random

    from queue_server.errors import QueueError

    rng = random.Random(7)
    services = ["QY01", "QY02", "SB01", "SB02", "SW01", "ZH01", "GJ01"]
    windows = [1, 4, 5, 6, 10, 12, 15]
    set_setting(db, "max_wait_minutes", 20)
    codes = []
    for i in range(16):
        start = 10 * 60 + 15 * i
        code = f"YY{i:06d}"
        add_appointment(db, code, rng.choice(services), f"{start // 60:02d}:{start % 60:02d}",
                        f"{(start + 30) // 60:02d}:{(start + 30) % 60:02d}")
        codes.append(code)
    live: list[int] = []
    for _ in range(800):
        clock.advance(rng.randint(1, 40))
        op = rng.random()
        try:
            if op < 0.05:
                live.append(q.check_in(db, code=rng.choice(codes), clock=clock)["id"])
            elif op < 0.45:
                pr = rng.choice([None, None, None, "elderly", "green", "military"])
                live.append(q.issue_ticket(db, rng.choice(services), priority=pr, clock=clock)["id"])
            elif op < 0.7:
                w = rng.choice(windows)
                expected = q.window_queue(db, w, clock=clock)
                got = q.call_next(db, w, clock=clock)
                # call-next's fast path agrees with the full ordering of the queue view.
                assert (got["id"] if got else None) == (expected[0]["id"] if expected else None)
            elif live:
                tid = rng.choice(live)
                action = rng.choice(["start", "finish", "no_show", "cancel", "recall", "transfer_w", "transfer_s"])
                if action == "transfer_w":
                    q.transfer(db, tid, window=rng.choice(windows), clock=clock)
                elif action == "transfer_s":
                    q.transfer(db, tid, service=rng.choice(services), clock=clock)
                else:
                    getattr(q, action)(db, tid, clock=clock)
        except QueueError:
            pass  # refused transitions are part of the game
        if rng.random() < 0.1:
            kept = dict(db.conn.execute("SELECT service_code, n FROM waiting_counts WHERE n != 0").fetchall())
            real = dict(db.conn.execute(
                "SELECT service_code, COUNT(*) FROM tickets WHERE status = 'waiting' GROUP BY service_code"
            ).fetchall())
            assert kept == real
    # The queue view of every window is exactly the order call-next takes.
    for w in windows:
        listed = [t["id"] for t in q.window_queue(db, w, clock=clock)]
        taken = []
        while listed and (t := q.call_next(db, w, clock=clock)) is not None:
            taken.append(t["id"])
            if len(taken) == len(listed):
                break
        assert taken == listed, w
