"""The Chinese working-day calendar of 差评 deadlines.

A day is a working day when the State Council's schedule says so — public holidays are
off, and the weekend days made working days (调休) are on — as the kept library
``chinesecalendar`` knows it, and the hall is not closed that day (its own closed days,
the core setting ``closed_days`` the hall manager keeps on the hours page).

``chinesecalendar`` only knows the years already published (1.11.0: 2004–2026; it raises
``NotImplementedError`` for 2027). For a year it does not know, a day is a working day when
it is Monday–Friday and not a statutory public holiday, where the statutory holidays (全国年节
及纪念日放假办法, 2025 revision: 元旦 1 day, 春节 4 days 除夕–初三, 清明 1, 劳动节 May 1–2,
端午 1, 中秋 1, 国庆 Oct 1–3) come from the kept library ``holidays`` (python-holidays,
``holidays.China(observed=False)``: its lunar dates, not ours). Its "observed" days are its
own guess of the 补休 and are not counted; it has no 调休 working days for such a year either.
The days an admin entered (``queue-server evaluations calendar add``, ``POST
/api/evaluations/calendar``) come before both: an entered holiday is off, an entered 调休
working day is on, even on a weekend or a statutory holiday; the hall's closed days are off
whatever else says. A deadline that counted a day of such a year is ``provisional`` until
``chinesecalendar`` (a newer pinned release) knows the year: the official schedule adds the
bridge days and the 调休 Saturdays. Nothing here raises for an unknown year.

The deadline rule: the N-th working day *after* the day of the 差评 (that day never
counts, working day or not)::

    >>> cal = HallCalendar()
    >>> cal.add_working_days(dt.date(2026, 9, 30), 5)   # National Day 2026: Oct 1–7 off, Oct 10 works
    Deadline(day=datetime.date(2026, 10, 13), provisional=False)
    >>> cal.add_working_days(dt.date(2026, 12, 28), 5)  # 2027-01-01 (元旦) is a statutory holiday
    Deadline(day=datetime.date(2027, 1, 5), provisional=True)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import chinese_calendar
import holidays as holidays_lib

#: Upper bound for N (deadline and extension working days together), so a bad setting
#: cannot make a loop run for years.
MAX_WORKING_DAYS = 120


@lru_cache(maxsize=1)
def known_years() -> frozenset[int]:
    """The years the installed ``chinesecalendar`` has the State Council's schedule for."""
    years = {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
    return frozenset(years)


def library_version() -> str:
    return str(getattr(chinese_calendar, "__version__", "unknown"))


def statutory_library_version() -> str:
    return str(getattr(holidays_lib, "__version__", "unknown"))


#: chinesecalendar's holiday names (English only) → Chinese.
OFFICIAL_NAMES_ZH = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


@lru_cache(maxsize=32)
def _statutory(year: int, language: str) -> dict[dt.date, str]:
    try:
        days = holidays_lib.China(years=year, observed=False, language=language)
        return {d: str(name) for d, name in sorted(days.items()) if d.year == year}
    except Exception:  # a year the library cannot compute counts Monday–Friday: never a crash
        return {}


def statutory_holidays(year: int) -> dict[dt.date, tuple[str, str]]:
    """The statutory public holidays of ``year`` (day → Chinese, English name) as the
    ``holidays`` library counts them by law, without its guessed 补休 days. Used only for
    years ``chinesecalendar`` does not know."""
    zh, en = _statutory(year, "zh_CN"), _statutory(year, "en_US")
    return {d: (name, en.get(d, name)) for d, name in zh.items()}


@dataclass(frozen=True)
class Deadline:
    """A deadline day; ``provisional`` when a day counted lies in a year the library does not know."""

    day: dt.date
    provisional: bool

    def as_dict(self) -> dict[str, object]:
        return {"deadline": self.day.isoformat(), "provisional": self.provisional}


@dataclass(frozen=True)
class HallCalendar:
    """The hall's working days: the official calendar, the hall's closed days, and for
    unknown years the days an admin entered over the statutory holidays and Monday–Friday."""

    closed: frozenset[dt.date] = field(default_factory=frozenset)
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    workdays: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, closed: Iterable[str] = (), entered: Iterable[tuple[str, str]] = ()) -> HallCalendar:
        """From ISO dates: the hall's closed days and ``(day, "holiday"|"workday")`` entries."""
        holidays: set[dt.date] = set()
        workdays: set[dt.date] = set()
        for day, kind in entered:
            (holidays if kind == "holiday" else workdays).add(dt.date.fromisoformat(day))
        return cls(frozenset(dt.date.fromisoformat(d) for d in closed), frozenset(holidays), frozenset(workdays))

    @staticmethod
    def is_known(day: dt.date) -> bool:
        return day.year in known_years()

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.closed:
            return False
        if self.is_known(day):
            return bool(chinese_calendar.is_workday(day))
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        if day in _statutory(day.year, "zh_CN"):
            return False
        return day.weekday() < 5

    def add_working_days(self, start: dt.date, n: int) -> Deadline:
        """The ``n``-th working day after ``start`` (``start`` itself never counts)."""
        if not 1 <= n <= MAX_WORKING_DAYS:
            raise ValueError(f"working days must be 1..{MAX_WORKING_DAYS}, not {n}")
        day, counted, provisional = start, 0, False
        while counted < n:
            day += dt.timedelta(days=1)
            if not self.is_known(day):
                provisional = True
            if self.is_working_day(day):
                counted += 1
        return Deadline(day, provisional)
