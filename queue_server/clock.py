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


# --- closed days and 延时服务 days ---------------------------------------------------------
#
# The weekly ``opening_hours`` are the rule; two settings make exceptions for single dates:
# ``closed_days`` ({"2026-10-01": "国庆节放假"}: no tickets that date, with the reason the
# kiosk shows) and ``extended_days`` ({"2026-11-28": ["09:00-12:00"]}: 延时服务, these
# spans replace the weekday's for that date — a Saturday opened, an evening added).


def _iso_date(text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError("a date must be a string YYYY-MM-DD")
    return dt.date.fromisoformat(text).isoformat()


def parse_closed_days(value: Any) -> dict[str, str]:
    """``{"YYYY-MM-DD": "reason"}`` → the same with normalised dates. Raises on a bad value."""
    if not isinstance(value, dict):
        raise TypeError("closed_days must be an object of date → reason")
    out: dict[str, str] = {}
    for day, reason in value.items():
        if not isinstance(reason, str) or len(reason) > 100:
            raise ValueError(f"closed day {day}: the reason must be a string of at most 100 characters")
        out[_iso_date(day)] = reason.strip()
    return out


def parse_extended_days(value: Any) -> dict[str, list[tuple[int, int]]]:
    """``{"YYYY-MM-DD": ["HH:MM-HH:MM", ...]}`` → minutes since midnight per date."""
    if not isinstance(value, dict):
        raise TypeError("extended_days must be an object of date → spans")
    out: dict[str, list[tuple[int, int]]] = {}
    for day, spans in value.items():
        if not isinstance(spans, list) or not spans:
            raise ValueError(f"extended day {day}: give at least one span HH:MM-HH:MM")
        out[_iso_date(day)] = parse_opening_hours({"mon": spans})["mon"]
    return out


def spans_on(settings: dict[str, Any], day: str) -> list[tuple[int, int]]:
    """The opening spans (minutes since midnight) of ``day`` under the hall's settings:
    a closed day has none, a 延时服务 day its own, any other day its weekday's."""
    closed = parse_closed_days(settings.get("closed_days") or {})
    if day in closed:
        return []
    extended = parse_extended_days(settings.get("extended_days") or {})
    if day in extended:
        return extended[day]
    weekly = parse_opening_hours(settings.get("opening_hours") or {})
    return weekly[WEEKDAYS[dt.date.fromisoformat(day).weekday()]]


def is_open_now(settings: dict[str, Any], ts: float, tz: str) -> bool:
    """Like :func:`is_open`, with closed days and 延时服务 days."""
    t = local(ts, tz)
    minute = t.hour * 60 + t.minute
    return any(a <= minute < b for a, b in spans_on(settings, t.date().isoformat()))


def closed_reason(settings: dict[str, Any], day: str) -> str | None:
    """The reason ``day`` is a closed day, or None when it is not one."""
    closed = parse_closed_days(settings.get("closed_days") or {})
    return closed.get(day)


def next_opening_ts(settings: dict[str, Any], ts: float, tz: str, horizon_days: int = 366) -> float | None:
    """The first moment at or after ``ts`` when the hall is open (``ts`` itself when open);
    None when no opening lies within ``horizon_days``."""
    start = local(ts, tz)
    for offset in range(horizon_days + 1):
        day = (start.date() + dt.timedelta(days=offset)).isoformat()
        for a, b in sorted(spans_on(settings, day)):
            begin = at_local(day, f"{a // 60:02d}:{a % 60:02d}", tz)
            end = at_local(day, f"{b // 60:02d}:{b % 60:02d}", tz) if b < 24 * 60 else \
                at_local((dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat(), "00:00", tz)
            if end <= ts:
                continue
            return max(begin, ts)
    return None


def describe_moment(ts: float, tz: str, now: float) -> str:
    """A moment in plain Chinese relative to ``now``: ``今天 13:00``, ``明天 08:30``,
    ``12月5日（周六）09:00``."""
    t, n = local(ts, tz), local(now, tz)
    days = (t.date() - n.date()).days
    hhmm = t.strftime("%H:%M")
    if days == 0:
        return f"今天 {hhmm}"
    if days == 1:
        return f"明天 {hhmm}"
    if days == 2:
        return f"后天 {hhmm}"
    return f"{t.month}月{t.day}日（{WEEKDAY_ZH[WEEKDAYS[t.weekday()]]}）{hhmm}"
