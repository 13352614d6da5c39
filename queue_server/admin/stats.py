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
* :func:`make_rollups` — keeps the per-day facts of closed days
  (:mod:`queue_server.admin.rollups`), which :func:`queue_stats` reads instead of their rows
  (today and open days always come from the rows; the same figures): a few days at a time
  by the scheduler's background task ``stats_facts`` (:func:`facts_ahead`) as soon as a day
  is closed, all of them by the daily job ``stats_rollups``, and by archiving before it
  moves the days (:func:`before_archive`).

Each ticket belongs to exactly one group of each grouping, so a column of counts adds up
to the total. A ticket waits, and is handled, within its own business day (window idle
time; the engine only calls today's tickets), which is what lets a range be added up day
by day. Times: ``wait`` = first call − issue, ``walk`` = start − the call before it,
``service`` = finish − start (served tickets that were started). Medians are the middle
value (the mean of the two middle ones for an even count); the 90th percentile is the
nearest-rank one: the ⌈0.9·n⌉-th smallest value.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import logging
import math
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.admin import rollups
from queue_server.admin.source import StatsSource, open_source
from queue_server.errors import ValidationError
from queue_server.schedule import background, daily
from queue_server.settings import all_settings

log = logging.getLogger(__name__)

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


def bounds(from_day: str, to_day: str, tz: str, now: float | None) -> tuple[float, float]:
    """The range's start and end (Unix time): ``to_day``'s end, or ``now`` if earlier."""
    start = clk.day_start(from_day, tz)
    end = clk.day_start(next_day(to_day), tz)
    if now is not None:
        end = min(end, max(start, now))
    return start, end


def next_day(day: str) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()


def days_of(from_day: str, to_day: str) -> list[str]:
    d, last = dt.date.fromisoformat(from_day), dt.date.fromisoformat(to_day)
    out = []
    while d <= last:
        out.append(d.isoformat())
        d += dt.timedelta(days=1)
    return out


def load(db: Database, from_day: str, to_day: str, *, now: float | None = None,
         only: tuple[str, tuple[Any, ...]] | None = None, window_log: bool = True) -> Dataset:
    """Read the range's tickets, calls and window log from the hall file and its archives.

    ``only``: an SQL condition on the ticket columns and its parameters (a drill-down reads
    just the tickets of one row); ``window_log=False`` skips the window log (no idle time)."""
    settings = all_settings(db)
    tz = str(settings["timezone"])
    start, end = bounds(from_day, to_day, tz, now)
    tickets: list[Ticket] = []
    calls: dict[int, list[tuple[float, int, int, str]]] = defaultdict(list)
    log: dict[int, list[tuple[float, str, int | None]]] = defaultdict(list)
    prior: dict[int, tuple[float, str, int | None]] = {}
    with open_source(db, from_day, to_day) as src:
        for schema in src.schemas:
            _load_schema(src, schema, from_day, to_day, start, end, tickets, calls, log, prior, only, window_log)
        missing = list(src.missing)
    for window, (_ts, status, clerk) in prior.items():
        log[window].insert(0, (start, status, clerk))
    for tk in tickets:
        tk.finish()
    for rows in calls.values():
        rows.sort(key=lambda r: (r[0], r[1]))
    for entries in log.values():
        entries.sort(key=lambda r: r[0])
    return Dataset(from_day, to_day, tz, start, end, tickets, dict(calls), dict(log), missing, settings)


def _load_schema(src: StatsSource, schema: str, from_day: str, to_day: str, start: float, end: float,
                 tickets: list[Ticket], calls: dict[int, list[tuple[float, int, int, str]]],
                 window_log: dict[int, list[tuple[float, str, int | None]]],
                 prior: dict[int, tuple[float, str, int | None]], only: tuple[str, tuple[Any, ...]] | None,
                 with_window_log: bool) -> None:
    index: dict[int, int] = {}
    cond, params = only if only is not None else ("1", ())
    for r in src.execute(f"SELECT {_TICKET_COLS} FROM {schema}.tickets WHERE day >= ? AND day <= ? AND ({cond})",
                         (from_day, to_day, *params)):
        index[r[0]] = len(tickets)
        t = Ticket(schema, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13])
        if r[14] is not None:
            t.first_call = r[14]  # replaced by the call log's first call below
        tickets.append(t)
    seen_in_log: set[int] = set()
    if src.has_table(schema, "call_log"):
        sql = f"SELECT ticket_id, window, kind, clerk_user_id, ts FROM {schema}.call_log WHERE ts >= ? AND ts < ?"
        # a ticket is called on its own day, after its issue: the range's own calls, with an
        # hour's margin for a clock stepped back, a day's after (``end`` may be now)
        args: tuple[Any, ...] = (start - 3600, end + 86400)
        if only is not None:  # just the calls of the tickets read (matched in SQL, not in Python)
            sql += f" AND ticket_id IN (SELECT id FROM {schema}.tickets WHERE day >= ? AND day <= ? AND ({cond}))"
            args += (from_day, to_day, *params)
        for tid, window, kind, clerk, ts in src.execute(sql + " ORDER BY ts, id", args):
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
    if with_window_log and src.has_table(schema, "admin_window_log"):
        for ts, window, status, clerk in src.execute(
                f"SELECT ts, window, status, clerk_user_id FROM {schema}.admin_window_log WHERE ts >= ? AND ts < ?",
                (start, end)):
            window_log[int(window)].append((ts, status, clerk))
        # each window's state when the range starts (the newest change before it, in any
        # file): one index lookup per window (index on window, ts)
        for window, status, clerk, ts in src.execute(
                f"SELECT a.window, a.status, a.clerk_user_id, a.ts FROM (SELECT DISTINCT window FROM "
                f"{schema}.admin_window_log) AS w JOIN {schema}.admin_window_log AS a ON a.rowid = ("
                f"SELECT x.rowid FROM {schema}.admin_window_log AS x WHERE x.window = w.window AND x.ts < ? "
                f"ORDER BY x.ts DESC, x.rowid DESC LIMIT 1)", (start,)):
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
                now: float | None = None, data: Dataset | None = None, rollups: bool = True) -> dict[str, Any]:
    """Rows of the range grouped by ``group`` and a ``total`` row (fields: :data:`COLUMNS`;
    formulas: docs/admin.md).

    Closed days come from their stored per-day facts (:mod:`queue_server.admin.rollups`;
    made here on first use, and by the daily job), today and other open days from the rows.
    ``rollups=False`` (or a ``data`` set already read) computes everything from the rows:
    the same figures, slower (tests compare the two)."""
    f, t = parse_range(from_day, to_day)
    g = _check_group(group)
    now = clk.now(None) if now is None else now
    if data is None and rollups:
        return _queue_stats_fast(db, f, t, g, now)
    data = data or load(db, f, t, now=now)
    labels = _Labels(db)
    targets = _targets(data.settings)
    key = _key_fn(g, data, labels)
    groups: dict[str | None, list[Ticket]] = defaultdict(list)
    for tk in data.tickets:
        groups[key(tk)].append(tk)
    sessions = window_time(data, labels.window_services, labels.clerk_key) if g in ("window", "clerk") else None
    figs = {k: _counts(members, targets) for k, members in groups.items()}
    return _assemble(g, f, t, data.tz, data.end, figs, _counts(data.tickets, targets), sessions, labels, targets,
                     data.missing_archives)


