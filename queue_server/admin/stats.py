"""Queue statistics, computed from the tickets and the call log (archive files included),
every figure traceable to the tickets behind it. ``docs/admin.md`` gives each formula.

* :func:`queue_stats` — a date range (hall time zone, both days inclusive) grouped by
  ``hour`` (of issue), ``day``, ``service``, ``category``, ``window`` (the window that
  called the ticket last) or ``clerk`` (who called it last): one row per group plus a
  ``total``; what ``GET /api/stats/queue`` returns.
* :func:`tickets_behind` — the tickets behind one figure of one row (drill-down): numbers,
  times, service, window; no personal data.
* :func:`live` — today as it is now (waiting per category, longest current wait, windows
  open and paused, served so far), cheap enough for every SSE update.

Each ticket belongs to exactly one group of each grouping, so a column of counts adds up
to the total. Times: ``wait`` = first call − issue, ``walk`` = start − the call before it,
``service`` = finish − start (served tickets that were started). Medians are the middle
value (the mean of the two middle ones for an even count); the 90th percentile is the
nearest-rank one: the ⌈0.9·n⌉-th smallest value.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.admin.source import StatsSource, open_source
from queue_server.errors import ValidationError
from queue_server.settings import all_settings

GROUPS = ("hour", "day", "service", "category", "window", "clerk")
MAX_DAYS = 400

#: Figures a row has that count tickets (each can be opened to its tickets).
COUNTS = ("issued", "called", "served", "no_show", "transferred", "cancelled", "expired", "open")
#: Figures that are times of tickets (opened: the tickets the figure is taken over).
TIMES = ("wait", "walk", "service")
#: What :func:`tickets_behind` can open.
FIGURES = COUNTS + TIMES + ("within_target", "over_target")

#: Row fields, in table order: (key, Chinese heading, English heading, kind). Kinds: text,
#: int, seconds, share. Exports and the page use this list.
COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("group", "分组", "Group", "text"),
    ("label", "名称", "Name", "text"),
    ("issued", "取号", "Issued", "int"),
    ("called", "叫号", "Called", "int"),
    ("served", "办结", "Served", "int"),
    ("no_show", "过号", "No-show", "int"),
    ("transferred", "转窗", "Transferred", "int"),
    ("cancelled", "取消", "Cancelled", "int"),
    ("expired", "失效", "Expired", "int"),
    ("open", "未完成", "Still open", "int"),
    ("calls", "呼叫次数", "Calls", "int"),
    ("recalls", "重呼次数", "Recalls", "int"),
    ("wait_median_s", "等候中位数", "Wait median", "seconds"),
    ("wait_p90_s", "等候 P90", "Wait p90", "seconds"),
    ("walk_median_s", "到窗中位数", "Walk median", "seconds"),
    ("walk_p90_s", "到窗 P90", "Walk p90", "seconds"),
    ("service_median_s", "办理中位数", "Service median", "seconds"),
    ("service_p90_s", "办理 P90", "Service p90", "seconds"),
    ("served_within_target", "按时率", "Served within target", "share"),
    ("open_s", "开窗时长", "Window open", "seconds"),
    ("idle_s", "空闲时长", "Idle", "seconds"),
)


def median(xs: list[float]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    n = len(s)
    mid = n // 2
    return float(s[mid]) if n % 2 else (s[mid - 1] + s[mid]) / 2.0


def p90(xs: list[float]) -> float | None:
    """Nearest-rank 90th percentile: the ⌈0.9·n⌉-th smallest value."""
    if not xs:
        return None
    s = sorted(xs)
    return float(s[max(1, math.ceil(0.9 * len(s))) - 1])


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def parse_range(from_day: Any, to_day: Any) -> tuple[str, str]:
    """Validate ``from``/``to`` (ISO dates, from ≤ to, at most :data:`MAX_DAYS` days)."""
    try:
        a = dt.date.fromisoformat(str(from_day))
        b = dt.date.fromisoformat(str(to_day))
    except ValueError as exc:
        raise ValidationError("bad_stats_range", what="日期格式应为 2026-11-25",
                              what_en="dates must be YYYY-MM-DD") from exc
    if b < a:
        raise ValidationError("bad_stats_range", what="开始日期晚于结束日期", what_en="from is after to")
    if (b - a).days + 1 > MAX_DAYS:
        raise ValidationError("bad_stats_range", what=f"跨度超过 {MAX_DAYS} 天", what_en=f"more than {MAX_DAYS} days")
    return a.isoformat(), b.isoformat()


def _check_group(group: Any) -> str:
    if group not in GROUPS:
        raise ValidationError("bad_stats_group", group=group)
    return str(group)


@dataclass(slots=True)
class Ticket:
    """One ticket's facts as the statistics use them (no personal field is read);
    ``wait``, ``walk`` and ``service_s`` are computed once the calls are known
    (:meth:`finish`)."""

    src: str
    id: int
    day: str
    number: str
    service: str
    category: str
    status: str
    priority: str | None
    issued_at: float
    started_at: float | None
    finished_at: float | None
    closed_at: float | None
    window: int | None
    clerk: int | None
    transferred_at: float | None
    first_call: float | None = None
    calls: int = 0
    recalls: int = 0
    call_times: list[float] | None = None
    wait: float | None = None
    walk: float | None = None
    service_s: float | None = None

    def finish(self) -> None:
        if self.first_call is not None:
            self.wait = max(0.0, self.first_call - self.issued_at)
        if self.started_at is not None and self.call_times:
            before = [t for t in self.call_times if t <= self.started_at]
            if before:
                self.walk = self.started_at - max(before)
        if self.status == "done" and self.started_at is not None and self.finished_at is not None:
            self.service_s = max(0.0, self.finished_at - self.started_at)


@dataclass
class Dataset:
    """Everything a range needs, read once: tickets (with their calls), window sessions."""

    from_day: str
    to_day: str
    tz: str
    start: float
    end: float
    tickets: list[Ticket]
    calls: dict[int, list[tuple[float, int, int, str]]]  # window → [(ts, ticket index, clerk, kind)]
    window_log: dict[int, list[tuple[float, str, int | None]]]  # window → [(ts, status, clerk)]
    missing_archives: list[str]
    settings: dict[str, Any]


_TICKET_COLS = ("id, day, number, service_code, category, status, priority, issued_at, started_at, finished_at, "
                "closed_at, window, clerk_user_id, transferred_at, called_at")


def load(db: Database, from_day: str, to_day: str, *, now: float | None = None) -> Dataset:
    """Read the range's tickets, calls and window log from the hall file and its archives."""
    settings = all_settings(db)
    tz = str(settings["timezone"])
    start = clk.day_start(from_day, tz)
    end = clk.day_start((dt.date.fromisoformat(to_day) + dt.timedelta(days=1)).isoformat(), tz)
    if now is not None:
        end = min(end, max(start, now))
    tickets: list[Ticket] = []
    calls: dict[int, list[tuple[float, int, int, str]]] = defaultdict(list)
    window_log: dict[int, list[tuple[float, str, int | None]]] = defaultdict(list)
    prior: dict[int, tuple[float, str, int | None]] = {}
    with open_source(db, from_day, to_day) as src:
        for schema in src.schemas:
            _load_schema(src, schema, from_day, to_day, start, end, tickets, calls, window_log, prior)
        missing = list(src.missing)
    for window, (_ts, status, clerk) in prior.items():
        window_log[window].insert(0, (start, status, clerk))
    for tk in tickets:
        tk.finish()
    for rows in calls.values():
        rows.sort(key=lambda r: (r[0], r[1]))
    for rows in window_log.values():  # type: ignore[assignment]
        rows.sort(key=lambda r: r[0])
    return Dataset(from_day, to_day, tz, start, end, tickets, dict(calls), dict(window_log), missing, settings)


