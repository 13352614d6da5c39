"""Opening hours on the home screen: outside them, or on a closed day, the home screen says
so at once with the next opening time (the server's ``GET /api/hours``), rather than the
citizen learning it three screens deep."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kiosk.i18n import tr

_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _when(hours: dict[str, Any], lang: str) -> str:
    nxt = hours.get("next_opening") or {}
    if not nxt:
        return tr("home.next_unknown", lang)
    if lang == "zh":
        return str(nxt.get("text") or f"{nxt.get('day')} {nxt.get('time')}")
    today = str((hours.get("today") or {}).get("day") or "")
    day, time = str(nxt.get("day") or ""), str(nxt.get("time") or "")
    try:
        delta = (dt.date.fromisoformat(day) - dt.date.fromisoformat(today)).days
    except ValueError:
        return f"{day} {time}"
    if delta == 0:
        return f"today {time}"
    if delta == 1:
        return f"tomorrow {time}"
    d = dt.date.fromisoformat(day)
    return f"{_WEEKDAYS_EN[d.weekday()]} {d.day} {d.strftime('%b')} {time}"


def closed_notice(hours: dict[str, Any] | None, lang: str) -> str:
    """What the home screen says when numbers cannot be taken now ("" while they can)."""
    if not hours or hours.get("issuing", True):
        return ""
    reason = hours.get("closed_reason")
    if reason is not None:
        return tr("home.closed_day", lang, reason=reason or tr("home.closed_reason", lang), when=_when(hours, lang))
    return tr("home.closed_now", lang, when=_when(hours, lang))