def _assemble(g: str, f: str, t: str, tz: str, end: float, figs: dict[str | None, dict[str, Any]],
              total_figs: dict[str, Any], sessions: dict[str, dict[str | None, tuple[float, float]]] | None,
              labels: _Labels, targets: dict[str, float], missing: list[str]) -> dict[str, Any]:
    """The answer from each group's figures: quiet days and hours listed, window time,
    labels, table order, the total."""
    figs = dict(figs)
    if g == "day":  # every day of the range, also the quiet ones
        last = min(t, clk.business_day(end - 1, tz))
        for d in days_of(f, last) if last >= f else []:
            figs.setdefault(d, {})
    elif g == "hour" and figs:
        hours = [int(str(k)[:2]) for k in figs if k is not None]
        for h in range(min(hours), max(hours) + 1):
            figs.setdefault(f"{h:02d}:00", {})
    if sessions is not None:
        for k in sessions[g]:
            figs.setdefault(k, {})
    empty = _counts([], targets)
    rows = []
    for k, fig in figs.items():
        zh, en, sort = _label(g, k, labels)
        row: dict[str, Any] = {"group": k, "label": zh, "label_en": en, **(fig or empty), "open_s": None,
                               "idle_s": None}
        if sessions is not None and k is not None:
            open_s, idle_s = sessions[g].get(k, (0.0, 0.0))
            row["open_s"], row["idle_s"] = round(open_s, 1), round(idle_s, 1)
        if g == "window" and k is not None:
            row["window"] = int(k)
        if g == "hour" and k is not None:
            row["hour"] = int(k[:2])
        rows.append((sort, row))
    rows.sort(key=lambda r: r[0])
    total = {"group": "total", "label": "合计", "label_en": "Total", **total_figs, "open_s": None, "idle_s": None}
    if sessions is not None:
        total["open_s"] = round(sum(v[0] for v in sessions["window"].values()), 1)
        total["idle_s"] = round(sum(v[1] for v in sessions["window"].values()), 1)
    return {"from": f, "to": t, "group": g, "rows": [r for _s, r in rows], "total": total,
            "missing_archives": missing}