def _load_schema(src: StatsSource, schema: str, from_day: str, to_day: str, start: float, end: float,
                 tickets: list[Ticket], calls: dict[int, list[tuple[float, int, int, str]]],
                 window_log: dict[int, list[tuple[float, str, int | None]]],
                 prior: dict[int, tuple[float, str, int | None]]) -> None:
    index: dict[int, int] = {}
    for r in src.execute(f"SELECT {_TICKET_COLS} FROM {schema}.tickets WHERE day >= ? AND day <= ?",
                         (from_day, to_day)):
        index[r[0]] = len(tickets)
        t = Ticket(schema, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13])
        if r[14] is not None:
            t.first_call = r[14]  # replaced by the call log's first call below
        tickets.append(t)
    seen_in_log: set[int] = set()
    if src.has_table(schema, "call_log"):
        for tid, window, kind, clerk, ts in src.execute(
                f"SELECT ticket_id, window, kind, clerk_user_id, ts FROM {schema}.call_log "
                f"WHERE ts >= ? AND ts < ? ORDER BY ts, id", (start - 86400, end + 86400)):
            i = index.get(tid)
            if i is None:
                continue
            t = tickets[i]
            if i not in seen_in_log:
                seen_in_log.add(i)
                t.first_call = ts
            if t.call_times is None:
                t.call_times = [ts]
            else:
                t.call_times.append(ts)
            if kind == "recall":
                t.recalls += 1
            else:
                t.calls += 1
            calls[int(window)].append((ts, i, clerk, kind))
    if src.has_table(schema, "admin_window_log"):
        for ts, window, status, clerk in src.execute(
                f"SELECT ts, window, status, clerk_user_id FROM {schema}.admin_window_log WHERE ts >= ? AND ts < ?",
                (start, end)):
            window_log[int(window)].append((ts, status, clerk))
        # each window's state when the range starts (the newest change before it, in any file)
        for window, status, clerk, ts in src.execute(
                f"SELECT window, status, clerk_user_id, MAX(ts) FROM {schema}.admin_window_log WHERE ts < ? "
                f"GROUP BY window", (start,)):
            if int(window) not in prior or prior[int(window)][0] < ts:
                prior[int(window)] = (ts, status, clerk)


