"""差评 deadlines on the Chinese working-day calendar: the official 2026 schedule (Spring
Festival, National Day and their 调休 working weekend days), the hall's closed days, years
the library does not know (provisional, the statutory holidays of the `holidays` library,
admin-entered days over them, never a crash)."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from queue_server.cli import main
from queue_server.errors import ValidationError
from queue_server.evaluations import calendar_days
from queue_server.evaluations.rectifications import compute_deadline, hall_calendar
from queue_server.evaluations.workdays import HallCalendar, known_years, statutory_holidays
from queue_server.settings import set_setting

D = dt.date.fromisoformat
OFFICIAL = HallCalendar()


def deadline(day: str, n: int = 5, cal: HallCalendar = OFFICIAL) -> tuple[str, bool]:
    d = cal.add_working_days(D(day), n)
    return d.day.isoformat(), d.provisional


def test_the_pinned_library_knows_2026_and_not_2027():
    assert 2026 in known_years() and 2027 not in known_years()


@pytest.mark.parametrize("day, working", [
    # Spring Festival 2026: off Sun Feb 15 – Mon Feb 23; Sat Feb 14 and Sat Feb 28 are 调休 working days.
    ("2026-02-13", True), ("2026-02-14", True), ("2026-02-15", False), ("2026-02-16", False),
    ("2026-02-20", False), ("2026-02-23", False), ("2026-02-24", True), ("2026-02-28", True),
    # National Day + Mid-Autumn 2026: off Thu Oct 1 – Wed Oct 7; Sun Sep 20 and Sat Oct 10 work.
    ("2026-09-20", True), ("2026-09-25", False), ("2026-09-30", True), ("2026-10-01", False),
    ("2026-10-07", False), ("2026-10-08", True), ("2026-10-09", True), ("2026-10-10", True),
    ("2026-10-11", False),
    # an ordinary week
    ("2026-11-21", False), ("2026-11-23", True),
])
def test_official_2026_working_days(day, working):
    assert OFFICIAL.is_working_day(D(day)) is working


@pytest.mark.parametrize("day, expected", [
    ("2026-11-25", "2026-12-02"),   # Wed → Thu Fri Mon Tue Wed
    ("2026-11-27", "2026-12-04"),   # a Friday: the weekend never counts
    ("2026-11-28", "2026-12-04"),   # a 差评 on Saturday: the day itself never counts either way
    # Spring Festival: the Friday before counts Sat 14 (调休), then nothing until Tue 24.
    ("2026-02-13", "2026-02-27"),
    ("2026-02-12", "2026-02-26"),   # 13, 14, 24, 25, 26
    ("2026-02-16", "2026-02-28"),   # given during the holiday: 24, 25, 26, 27, Sat 28 (调休)
    # National Day: Oct 1–7 off, Thu 8, Fri 9, Sat 10 (调休), Mon 12, Tue 13.
    ("2026-09-30", "2026-10-13"),
    ("2026-09-29", "2026-10-12"),   # 30, 8, 9, 10, 12
    ("2026-09-18", "2026-09-24"),   # Sun 20 (调休) counts; Fri 25 is Mid-Autumn
    ("2026-10-03", "2026-10-13"),   # given on a holiday: 8, 9, 10 (调休), 12, 13
])
def test_five_working_days_across_the_2026_holidays(day, expected):
    got, provisional = deadline(day)
    # Hand counts (working days after the day): the list of counted days is checked too.
    counted = []
    d = D(day)
    while len(counted) < 5:
        d += dt.timedelta(days=1)
        if OFFICIAL.is_working_day(d):
            counted.append(d.isoformat())
    assert got == counted[-1] and not provisional
    assert got == expected, counted


def test_hand_counted_days_of_the_holiday_examples():
    # Spelled out so that the calendar itself is not the only witness.
    assert deadline("2026-02-13") == ("2026-02-27", False)   # 14(Sat 调休) 24 25 26 27
    assert deadline("2026-02-16") == ("2026-02-28", False)   # 24 25 26 27 28(Sat 调休)
    assert deadline("2026-09-30") == ("2026-10-13", False)   # 8 9 10(Sat 调休) 12 13
    assert deadline("2026-10-03", 1) == ("2026-10-08", False)
    assert deadline("2026-10-09", 1) == ("2026-10-10", False)  # the 调休 Saturday is the next working day


def test_the_hall_closed_days_are_not_working_days():
    cal = HallCalendar.of(closed=["2026-12-01", "2026-12-02"])
    assert deadline("2026-11-25", cal=cal) == ("2026-12-04", False)


def test_a_year_the_library_does_not_know_is_provisional_and_never_crashes():
    assert deadline("2027-03-01") == ("2027-03-08", True)      # Mon–Fri, no statutory holiday
    # Dec 28–31 official, then Fri 2027-01-01 (元旦, statutory every year) is skipped: Mon Jan 4.
    assert deadline("2026-12-25") == ("2027-01-04", True)
    assert deadline("2026-12-18") == ("2026-12-25", False)     # nothing of 2027 counted
    assert deadline("2035-06-01", 60)[1] is True
    assert deadline("2101-03-01") == ("2101-03-08", True)      # past the lunar tables: Mon–Fri, no crash
    with_entries = HallCalendar.of(entered=[("2027-01-01", "holiday"), ("2027-01-02", "workday")])
    # Jan 1 entered as a holiday, Sat Jan 2 as a 调休 working day: Dec 28 29 30 31, Jan 2.
    assert deadline("2026-12-25", cal=with_entries) == ("2027-01-02", True)


def test_the_statutory_holidays_of_2027_come_from_the_holidays_library():
    # 全国年节及纪念日放假办法 (2025 revision), as holidays.China(observed=False) dates them for 2027;
    # its guessed 补休 days (observed) are not holidays here.
    assert {d.isoformat(): zh for d, (zh, _en) in statutory_holidays(2027).items()} == {
        "2027-01-01": "元旦", "2027-02-05": "农历除夕", "2027-02-06": "春节", "2027-02-07": "春节",
        "2027-02-08": "春节", "2027-04-05": "清明节", "2027-05-01": "劳动节", "2027-05-02": "劳动节",
        "2027-06-09": "端午节", "2027-09-15": "中秋节", "2027-10-01": "国庆节", "2027-10-02": "国庆节",
        "2027-10-03": "国庆节"}
    assert not OFFICIAL.is_working_day(D("2027-02-08"))       # Mon 初三
    assert OFFICIAL.is_working_day(D("2027-02-09"))           # Tue: no 补休 is guessed
    assert statutory_holidays(2101) == {}


@pytest.mark.parametrize("day, n, expected, counted", [
    # 元旦 2027: Tue 29, Wed 30, Thu 31 (official), Fri Jan 1 off, Mon 4, Tue 5.
    ("2026-12-28", 5, "2027-01-05", "12-29 12-30 12-31 01-04 01-05"),
    ("2026-12-31", 1, "2027-01-04", "01-04"),
    # 春节 2027: 除夕 Fri Feb 5 – 初三 Mon Feb 8 off (Sat 6, Sun 7 a weekend anyway).
    ("2027-02-04", 5, "2027-02-15", "02-09 02-10 02-11 02-12 02-15"),
    ("2027-02-04", 1, "2027-02-09", "02-09"),
    # 中秋 Wed 2027-09-15, 国庆 Fri Oct 1 – Sun Oct 3.
    ("2027-09-14", 5, "2027-09-22", "09-16 09-17 09-20 09-21 09-22"),
    ("2027-09-30", 5, "2027-10-08", "10-04 10-05 10-06 10-07 10-08"),
    ("2027-09-29", 2, "2027-10-04", "09-30 10-04"),
    # 劳动节 Sat May 1 – Sun May 2: a weekend anyway (no 补休 guessed).
    ("2027-04-30", 1, "2027-05-03", "05-03"),
])
def test_provisional_deadlines_skip_the_2027_statutory_holidays(day, n, expected, counted):
    assert deadline(day, n) == (expected, True)
    hand, d = [], D(day)
    while len(hand) < n:
        d += dt.timedelta(days=1)
        if OFFICIAL.is_working_day(d):
            hand.append(d.strftime("%m-%d"))
    assert " ".join(hand) == counted


def test_hall_entered_days_override_the_statutory_ones():
    # A 调休 Saturday entered as a working day counts: 2027-02-04 → Sat Feb 20 entered (hypothetical).
    cal = HallCalendar.of(entered=[("2027-02-20", "workday")])
    assert not OFFICIAL.is_working_day(D("2027-02-20")) and cal.is_working_day(D("2027-02-20"))
    assert deadline("2027-02-18", 2, cal=cal) == ("2027-02-20", True)     # Fri 19, Sat 20 (调休)
    assert deadline("2027-02-18", 2) == ("2027-02-22", True)              # without it: Fri 19, Mon 22
    # The official schedule usually adds bridge days: entered holidays Feb 9–11 push the deadline on.
    bridge = HallCalendar.of(entered=[("2027-02-09", "holiday"), ("2027-02-10", "holiday"), ("2027-02-11", "holiday")])
    assert deadline("2027-02-04", 5, cal=bridge) == ("2027-02-18", True)  # 12, 15, 16, 17, 18
    # An entered working day wins over a statutory holiday; the hall's closed days win over all.
    assert HallCalendar.of(entered=[("2027-10-01", "workday")]).is_working_day(D("2027-10-01"))
    assert not HallCalendar.of(closed=["2027-02-20"], entered=[("2027-02-20", "workday")]).is_working_day(D("2027-02-20"))


def test_entries_for_a_known_year_are_refused_and_ignored(db):
    with pytest.raises(Exception) as e:
        calendar_days.add_day(db, "2026-10-08", "holiday")
    assert getattr(e.value, "code", "") == "bad_calendar_day"
    cal = HallCalendar.of(entered=[("2026-10-08", "holiday")])
    assert cal.is_working_day(D("2026-10-08"))


def test_extension_counts_after_the_first_deadline():
    d = compute_deadline(OFFICIAL, "2026-09-25", 5, 5)
    # Sep 25 (holiday) → 28 29 30 Oct 8 9 = Oct 9; then 10(Sat 调休) 12 13 14 15.
    assert (d.day.isoformat(), d.provisional) == ("2026-10-15", False)


def test_calendar_cli_add_list_remove_and_deadline(db_path, db):
    run = CliRunner().invoke
    r = run(main, ["evaluations", "deadline", "--db", str(db_path), "2026-09-30"])
    assert r.exit_code == 0 and '"deadline": "2026-10-13"' in r.output and '"provisional": false' in r.output
    r = run(main, ["evaluations", "calendar", "add", "--db", str(db_path), "2027-01-01", "--holiday", "--note", "元旦"])
    assert r.exit_code == 0, r.output
    r = run(main, ["evaluations", "calendar", "list", "--db", str(db_path)])
    assert "2004–2026" in r.output and "2027-01-01  holiday  元旦" in r.output
    r = run(main, ["evaluations", "deadline", "--db", str(db_path), "2026-12-25"])
    assert '"deadline": "2027-01-04"' in r.output and '"provisional": true' in r.output
    r = run(main, ["evaluations", "calendar", "add", "--db", str(db_path), "2027-01-02", "--workday"])
    assert r.exit_code == 0, r.output
    r = run(main, ["evaluations", "deadline", "--db", str(db_path), "2026-12-25"])
    assert '"deadline": "2027-01-02"' in r.output                   # the entered Saturday counts
    r = run(main, ["evaluations", "calendar", "list", "--db", str(db_path), "--year", "2027"])
    assert r.exit_code == 0 and "2027 (provisional" in r.output
    assert "2027-01-01  holiday  hall      元旦" in r.output and "2027-02-05  holiday  statutory 农历除夕" in r.output
    assert "2027-01-02  workday  hall" in r.output
    r = run(main, ["evaluations", "calendar", "list", "--db", str(db_path), "--year", "2026"])
    assert "2026-10-10  workday  official  国庆节调休上班" in r.output
    assert run(main, ["evaluations", "calendar", "remove", "--db", str(db_path), "2027-01-02"]).exit_code == 0
    r = run(main, ["evaluations", "calendar", "add", "--db", str(db_path), "2026-10-01", "--holiday"])
    assert r.exit_code != 0 and "bad_calendar_day" in r.output
    assert run(main, ["evaluations", "calendar", "remove", "--db", str(db_path), "2027-01-01"]).exit_code == 0
    assert calendar_days.list_days(db) == []
    kinds = [r[0] for r in db.conn.execute("SELECT kind FROM audit WHERE kind = 'evaluations.calendar_day'")]
    assert len(kinds) == 4


def test_the_halls_closed_days_feed_the_calendar_and_are_validated(db):
    set_setting(db, "closed_days", {"2026-12-01": "系统升级"})
    assert not hall_calendar(db).is_working_day(D("2026-12-01"))
    for bad in ({"2026-13-01": "x"}, "2026-12-01", {"2026-12-01": 1}):
        with pytest.raises(Exception) as e:
            set_setting(db, "closed_days", bad)
        assert getattr(e.value, "code", "") == "bad_setting_value"
    with pytest.raises(ValidationError):
        set_setting(db, "evaluations.deadline_working_days", 0)