# --- the fast path: per-day facts ------------------------------------------------------------


def _runs(days: list[str]) -> list[tuple[str, str]]:
    """Consecutive days as ``(first, last)`` runs."""
    out: list[tuple[str, str]] = []
    for d in days:
        if out and next_day(out[-1][1]) == d:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def facts_for(db: Database, from_day: str, to_day: str, *, now: float, labels: _Labels | None = None,
              store: bool = True) -> tuple[list[rollups.DayFacts], list[str]]:
    """Every day of the range as :class:`rollups.DayFacts`: stored ones as they are, the
    others built from the rows (one read per run of consecutive days) and, when closed and
    read completely, stored. Returns the days in order and the archive files that could
    not be read."""
    labels = labels or _Labels(db)
    settings = all_settings(db)
    tz = str(settings["timezone"])
    basis = rollups.basis(tz, labels.window_services)
    today = clk.business_day(now, tz)
    days = days_of(from_day, to_day)
    facts = rollups.read(db.conn, from_day, to_day, basis)
    missing: list[str] = []
    fresh: list[rollups.DayFacts] = []
    for a, b in _runs([d for d in days if d not in facts]):
        data = load(db, a, b, now=now)
        built = day_facts(data, labels.window_services)
        facts.update(built)
        missing += [m for m in data.missing_archives if m not in missing]
        if not data.missing_archives:
            fresh += [x for x in built.values() if rollups.storable(x, today)]
    if store and fresh:
        try:
            rollups.store(db, fresh, basis)
        except (sqlite3.Error, OSError):  # a read-only, full or busy file: the figures are right all the same
            log.warning("statistics: could not store per-day facts", exc_info=True)
    return [facts[d] for d in days], missing


