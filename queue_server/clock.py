"""Time in the hall: the business day, local clock times and opening hours.

Every engine function takes an optional ``clock`` (a callable returning Unix seconds) so
tests and simulations never depend on the wall clock, the date or the weekday.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

Clock = Callable[[], float]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_ZH = {
    "mon": "周一", "tue": "周二", "wed": "周三", "thu": "周四",
    "fri": "周五", "sat": "周六", "sun": "周日",
}


def now(clock: Clock | None = None) -> float:
    return clock() if clock is not None else time.time()


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(ts: float, tz: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, zone(tz))


def business_day(ts: float, tz: str) -> str:
    """The hall's local date of ``ts`` as ``YYYY-MM-DD`` (numbers reset when it changes)."""
    return local(ts, tz).date().isoformat()


def day_start(day: str, tz: str) -> float:
    """Unix time of local midnight starting ``day``."""
    d = dt.date.fromisoformat(day)
    return dt.datetime(d.year, d.month, d.day, tzinfo=zone(tz)).timestamp()


def at_local(day: str, hhmm: str, tz: str) -> float:
    """Unix time of ``HH:MM`` local on ``day``."""
    d = dt.date.fromisoformat(day)
    h, m = _hhmm(hhmm)
    base = dt.datetime(d.year, d.month, d.day, tzinfo=zone(tz))
    return (base + dt.timedelta(hours=h, minutes=m)).timestamp()


def _hhmm(text: str) -> tuple[int, int]:
    h, m = text.strip().split(":")
    hi, mi = int(h), int(m)
    if not (0 <= hi <= 24 and 0 <= mi < 60) or (hi == 24 and mi):
        raise ValueError(f"bad time {text!r}")
    return hi, mi


def parse_opening_hours(value: Any) -> dict[str, list[tuple[int, int]]]:
    """``{"mon": ["08:30-12:00", ...], ...}`` → minutes since midnight per weekday.

    Missing weekdays are closed. Raises ValueError/TypeError on a malformed value.
    """
    if not isinstance(value, dict):
        raise TypeError("opening_hours must be an object")
    out: dict[str, list[tuple[int, int]]] = {d: [] for d in WEEKDAYS}
    for day, spans in value.items():
        if day not in out:
            raise ValueError(f"unknown weekday {day!r}")
        if not isinstance(spans, list):
            raise TypeError("spans must be a list")
        for span in spans:
            a, b = str(span).split("-")
            ah, am = _hhmm(a)
            bh, bm = _hhmm(b)
            start, end = ah * 60 + am, bh * 60 + bm
            if end <= start:
                raise ValueError(f"empty span {span!r}")
            out[day].append((start, end))
    return out


def is_open(hours: Any, ts: float, tz: str) -> bool:
    """True when ``ts`` falls inside one of the day's opening spans."""
    spans = parse_opening_hours(hours)
    t = local(ts, tz)
    minute = t.hour * 60 + t.minute
    return any(a <= minute < b for a, b in spans[WEEKDAYS[t.weekday()]])


def describe_hours(hours: Any) -> str:
    """Chinese summary of the hours, e.g. ``周一至周五 08:30-12:00、13:00-17:30;周六 09:00-12:00``."""
    raw = {d: list(hours.get(d, [])) for d in WEEKDAYS} if isinstance(hours, dict) else {}
    groups: list[tuple[list[str], list[str]]] = []
    for d in WEEKDAYS:
        spans = raw.get(d, [])
        if not spans:
            continue
        if groups and groups[-1][1] == spans and WEEKDAYS.index(groups[-1][0][-1]) == WEEKDAYS.index(d) - 1:
            groups[-1][0].append(d)
        else:
            groups.append(([d], spans))
    parts = []
    for days, spans in groups:
        label = WEEKDAY_ZH[days[0]] if len(days) == 1 else f"{WEEKDAY_ZH[days[0]]}至{WEEKDAY_ZH[days[-1]]}"
        parts.append(f"{label} {'、'.join(spans)}")
    return ";".join(parts) or "暂无取号时间"