# --- grouping -------------------------------------------------------------------------------


class _Labels:
    """Names for group keys from the hall's catalogue and staff list (main file)."""

    def __init__(self, db: Database) -> None:
        conn = db.conn
        self.services = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
            "SELECT s.code, s.name, s.name_en, c.sort * 10000 + s.sort FROM services s "
            "LEFT JOIN categories c ON c.code = s.category")}
        self.categories = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
            "SELECT code, name, name_en, sort FROM categories")}
        self.windows = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT number, name, services FROM windows")}
        self.window_services = {r[0]: (json.loads(r[1]), r[2]) for r in conn.execute(
            "SELECT number, services, kind FROM windows")}
        self.users = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, display_name, staff_no FROM users")}

    def clerk_key(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        staff_no = (self.users.get(user_id) or ("", ""))[1]
        return staff_no or f"user:{user_id}"


def _key_fn(group: str, data: Dataset, labels: _Labels) -> Any:
    if group == "hour":
        offsets: dict[str, float] = {}

        def hour(t: Ticket) -> str:
            off = offsets.get(t.day)
            if off is None:
                off = offsets[t.day] = clk.day_start(t.day, data.tz)
            h = int((t.issued_at - off) // 3600)
            return f"{min(max(h, 0), 23):02d}:00"
        return hour
    if group == "day":
        return lambda t: t.day
    if group == "service":
        return lambda t: t.service
    if group == "category":
        return lambda t: t.category
    if group == "window":
        return lambda t: None if t.window is None else str(t.window)
    return lambda t: labels.clerk_key(t.clerk)


def _targets(settings: dict[str, Any]) -> dict[str, float]:
    raw = settings.get("admin.wait_target_minutes") or {}
    return {str(k): float(v) * 60 for k, v in raw.items()} if isinstance(raw, dict) else {}


def target_s(targets: dict[str, float], service: str) -> float:
    return targets.get(service, targets.get("*", 30 * 60.0))


def _counts(ts: list[Ticket], targets: dict[str, float]) -> dict[str, Any]:
    """The row's figures in one pass over its tickets (formulas: docs/admin.md)."""
    waits: list[float] = []
    walks: list[float] = []
    services: list[float] = []
    called = served = no_show = transferred = cancelled = expired = still_open = calls = recalls = 0
    judged = within = 0
    default_target = targets.get("*", 30 * 60.0)
    for t in ts:
        status = t.status
        if t.first_call is not None:
            called += 1
        if t.wait is not None:
            waits.append(t.wait)
        if t.walk is not None:
            walks.append(t.walk)
        if t.service_s is not None:
            services.append(t.service_s)
        if status == "done":
            served += 1
            if t.wait is not None:
                judged += 1
                if t.wait <= targets.get(t.service, default_target):
                    within += 1
        elif status == "no_show":
            no_show += 1
        elif status == "cancelled":
            cancelled += 1
        elif status == "expired":
            expired += 1
        else:
            still_open += 1
        if t.transferred_at is not None:
            transferred += 1
        calls += t.calls
        recalls += t.recalls
    return {
        "issued": len(ts), "called": called, "served": served, "no_show": no_show, "transferred": transferred,
        "cancelled": cancelled, "expired": expired, "open": still_open, "calls": calls, "recalls": recalls,
        "wait_median_s": _round(median(waits)), "wait_p90_s": _round(p90(waits)),
        "walk_median_s": _round(median(walks)), "walk_p90_s": _round(p90(walks)),
        "service_median_s": _round(median(services)), "service_p90_s": _round(p90(services)),
        "served_within_target": round(within / judged, 4) if judged else None,
        "served_within_target_n": within, "served_judged_n": judged,
    }


def _label(group: str, key: str | None, labels: _Labels) -> tuple[str, str, Any]:
    """(Chinese label, English label, sort key) of a group key."""
    if key is None:
        return ("未叫号" if group in ("window", "clerk") else "—", "not called" if group in ("window", "clerk") else "—",
                (1, 0, ""))
    if group == "service":
        name, name_en, sort = labels.services.get(key, (key, key, 10**9))
        return name, name_en or name, (0, sort or 0, key)
    if group == "category":
        name, name_en, sort = labels.categories.get(key, (key, key, 10**9))
        return name, name_en or name, (0, sort or 0, key)
    if group == "window":
        name = (labels.windows.get(int(key)) or (f"{key}号窗口", ""))[0]
        return name, f"Window {key}", (0, int(key), key)
    if group == "clerk":
        uid = next((u for u, (_n, s) in labels.users.items() if (s or f"user:{u}") == key), None)
        name = labels.users.get(uid, (key, ""))[0] if uid is not None else key
        return f"{name}（{key}）", key, (0, 0, key)
    return key, key, (0, 0, key)


def queue_stats(db: Database, from_day: Any, to_day: Any, group: Any = "day", *,
                now: float | None = None, data: Dataset | None = None) -> dict[str, Any]:
    """Rows of the range grouped by ``group`` and a ``total`` row (fields: :data:`COLUMNS`;
    formulas: docs/admin.md)."""
    f, t = parse_range(from_day, to_day)
    g = _check_group(group)
    data = data or load(db, f, t, now=clk.now(None) if now is None else now)
    labels = _Labels(db)
    targets = _targets(data.settings)
    key = _key_fn(g, data, labels)
    groups: dict[str | None, list[Ticket]] = defaultdict(list)
    for tk in data.tickets:
        groups[key(tk)].append(tk)
    if g == "day":  # every day of the range, also the quiet ones
        d = dt.date.fromisoformat(f)
        last = min(dt.date.fromisoformat(t), dt.date.fromisoformat(clk.business_day(data.end - 1, data.tz)))
        while d <= last:
            groups.setdefault(d.isoformat(), [])
            d += dt.timedelta(days=1)
    elif g == "hour" and groups:
        hours = [int(str(k)[:2]) for k in groups if k is not None]
        for h in range(min(hours), max(hours) + 1):
            groups.setdefault(f"{h:02d}:00", [])
    sessions = window_time(data, labels.window_services, labels.clerk_key) if g in ("window", "clerk") else None
    if sessions is not None:
        for k in sessions[g]:
            groups.setdefault(k, [])
    rows = []
    for k, members in groups.items():
        zh, en, sort = _label(g, k, labels)
        row: dict[str, Any] = {"group": k, "label": zh, "label_en": en, **_counts(members, targets),
                               "open_s": None, "idle_s": None}
        if sessions is not None and k is not None:
            open_s, idle_s = sessions[g].get(k, (0.0, 0.0))
            row["open_s"], row["idle_s"] = round(open_s, 1), round(idle_s, 1)
        if g == "window" and k is not None:
            row["window"] = int(k)
        if g == "hour" and k is not None:
            row["hour"] = int(k[:2])
        rows.append((sort, row))
    rows.sort(key=lambda r: r[0])
    total = {"group": "total", "label": "合计", "label_en": "Total", **_counts(data.tickets, targets),
             "open_s": None, "idle_s": None}
    if sessions is not None:
        total["open_s"] = round(sum(v[0] for v in sessions["window"].values()), 1)
        total["idle_s"] = round(sum(v[1] for v in sessions["window"].values()), 1)
    return {"from": f, "to": t, "group": g, "rows": [r for _s, r in rows], "total": total,
            "missing_archives": data.missing_archives}


# --- window time: open and idle -------------------------------------------------------------

Intervals = list[tuple[float, float]]


def _union(iv: Iterable[tuple[float, float]]) -> Intervals:
    out: Intervals = []
    for a, b in sorted(x for x in iv if x[1] > x[0]):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _intersect(x: Intervals, y: Intervals) -> Intervals:
    out: Intervals = []
    i = j = 0
    while i < len(x) and j < len(y):
        a, b = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
        if a < b:
            out.append((a, b))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def _subtract(x: Intervals, y: Intervals) -> Intervals:
    out: Intervals = []
    j = 0
    for a, b in x:
        cur = a
        while j < len(y) and y[j][1] <= cur:
            j += 1
        k = j
        while k < len(y) and y[k][0] < b:
            if y[k][0] > cur:
                out.append((cur, y[k][0]))
            cur = max(cur, y[k][1])
            k += 1
        if cur < b:
            out.append((cur, b))
    return out


def _length(x: Intervals) -> float:
    return sum(b - a for a, b in x)


def window_time(data: Dataset, services_of: dict[int, tuple[list[str], str]],
                clerk_key: Callable[[int | None], str | None]) -> dict[str, dict[str | None, tuple[float, float]]]:
    """Per window and per clerk: ``(open seconds, idle seconds)`` in the range.

    Open: the window's status was ``open`` (from the window log: opened/resumed until
    paused/closed). Idle: open, no ticket of its own being handled (from a call at this
    window until that ticket finished, was marked no-show, cancelled or transferred, or
    the window's next call), while at least one ticket of a service the window serves
    (every service for a universal window; also priority tickets for the green channel)
    was waiting (issued and not yet called). A clerk's time is that of the windows while
    they were signed in there."""
    waiting_by_service: dict[str, list[tuple[float, float]]] = defaultdict(list)
    waiting_priority: list[tuple[float, float]] = []
    for t in data.tickets:
        ends = [x for x in (t.first_call, t.closed_at, t.finished_at) if x is not None and x >= t.issued_at]
        end = min(ends) if ends else data.end
        span = (max(t.issued_at, data.start), min(end, data.end))
        waiting_by_service[t.service].append(span)
        if t.priority:
            waiting_priority.append(span)
    per_service = {s: _union(v) for s, v in waiting_by_service.items()}
    all_waiting = _union(x for v in per_service.values() for x in v)
    priority_union = _union(waiting_priority)
    by_window: dict[str | None, tuple[float, float]] = {}
    by_clerk: dict[str | None, tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
    windows = set(data.window_log) | set(data.calls)
    for w in sorted(windows):
        segments = _open_segments(data.window_log.get(w, []), data.end)
        if not segments:
            continue
        cfg = services_of.get(w)
        if cfg is None or "*" in cfg[0]:
            waiting = all_waiting
        else:
            waiting = _union(x for s in cfg[0] for x in per_service.get(s, []))
            if cfg[1] == "green":
                waiting = _union(waiting + priority_union)
        busy = _busy(data, w)
        open_total = idle_total = 0.0
        for a, b, clerk in segments:
            seg = [(a, b)]
            idle = _length(_subtract(_intersect(seg, waiting), busy))
            open_total += b - a
            idle_total += idle
            key = clerk_key(clerk)
            o, i = by_clerk[key]
            by_clerk[key] = (o + (b - a), i + idle)
        by_window[str(w)] = (open_total, idle_total)
    return {"window": by_window, "clerk": dict(by_clerk)}


def _open_segments(log: list[tuple[float, str, int | None]], end: float) -> list[tuple[float, float, int | None]]:
    out: list[tuple[float, float, int | None]] = []
    since: float | None = None
    clerk: int | None = None
    for ts, status, who in log:
        if status == "open":
            if since is None:
                since, clerk = ts, who
            elif who != clerk:  # another clerk took over without a close in between
                out.append((since, ts, clerk))
                since, clerk = ts, who
        elif since is not None:
            out.append((since, ts, clerk))
            since = None
    if since is not None and since < end:
        out.append((since, end, clerk))
    return [(a, min(b, end), c) for a, b, c in out if min(b, end) > a]


def _busy(data: Dataset, window: int) -> Intervals:
    rows = data.calls.get(window, [])
    out: Intervals = []
    for n, (ts, i, _clerk, _kind) in enumerate(rows):
        t = data.tickets[i]
        nxt = rows[n + 1][0] if n + 1 < len(rows) else data.end
        ends = [x for x in (t.finished_at, t.closed_at, t.transferred_at) if x is not None and x >= ts]
        out.append((ts, min([nxt, *ends])))
    return _union(out)


# --- drill-down -----------------------------------------------------------------------------


def _matches(figure: str, t: Ticket, targets: dict[str, float]) -> bool:
    if figure == "issued":
        return True
    if figure == "called":
        return t.first_call is not None
    if figure == "served":
        return t.status == "done"
    if figure == "transferred":
        return t.transferred_at is not None
    if figure == "open":
        return t.status in ("waiting", "called", "serving")
    if figure in ("no_show", "cancelled", "expired"):
        return t.status == figure
    if figure == "wait":
        return t.wait is not None
    if figure == "walk":
        return t.walk is not None
    if figure == "service":
        return t.service_s is not None
    judged = t.status == "done" and t.wait is not None
    ok = judged and (t.wait or 0.0) <= target_s(targets, t.service)
    return ok if figure == "within_target" else (judged and not ok)


def tickets_behind(db: Database, from_day: Any, to_day: Any, group: Any, key: Any, figure: Any, *,
                   limit: int = 1000, now: float | None = None, data: Dataset | None = None) -> dict[str, Any]:
    """The tickets behind ``figure`` of the row ``key`` (``"total"`` for the total row):
    day, number, service, category, window, status and times only."""
    f, t = parse_range(from_day, to_day)
    g = _check_group(group)
    if figure not in FIGURES:
        raise ValidationError("bad_stats_figure", figure=figure)
    data = data or load(db, f, t, now=clk.now(None) if now is None else now)
    labels = _Labels(db)
    targets = _targets(data.settings)
    keyf = _key_fn(g, data, labels)
    want = None if key in ("", "null", None) else str(key)
    picked = [tk for tk in data.tickets if (key == "total" or keyf(tk) == want) and _matches(figure, tk, targets)]
    if figure in TIMES:
        attr = {"wait": "wait", "walk": "walk", "service": "service_s"}[figure]
        picked.sort(key=lambda tk: getattr(tk, attr) or 0.0, reverse=True)
    else:
        picked.sort(key=lambda tk: (tk.issued_at, tk.number))
    names = {code: v[0] for code, v in labels.services.items()}
    out = [{
        "day": tk.day, "number": tk.number, "service": tk.service, "service_name": names.get(tk.service, tk.service),
        "category": tk.category, "window": tk.window, "status": tk.status, "issued_at": tk.issued_at,
        "first_called_at": tk.first_call, "started_at": tk.started_at, "finished_at": tk.finished_at,
        "closed_at": tk.closed_at, "transferred": tk.transferred_at is not None, "calls": tk.calls,
        "recalls": tk.recalls, "wait_s": _round(tk.wait), "walk_s": _round(tk.walk),
        "service_s": _round(tk.service_s), "target_s": target_s(targets, tk.service),
    } for tk in picked[:limit]]
    return {"from": f, "to": t, "group": g, "key": key, "figure": figure, "count": len(picked),
            "tickets": out, "truncated": len(picked) > limit}


#: Drill-down columns (exports): (key, zh, en, kind).
TICKET_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("day", "日期", "Day", "text"), ("number", "号码", "Number", "text"), ("service", "事项代码", "Service", "text"),
    ("service_name", "事项", "Service name", "text"), ("window", "窗口", "Window", "int"),
    ("status", "状态", "Status", "text"), ("issued_at", "取号时间", "Issued", "time"),
    ("first_called_at", "首次叫号", "First call", "time"), ("started_at", "开始办理", "Started", "time"),
    ("finished_at", "办结时间", "Finished", "time"), ("wait_s", "等候", "Wait", "seconds"),
    ("walk_s", "到窗", "Walk", "seconds"), ("service_s", "办理", "Service", "seconds"),
    ("calls", "呼叫", "Calls", "int"), ("recalls", "重呼", "Recalls", "int"),
)


# --- live -----------------------------------------------------------------------------------


def live(db: Database, now: float | None = None) -> dict[str, Any]:
    """Today now: waiting per category (with each category's longest current wait), the
    longest wait in the hall, windows open / paused / closed, issued, served and no-show so
    far. Reads today's rows only (indexes by day), so a year of history does not slow it."""
    settings = all_settings(db)
    tz = str(settings["timezone"])
    t = clk.now(None) if now is None else now
    day = clk.business_day(t, tz)
    conn = db.conn
    oldest = dict(conn.execute(
        "SELECT category, MIN(issued_at) FROM tickets WHERE day = ? AND status = 'waiting' GROUP BY category",
        (day,)).fetchall())
    counts = dict(conn.execute(
        "SELECT s.category, SUM(w.n) FROM waiting_counts w JOIN services s ON s.code = w.service_code "
        "WHERE w.day = ? GROUP BY s.category", (day,)).fetchall())
    waiting = [{"category": r[0], "name": r[1], "name_en": r[2], "prefix": r[3], "waiting": int(counts.get(r[0]) or 0),
                "longest_wait_s": round(t - oldest[r[0]], 1) if r[0] in oldest else None}
               for r in conn.execute("SELECT code, name, name_en, prefix FROM categories ORDER BY sort, code")]
    win = dict(conn.execute("SELECT status, COUNT(*) FROM windows GROUP BY status").fetchall())
    tk = conn.execute(
        "SELECT COUNT(*), SUM(status = 'done'), SUM(status = 'no_show'), SUM(status IN ('called', 'serving')) "
        "FROM tickets WHERE day = ?", (day,)).fetchone()
    first = min(oldest.values()) if oldest else None
    return {
        "day": day, "now": t,
        "waiting_total": sum(w["waiting"] for w in waiting),
        "longest_wait_s": round(t - first, 1) if first is not None else None,
        "waiting": waiting,
        "windows_open": int(win.get("open", 0)), "windows_paused": int(win.get("paused", 0)),
        "windows_closed": int(win.get("closed", 0)),
        "issued": int(tk[0] or 0), "served": int(tk[1] or 0), "no_show": int(tk[2] or 0),
        "at_windows": int(tk[3] or 0),
    }