def _queue_stats_fast(db: Database, f: str, t: str, g: str, now: float) -> dict[str, Any]:
    settings = all_settings(db)
    tz = str(settings["timezone"])
    labels = _Labels(db)
    targets = _targets(settings)
    days, missing = facts_for(db, f, t, now=now, labels=labels)
    comb = rollups.combine(days)
    target = np.array([target_s(targets, code) for code in comb.services] or [0.0], dtype=np.float64)
    target = target[comb.cols["svc"]] if comb.n else np.zeros(0)
    keys, gid = _group_keys(g, comb, labels)
    per_group = rollups.figures(comb, gid, len(keys), target)
    figs: dict[str | None, dict[str, Any]] = dict(zip(keys, per_group, strict=True))
    total_figs = rollups.figures(comb, np.zeros(comb.n, dtype=np.int64), 1, target)[0]
    sessions = None
    if g in ("window", "clerk"):
        by_window: dict[str | None, tuple[float, float]] = {}
        by_clerk: dict[str | None, tuple[float, float]] = {}
        for day in days:
            for w, (o, i) in day.windows.items():
                po, pi = by_window.get(w, (0.0, 0.0))
                by_window[w] = (po + o, pi + i)
            for uid, (o, i) in day.clerks.items():
                ck = labels.clerk_key(int(uid)) if uid else None
                po, pi = by_clerk.get(ck, (0.0, 0.0))
                by_clerk[ck] = (po + o, pi + i)
        sessions = {"window": by_window, "clerk": by_clerk}
    _start, end = bounds(f, t, tz, now)
    return _assemble(g, f, t, tz, end, figs, total_figs, sessions, labels, targets, missing)


def _group_keys(g: str, comb: rollups.Combined, labels: _Labels) -> tuple[list[str | None], np.ndarray]:
    """The group keys present and each ticket's index among them (two values that name the
    same key — two user ids with one 工号 — are one group)."""
    if g == "day":
        values, inv = rollups.group_ids(comb.day_index)
        names: list[str | None] = [comb.days[int(v)] for v in values]
    else:
        col = {"hour": "hour", "service": "svc", "category": "cat", "window": "win", "clerk": "clerk"}[g]
        values, inv = rollups.group_ids(comb.cols[col])
        if g == "hour":
            names = [f"{int(v):02d}:00" for v in values]
        elif g == "service":
            names = [comb.services[int(v)] for v in values]
        elif g == "category":
            names = [comb.categories[int(v)] for v in values]
        elif g == "window":
            names = [None if int(v) == rollups.NONE else str(int(v)) for v in values]
        else:
            names = [None if int(v) == rollups.NONE else labels.clerk_key(int(v)) for v in values]
    keys: dict[str | None, int] = {}
    remap = np.array([keys.setdefault(k, len(keys)) for k in names] or [0], dtype=np.int64)
    return list(keys), remap[inv] if len(inv) else inv


