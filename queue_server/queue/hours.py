"""Opening hours as the hall lives them: the weekly hours, closed days and 延时服务 days.

The rules are three settings (``opening_hours``, ``closed_days``, ``extended_days``;
:mod:`queue_server.clock` reads them); issuing refuses a ticket outside them
(``hall_closed``, or ``hall_closed_day`` with the hall's reason on a closed day), and
:func:`next_opening` tells a kiosk's home screen when the hall opens again.
``GET /api/hours`` (queue_server/admin/routes.py) serves :func:`hall_hours`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.db import write_tx
from queue_server.errors import ValidationError
from queue_server.settings import all_settings, invalidate, set_setting


def next_opening(db: Database, now: float | None = None) -> dict[str, Any] | None:
    """When the hall is next open: ``{"at": unix, "day", "time": "08:30", "text": "明天 08:30",
    "open_now": bool}`` (``at`` = ``now`` while open); None when no opening lies within a year."""
    settings = all_settings(db)
    t = clk.now(None) if now is None else now
    tz = str(settings["timezone"])
    at = clk.next_opening_ts(settings, t, tz)
    if at is None:
        return None
    local = clk.local(at, tz)
    return {"at": at, "day": local.date().isoformat(), "time": local.strftime("%H:%M"),
            "text": clk.describe_moment(at, tz, t), "open_now": at <= t}


def hall_hours(db: Database, now: float | None = None, *, days: int = 7) -> dict[str, Any]:
    """The hours a kiosk or page shows: the rules, whether the hall is open now, today's
    spans, the next opening, and the next ``days`` dates with their spans and notes."""
    settings = all_settings(db)
    t = clk.now(None) if now is None else now
    tz = str(settings["timezone"])
    today = clk.business_day(t, tz)
    closed = clk.parse_closed_days(settings.get("closed_days") or {})
    extended = settings.get("extended_days") or {}

    def fmt(spans: list[tuple[int, int]]) -> list[str]:
        return [f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in spans]

    upcoming = []
    for i in range(days):
        d = (dt.date.fromisoformat(today) + dt.timedelta(days=i)).isoformat()
        note = "closed" if d in closed else ("extended" if d in extended else None)
        upcoming.append({"day": d, "weekday": clk.WEEKDAYS[dt.date.fromisoformat(d).weekday()],
                         "spans": fmt(clk.spans_on(settings, d)), "note": note, "reason": closed.get(d)})
    open_now = clk.is_open_now(settings, t, tz)
    enforce = bool(settings.get("enforce_opening_hours", True))
    return {
        "open_now": open_now,
        "issuing": open_now or not enforce,
        "enforced": enforce,
        "today": upcoming[0],
        "closed_reason": closed.get(today),
        "next_opening": next_opening(db, t),
        "description": clk.describe_hours(settings.get("opening_hours") or {}),
        "opening_hours": settings.get("opening_hours"),
        "closed_days": closed,
        "extended_days": extended,
        "days": upcoming,
    }


def set_hours(db: Database, *, opening_hours: Any = None, closed_days: Any = None, extended_days: Any = None,
              actor: str = "system") -> dict[str, Any]:
    """Change any of the three rules in one transaction (each audited as ``setting.changed``
    with its value before and after). A date may not be both closed and 延时服务."""
    current = all_settings(db, fresh=True)
    new = {
        "opening_hours": current.get("opening_hours") if opening_hours is None else opening_hours,
        "closed_days": current.get("closed_days") if closed_days is None else closed_days,
        "extended_days": current.get("extended_days") if extended_days is None else extended_days,
    }
    try:
        clk.parse_opening_hours(new["opening_hours"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValidationError("bad_hours", what=f"每周办理时间：{exc}", what_en=f"weekly hours: {exc}") from exc
    try:
        closed = clk.parse_closed_days(new["closed_days"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValidationError("bad_hours", what=f"闭厅日期：{exc}", what_en=f"closed days: {exc}") from exc
    try:
        extended = clk.parse_extended_days(new["extended_days"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValidationError("bad_hours", what=f"延时服务日期：{exc}", what_en=f"extended days: {exc}") from exc
    both = sorted(set(closed) & set(extended))
    if both:
        raise ValidationError("bad_hours", what=f"{'、'.join(both)} 不能既闭厅又延时服务",
                              what_en=f"{', '.join(both)}: both closed and extended")
    new["closed_days"] = dict(sorted(closed.items()))
    raw_extended: dict[str, Any] = dict(new["extended_days"] or {})
    new["extended_days"] = {d: raw_extended[d] for d in sorted(extended)}
    with write_tx(db) as conn:
        for name in ("opening_hours", "closed_days", "extended_days"):
            if new[name] != current.get(name):
                set_setting(db, name, new[name], conn=conn, actor=actor)
    invalidate(db)
    return new