def day_facts(data: Dataset, services_of: dict[int, tuple[list[str], str]]) -> dict[str, rollups.DayFacts]:
    """Each day of ``data``'s range as :class:`rollups.DayFacts` (a quiet day: no tickets)."""
    wt = window_time_by_day(data, services_of)
    by_day: dict[str, list[Ticket]] = defaultdict(list)
    for tk in data.tickets:
        by_day[tk.day].append(tk)
    out = {}
    nan = math.nan
    for day in days_of(data.from_day, data.to_day):
        ts = by_day.get(day, [])
        services: dict[str, int] = {}
        categories: dict[str, int] = {}
        off = clk.day_start(day, data.tz)
        cols = {
            "svc": [services.setdefault(tk.service, len(services)) for tk in ts],
            "cat": [categories.setdefault(tk.category, len(categories)) for tk in ts],
            "win": [rollups.NONE if tk.window is None else tk.window for tk in ts],
            "clerk": [rollups.NONE if tk.clerk is None else tk.clerk for tk in ts],
            "hour": [min(max(int((tk.issued_at - off) // 3600), 0), 23) for tk in ts],
            "status": [rollups.STATUS_CODES.get(tk.status, rollups.OPEN) for tk in ts],
            "transferred": [tk.transferred_at is not None for tk in ts],
            "calls": [tk.calls for tk in ts],
            "recalls": [tk.recalls for tk in ts],
            "wait": [nan if tk.wait is None else tk.wait for tk in ts],
            "walk": [nan if tk.walk is None else tk.walk for tk in ts],
            "service": [nan if tk.service_s is None else tk.service_s for tk in ts],
        }
        windows, clerks = wt.get(day, ({}, {}))
        out[day] = rollups.DayFacts(
            day, list(services), list(categories),
            {k: np.array(v, dtype=rollups.COLUMNS[k]) for k, v in cols.items()},
            {str(w): v for w, v in windows.items()},
            {("" if uid is None else str(uid)): v for uid, v in clerks.items()},
            sources=frozenset(tk.src for tk in ts), from_main=sum(1 for tk in ts if tk.src == "main"),
            settled=all(tk.status in rollups.STATUS_CODES for tk in ts))
    return out


def still_open_days(db: Database, first: str, last: str) -> set[str]:
    """Days of the range with a ticket still waiting, called or serving in the hall file (not
    closed yet, so not kept): one read of the partial index ``tickets_open``."""
    return {r[0] for r in db.conn.execute(
        "SELECT DISTINCT day FROM tickets WHERE day >= ? AND day <= ? AND status IN ('waiting', 'called', 'serving')",
        (first, last))}


def first_ticket_day(db: Database) -> str | None:
    """The earliest business day with tickets, in the hall file or an archive file it knows."""
    row = db.conn.execute("SELECT (SELECT MIN(day) FROM tickets), (SELECT MIN(first_day) FROM admin_archives)").fetchone()
    days = [str(v) for v in row if v]
    return min(days) if days else None


def make_rollups(db: Database, today: str | None = None, *, days: int = MAX_DAYS, chunk: int = 31,
                 limit: int | None = None, newest_first: bool = False, since: str | None = None,
                 skip: Iterable[str] = (), labels: _Labels | None = None,
                 timings: list[float] | None = None) -> dict[str, Any]:
    """Store the per-day facts of every closed day of the ``days`` days before ``today``
    (default: the business day now; not before ``since``) that has none, or one made on
    another basis; ``chunk`` days per read, a few days per short write transaction
    (:func:`rollups.store`, durations appended to ``timings``). Days with a ticket still open
    in the hall file, and ``skip``, are left for later. ``limit``: make at most that many
    (``newest_first``: the most recent ones), ``more`` in the answer says whether some are
    left. The daily job does them all; the background task a few per step."""
    tz = str(all_settings(db)["timezone"])
    today = today or clk.business_day(clk.now(None), tz)
    now = clk.day_start(today, tz)
    first = (dt.date.fromisoformat(today) - dt.timedelta(days=days)).isoformat()
    if since is not None and since > first:
        first = since
    last = (dt.date.fromisoformat(today) - dt.timedelta(days=1)).isoformat()
    labels = labels or _Labels(db)
    basis = rollups.basis(tz, labels.window_services)
    out: dict[str, Any] = {"days_made": 0, "days_left": 0, "days_kept": 0, "days_open": 0,
                           "missing_archives": [], "not_kept": [], "more": False}
    if first > last:
        return out
    have = rollups.stored_days(db.conn, first, last, basis)
    still_open = still_open_days(db, first, last)
    skipped = set(skip)
    lacking = [d for d in days_of(first, last) if d not in have and d not in still_open and d not in skipped]
    if newest_first:
        lacking.reverse()
    todo = sorted(lacking if limit is None else lacking[:limit])
    out["more"] = limit is not None and len(lacking) > limit
    out["days_kept"] = len(have)
    out["days_open"] = len(still_open - have)
    missing: list[str] = out["missing_archives"]
    not_kept: list[str] = out["not_kept"]
    for a, b in _runs(todo):
        run = days_of(a, b)
        for part in range(0, len(run), chunk):
            piece = run[part:part + chunk]
            data = load(db, piece[0], piece[-1], now=now)
            if data.missing_archives:  # never keep a day read without one of its files
                missing += [m for m in data.missing_archives if m not in missing]
                not_kept += piece
                continue
            built = [x for x in day_facts(data, labels.window_services).values() if rollups.storable(x, today)]
            out["days_made"] += rollups.store(db, built, basis, timings=timings)
            kept = rollups.stored_days(db.conn, piece[0], piece[-1], basis)
            not_kept += [d for d in piece if d not in kept]
    out["days_left"] = out["days_open"] + len(not_kept)
    return out


@daily("stats_rollups", "admin.rollup_time",
       "Per-day statistics facts of closed days (a month's statistics read them instead of every ticket): "
       "a daily sweep of what the background task stats_facts has not made.")
def _daily_rollups(db: Database, day: str) -> dict[str, Any]:
    return make_rollups(db, day)


def before_archive(db: Database, day: str, now: float | None = None) -> dict[str, Any]:
    """Make the per-day facts of every closed day before ``day`` that lacks them, read from
    the hall file — what archiving is about to move (it calls this first, through
    :func:`queue_server.admin.schema.before_archive`), so its days answer from their facts
    without reading the archive file. Short write transactions, like everything here."""
    tz = str(all_settings(db)["timezone"])
    upto = min(day, clk.business_day(clk.now(None) if now is None else now, tz))
    first = db.conn.execute("SELECT MIN(day) FROM tickets WHERE day < ?", (upto,)).fetchone()[0]
    if first is None:
        return {"days_made": 0, "days_left": 0}
    span = (dt.date.fromisoformat(upto) - dt.date.fromisoformat(first)).days
    return make_rollups(db, upto, days=span, since=first)


#: Closed days the background task makes per step, newest first (a week of a busy centre:
#: ~8,000 tickets, a few tenths of a second).
AHEAD_STEP_DAYS = 7
#: A day tried in the background and not kept (an archive file missing, archived meanwhile)
#: is tried again after this many seconds (or at once when the basis changes).
AHEAD_RETRY_S = 3600.0


@background("stats_facts", "Per-day statistics facts of each closed day as soon as it is closed, newest first, "
            "a week per step (all days lacking them at start; again after a window's services change).")
def facts_ahead(db: Database, now: float, memo: dict[str, Any]) -> bool:
    """One step of the background task ``stats_facts``: the per-day facts of the (at most)
    :data:`AHEAD_STEP_DAYS` most recent closed days of the last :data:`MAX_DAYS` that lack
    them, from the first day with tickets on. A day becomes closed the moment its last open
    ticket ends — usually when the next morning's first ticket expires what it left waiting,
    at midnight when it left nothing — so the scheduler makes it within a check of that, and
    a month's first request finds its days made. True while more days lack them."""
    since = first_ticket_day(db)
    if since is None:
        return False
    tz = str(all_settings(db)["timezone"])
    today = clk.business_day(now, tz)
    labels = _Labels(db)
    basis = rollups.basis(tz, labels.window_services)
    tried: dict[str, tuple[str, float]] = memo.setdefault("tried", {})
    skip = {d for d, (b, at) in tried.items() if b == basis and 0 <= now - at < AHEAD_RETRY_S}
    timings: list[float] = []
    out = make_rollups(db, today, since=since, limit=AHEAD_STEP_DAYS, newest_first=True, skip=skip, labels=labels,
                       chunk=AHEAD_STEP_DAYS, timings=timings)
    for d in out["not_kept"]:
        tried[d] = (basis, now)
    memo["last"] = {k: out[k] for k in ("days_made", "days_left", "days_kept", "more")}
    memo["days_made"] = memo.get("days_made", 0) + out["days_made"]
    memo["longest_tx_s"] = max([memo.get("longest_tx_s", 0.0), *timings])
    return bool(out["more"])


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
    was waiting (issued and not yet called). A ticket waits and is handled within its own
    business day at most: the engine calls and handles only today's tickets, so what a day
    left open (expired at the next day's first ticket) is nobody's work overnight. A
    clerk's time is that of the windows while they were signed in there.

    This is the whole range in one sweep; :func:`window_time_by_day` gives the same sums
    day by day (for the per-day facts)."""
    day_end = _day_ends(data)
    waiting_by_service: dict[str, list[tuple[float, float]]] = defaultdict(list)
    waiting_priority: list[tuple[float, float]] = []
    for t in data.tickets:
        span = _waiting_span(t, data, day_end(t.day))
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
        waiting = _waiting_for(w, services_of, per_service, all_waiting, priority_union)
        busy = _busy([(ts, data.tickets[i]) for ts, i, _c, _k in data.calls.get(w, [])], data.end, day_end)
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


def window_time_by_day(data: Dataset, services_of: dict[int, tuple[list[str], str]]
                       ) -> dict[str, tuple[dict[int, tuple[float, float]], dict[int | None, tuple[float, float]]]]:
    """:func:`window_time` of each business day of the range on its own: ``day →
    ({window: (open, idle)}, {clerk user id: (open, idle)})``. Open spans are cut at
    midnight; since a ticket waits and is handled within its own day, each day needs only
    its own tickets, and the days add up to the range exactly (Unix times after 2004 are
    multiples of 2⁻²² s as doubles, and so are their differences and sums below 2³¹ s: no
    rounding)."""
    day_end = _day_ends(data)
    waiting: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    priority: dict[str, list[tuple[float, float]]] = defaultdict(list)
    ends: dict[str, float] = {}
    for t in data.tickets:
        e = ends.get(t.day)
        if e is None:
            e = ends[t.day] = day_end(t.day)
        span = _waiting_span(t, data, e)
        waiting[t.day][t.service].append(span)
        if t.priority:
            priority[t.day].append(span)
    starts = [(clk.day_start(d, data.tz), d) for d in days_of(data.from_day, data.to_day)]
    out: dict[str, tuple[dict[int, tuple[float, float]], dict[int | None, tuple[float, float]]]] = {}
    unions: dict[str, tuple[dict[str, Intervals], Intervals, Intervals]] = {}
    for w in sorted(set(data.window_log) | set(data.calls)):
        pieces: dict[str, list[tuple[float, float, int | None]]] = defaultdict(list)
        for a, b, clerk in _open_segments(data.window_log.get(w, []), data.end):
            for day, x, y in _split_by_day(a, b, starts, data.end):
                pieces[day].append((x, y, clerk))
        if not pieces:
            continue
        calls_by_day: dict[str, list[tuple[float, Ticket]]] = defaultdict(list)
        for ts, i, _c, _k in data.calls.get(w, []):
            calls_by_day[data.tickets[i].day].append((ts, data.tickets[i]))
        for day, segs in pieces.items():
            if day not in unions:
                per_service = {s: _union(v) for s, v in waiting[day].items()}
                unions[day] = (per_service, _union(x for v in per_service.values() for x in v),
                               _union(priority[day]))
            wait_w = _waiting_for(w, services_of, *unions[day])
            busy = _busy(calls_by_day.get(day, []), min(day_end(day), data.end), None)
            by_window, by_clerk = out.setdefault(day, ({}, {}))
            for a, b, clerk in segs:
                idle = _length(_subtract(_intersect([(a, b)], wait_w), busy))
                po, pi = by_window.get(w, (0.0, 0.0))
                by_window[w] = (po + (b - a), pi + idle)
                po, pi = by_clerk.get(clerk, (0.0, 0.0))
                by_clerk[clerk] = (po + (b - a), pi + idle)
    return out


def _day_ends(data: Dataset) -> Callable[[str], float]:
    cache: dict[str, float] = {}

    def end(day: str) -> float:
        e = cache.get(day)
        if e is None:
            e = cache[day] = clk.day_start(next_day(day), data.tz)
        return e
    return end


def _waiting_span(t: Ticket, data: Dataset, day_end: float) -> tuple[float, float]:
    """Issue → first call, cancellation or finish; at most to the end of its day (or now)."""
    issued = t.issued_at
    end = day_end if day_end < data.end else data.end
    for x in (t.first_call, t.closed_at, t.finished_at):
        if x is not None and issued <= x < end:
            end = x
    return (issued if issued > data.start else data.start, end)


def _waiting_for(w: int, services_of: dict[int, tuple[list[str], str]], per_service: dict[str, Intervals],
                 all_waiting: Intervals, priority_union: Intervals) -> Intervals:
    """When a ticket window ``w`` may call was waiting (its current service list)."""
    cfg = services_of.get(w)
    if cfg is None or "*" in cfg[0]:
        return all_waiting
    waiting = _union(x for s in cfg[0] for x in per_service.get(s, []))
    if cfg[1] == "green":
        waiting = _union(waiting + priority_union)
    return waiting


def _split_by_day(a: float, b: float, starts: list[tuple[float, str]], end: float) -> list[tuple[str, float, float]]:
    """``(a, b)`` cut at the midnights of the range (``starts``: each day's start, in order)."""
    out = []
    n = max(0, bisect.bisect_right(starts, (a, "\uffff")) - 1)
    while n < len(starts) and starts[n][0] < b:
        s0, day = starts[n]
        s1 = starts[n + 1][0] if n + 1 < len(starts) else end
        x, y = max(a, s0), min(b, s1)
        if x < y:
            out.append((day, x, y))
        n += 1
    return out


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


def _busy(calls: list[tuple[float, Ticket]], end: float, day_end: Callable[[str], float] | None) -> Intervals:
    """A window's own-ticket time from its calls ``(ts, ticket)`` in time order: from each
    call until the ticket finished, was closed or transferred, the window's next call, or
    its day ended (``end``: the range's end, for the last call; ``day_end`` None: the calls
    are of one day and ``end`` is not after its end)."""
    out: Intervals = []
    last = len(calls) - 1
    for n, (ts, t) in enumerate(calls):
        stop = calls[n + 1][0] if n < last else end
        if day_end is not None:
            e = day_end(t.day)
            if e < stop:
                stop = e
        for x in (t.finished_at, t.closed_at, t.transferred_at):
            if x is not None and ts <= x < stop:
                stop = x
        out.append((ts, stop))
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
    labels = _Labels(db)
    data = data or load(db, f, t, now=clk.now(None) if now is None else now, only=_row_filter(g, key, labels),
                        window_log=False)
    targets = _targets(data.settings)
    keyf = _key_fn(g, data, labels)
    want = None if key in ("", "null", None) else str(key)
    picked = [tk for tk in data.tickets if (key == "total" or keyf(tk) == want) and _matches(figure, tk, targets)]
    picked.sort(key=lambda tk: (tk.issued_at, tk.day, tk.number))
    if figure in TIMES:  # longest first; equal times in issue order
        attr = {"wait": "wait", "walk": "walk", "service": "service_s"}[figure]
        picked.sort(key=lambda tk: getattr(tk, attr) or 0.0, reverse=True)
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


def _row_filter(g: str, key: Any, labels: _Labels) -> tuple[str, tuple[Any, ...]] | None:
    """An SQL condition that keeps (at least) the tickets of the row ``key`` of grouping
    ``g``, so a drill-down reads only them (the exact match is made in Python after)."""
    if key == "total" or g == "hour":
        return None
    want = None if key in ("", "null", None) else str(key)
    if g == "day":
        return ("day = ?", (want,))
    if g in ("service", "category"):
        return (f"{'service_code' if g == 'service' else 'category'} = ?", (want,))
    column = "window" if g == "window" else "clerk_user_id"
    if want is None:
        return (f"{column} IS NULL", ())
    if g == "window":
        return ("window = ?", (int(want),)) if want.lstrip("-").isdigit() else ("0", ())
    ids = [u for u in labels.users if labels.clerk_key(u) == want]
    if want.startswith("user:") and want[5:].isdigit() and int(want[5:]) not in labels.users:
        ids.append(int(want[5:]))  # a user id no longer in the staff list
    return (f"clerk_user_id IN ({', '.join('?' * len(ids))})", tuple(ids)) if ids else ("0", ())


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
