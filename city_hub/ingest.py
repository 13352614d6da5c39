"""``POST /ingest/<hall>``: check a hall's signed batch and store it exactly once.

:func:`ingest` is the whole of it, Flask-free: the route hands it the raw body and the
signature header. In order:

1. the hall must be registered (``city-hub hall add``), else the batch is refused and logged;
2. the Ed25519 signature must verify over the **exact bytes** received with the hall's key,
   else refused and logged (``ingest_log``) — nothing of the body is read before this;
3. the body must be a batch of this hall (``hall`` equals the URL's), with ids strictly
   increasing inside ``(after, upto]``, else refused;
4. in one PostgreSQL transaction, holding the hall's row lock (batches of one hall are
   serialised): events the hub already holds (``id <= acked_to``) are skipped; the others
   are classified (:func:`yichuang.citylink.check_event`) — readable and unknown types go to
   ``events`` (``ON CONFLICT DO NOTHING`` on ``(hall, id, day)``), unreadable ones to
   ``quarantine``; only rows inserted now update the aggregates, the live state and the
   province outbox, so a resent batch changes nothing; the cursor moves to ``upto`` when
   the batch starts at or before it (``after <= acked_to``); the audit head is checked and
   stored; the batch's optional ``licence_trust`` part (a hall's e-licence keys and
   revocations) is kept by :func:`city_hub.trust.store_report` — a malformed part is refused
   on its own and logged, never the batch.

The answer is ``{"acked": acked_to, "audit_anchor": {"id"}?, ...}``: the hall stores
``acked`` as its cursor and proves the anchor in its next batch (see :mod:`city_hub.audit`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from city_hub import audit, province, trust
from yichuang import citylink
from yichuang.errors import lookup

log = logging.getLogger("city_hub.ingest")

#: Largest batch body the hub reads (a 500-event batch is ~100 KB).
MAX_BODY = 8 * 1024 * 1024
MAX_EVENTS = 5000


class Refused(Exception):
    """A batch the hub does not take: a code of :mod:`yichuang.errors` (its HTTP status
    comes from there) and a detail for the log."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.status = lookup(code).status
        self.detail = detail


@dataclass
class Result:
    acked: int
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    unknown_types: int = 0
    audit_anchor: int | None = None
    audit_flag: str | None = None
    #: What became of the batch's ``licence_trust`` part (None: the batch had none).
    licence_trust: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"acked": self.acked, "stored": self.stored, "duplicates": self.duplicates,
                               "quarantined": self.quarantined, "unknown_types": self.unknown_types}
        if self.audit_anchor is not None:
            out["audit_anchor"] = {"id": self.audit_anchor}
        if self.audit_flag:
            out["audit_flag"] = self.audit_flag
        if self.licence_trust is not None:
            out["licence_trust"] = self.licence_trust
        return out


def _refuse(conn: psycopg.Connection, hall: str, refused: Refused, body: bytes, remote: str) -> Refused:
    code, detail = refused.code, refused.detail
    with conn.transaction():
        conn.execute("INSERT INTO ingest_log (hall, outcome, detail, remote, body_sha256) VALUES (%s, %s, %s, %s, %s)",
                     (hall[:64], code, detail[:500], remote[:64], hashlib.sha256(body).hexdigest()))
    log.warning("batch from %s refused (%s): %s [%s]", hall, code, detail, remote)
    return refused


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse(body: bytes, hall: str) -> dict[str, Any]:
    try:
        b = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError("body is not JSON") from exc
    if not isinstance(b, dict) or b.get("format") != citylink.BATCH_FORMAT:
        raise ValueError("not a batch of a known format")
    if b.get("hall") != hall:
        raise ValueError(f"batch of hall {b.get('hall')!r} sent to {hall!r}")
    for name in ("after", "upto", "last_event_id"):
        if not _int(b.get(name)) or b[name] < 0:
            raise ValueError(f"{name} must be a non-negative integer")
    if b["upto"] < b["after"]:
        raise ValueError("upto < after")
    if not isinstance(b.get("batch"), str) or not 0 < len(b["batch"]) <= 64:
        raise ValueError("batch id")
    events = b.get("events")
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        raise ValueError(f"events must be a list of at most {MAX_EVENTS}")
    last = b["after"]
    for ev in events:
        eid = ev.get("id") if isinstance(ev, dict) else None
        if not _int(eid) or eid <= last or eid > b["upto"]:
            raise ValueError("event ids must increase strictly inside (after, upto]")
        last = eid
    head = b.get("audit_head")
    if not isinstance(head, dict) or not _int(head.get("id")) or not isinstance(head.get("hash"), str):
        raise ValueError("audit_head {id, hash} required")
    try:
        ZoneInfo(str(b.get("tz") or "Asia/Shanghai"))
    except Exception as exc:
        raise ValueError("tz") from exc
    if not isinstance(b.get("figures", {}), dict) or not isinstance(b.get("reports", []), list):
        raise ValueError("figures must be an object, reports a list")
    if not isinstance(b.get("sent_at"), int | float):
        raise ValueError("sent_at")
    return b


def ingest(conn: psycopg.Connection, hall: str, body: bytes, signature: str | None, *,
           remote: str = "", now: float | None = None) -> Result:
    """Check and store one batch (see the module doc). Raises :class:`Refused`."""
    row = conn.execute("SELECT public_key FROM halls WHERE code = %s", (hall,)).fetchone()
    conn.commit()
    if row is None:
        raise _refuse(conn, hall, Refused("unknown_hall", "no hall registered with this code"), body, remote)
    if not signature or not citylink.verify(row[0], body, signature):
        raise _refuse(conn, hall, Refused("bad_signature", "signature does not verify with the hall's key"),
                      body, remote)
    try:
        batch = _parse(body, hall)
    except ValueError as exc:
        raise _refuse(conn, hall, Refused("bad_batch", str(exc)), body, remote) from exc
    t = time.time() if now is None else now
    with conn.transaction():
        return _store(conn, hall, batch, t)


def business_day(ts: float, tz: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(ts, tz).date()


_partitions: set[str] = set()


def ensure_partition(conn: psycopg.Connection, day: dt.date) -> None:
    """The month's partition of ``events`` (created once, under an advisory lock)."""
    name = f"events_y{day.year:04d}m{day.month:02d}"
    if name in _partitions:
        return
    start = day.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    conn.execute("SELECT pg_advisory_xact_lock(7170018)")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF events "  # type: ignore[arg-type]
                 f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')")
    _partitions.add(name)


def forget_partitions() -> None:
    """Tests that drop the database call this."""
    _partitions.clear()


def _store(conn: psycopg.Connection, hall: str, b: dict[str, Any], now: float) -> Result:
    h = conn.execute("SELECT acked_to, state FROM halls WHERE code = %s FOR UPDATE", (hall,)).fetchone()
    assert h is not None
    acked_to, state = int(h[0]), h[1] or {}
    tzname = str(b.get("tz") or "Asia/Shanghai")
    tz = ZoneInfo(tzname)
    res = Result(acked=acked_to)
    keep: list[tuple[dict[str, Any], dt.date, bool]] = []
    quarantined: list[tuple[int, str, str]] = []
    for ev in b["events"]:
        if ev["id"] <= acked_to:
            res.duplicates += 1
            continue
        verdict, reason = citylink.check_event(ev)
        raw = json.dumps(ev, ensure_ascii=False)
        if "\\u0000" in raw:  # PostgreSQL's jsonb cannot hold NUL: keep it readable, in quarantine
            verdict, reason, raw = "quarantine", "text contains NUL characters", raw.replace("\\u0000", "\\ufffd")
        if verdict == "quarantine":
            quarantined.append((ev["id"], raw, reason))
            continue
        keep.append((ev, business_day(float(ev["ts"]), tz), verdict == "ok"))
    new_ids: set[int] = set()
    if keep:
        for month in {(d.year, d.month) for _, d, _ in keep}:
            ensure_partition(conn, dt.date(month[0], month[1], 1))
        rows = conn.execute(
            "INSERT INTO events (hall, id, day, ts, type, v, data, known) "
            "SELECT %s, u.id, u.day, u.ts, u.type, u.v, u.data::jsonb, u.known FROM unnest("
            "%s::bigint[], %s::date[], %s::float8[], %s::text[], %s::int[], %s::text[], %s::bool[]) "
            "AS u(id, day, ts, type, v, data, known) ON CONFLICT DO NOTHING RETURNING id",
            (hall, [e["id"] for e, _, _ in keep], [d for _, d, _ in keep], [float(e["ts"]) for e, _, _ in keep],
             [e["type"] for e, _, _ in keep], [int(e.get("v", 1)) for e, _, _ in keep],
             [json.dumps(e["data"], ensure_ascii=False) for e, _, _ in keep], [k for _, _, k in keep]),
        ).fetchall()
        new_ids = {int(r[0]) for r in rows}
    res.duplicates += len(keep) - len(new_ids)
    fresh = [(e, d) for e, d, known in keep if e["id"] in new_ids and known]
    res.unknown_types = sum(1 for e, _, known in keep if e["id"] in new_ids and not known)
    res.stored = len(new_ids)
    if quarantined:
        qrows = conn.execute(
            "INSERT INTO quarantine (hall, id, raw, reason) SELECT %s, q.id, q.raw::jsonb, q.reason FROM unnest("
            "%s::bigint[], %s::text[], %s::text[]) AS q(id, raw, reason) ON CONFLICT DO NOTHING RETURNING id",
            (hall, [q[0] for q in quarantined], [q[1] for q in quarantined], [q[2] for q in quarantined]),
        ).fetchall()
        res.quarantined = len(qrows)
        res.duplicates += len(quarantined) - len(qrows)
    if fresh:
        apply_events(conn, hall, fresh, tz)
    if b["after"] <= acked_to:
        acked_to = max(acked_to, b["upto"])
    res.acked = acked_to
    flag, anchor = audit.check_and_store(conn, hall, b["batch"], b["audit_head"], b.get("audit_check"))
    res.audit_flag, res.audit_anchor = flag, anchor
    figures = b.get("figures") or {}
    sent_at = float(b["sent_at"])
    newer = sent_at >= float(state.get("sent_at") or 0)
    if newer and figures:
        state = {**figures, "sent_at": sent_at}
        _clerk_figures(conn, hall, figures)
    lag = (now - float(b["events"][-1]["ts"])) if b["events"] and fresh else None
    conn.execute(
        "UPDATE halls SET acked_to = %s, last_event_id = GREATEST(last_event_id, %s), last_contact = to_timestamp(%s), "
        "tz = %s, state = %s::jsonb, last_lag_s = COALESCE(%s, last_lag_s) WHERE code = %s",
        (acked_to, b["last_event_id"], now, tzname, json.dumps(state, ensure_ascii=False), lag, hall),
    )
    _reports(conn, hall, b.get("reports") or [])
    if "licence_trust" in b:
        res.licence_trust = trust.store_report(conn, hall, b["licence_trust"], sent_at)
    return res


def _clerk_figures(conn: psycopg.Connection, hall: str, figures: dict[str, Any]) -> None:
    """The clerk dimension comes from the hall's own figures (events carry no clerk)."""
    day = figures.get("day")
    clerks = figures.get("by_clerk")
    if not isinstance(day, str) or not isinstance(clerks, list):
        return
    try:
        d = dt.date.fromisoformat(day)
    except ValueError:
        return
    conn.execute("DELETE FROM daily_aggregates WHERE hall = %s AND day = %s AND dim = 'clerk'", (hall, d))
    rows = []
    for c in clerks:
        if not isinstance(c, dict) or not isinstance(c.get("clerk"), str):
            continue
        nums = [c.get(k) or 0 for k in ("called", "served", "no_show", "service_s_sum", "service_n")]
        if not all(isinstance(n, int | float) for n in nums):
            continue
        rows.append((hall, d, c["clerk"][:64], int(nums[0]), int(nums[1]), int(nums[2]), float(nums[3]), int(nums[4])))
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO daily_aggregates (hall, day, dim, key, called, served, no_show, service_s_sum, service_n) "
                "VALUES (%s, %s, 'clerk', %s, %s, %s, %s, %s, %s)", rows)


def _reports(conn: psycopg.Connection, hall: str, reports: list[Any]) -> None:
    rows = []
    for r in reports[:100]:
        if not isinstance(r, dict):
            continue
        kind, version, h, result = r.get("kind"), r.get("version"), r.get("content_hash"), r.get("result")
        if not (isinstance(kind, str) and _int(version) and isinstance(h, str) and isinstance(result, str)):
            continue
        at = r.get("at") if isinstance(r.get("at"), int | float) else time.time()
        rows.append((hall, kind[:64], version, h[:80], result[:16], str(r.get("reason") or "")[:300], at))
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO manifest_reports (hall, kind, version, content_hash, result, reason, at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)


#: Statuses of a hall's rectification case that end it (queue_server/evaluations/loop.py).
RECTIFICATION_DONE = ("closed", "invalid")


def _date_or_none(text: str) -> str | None:
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return None


_COUNTERS = ("issued", "called", "served", "no_show", "cancelled", "transferred", "wait_s_sum", "wait_n",
             "service_s_sum", "service_n", "evaluations", "good", "bad")


def apply_events(conn: psycopg.Connection, hall: str, events: list[tuple[dict[str, Any], dt.date]],
                 tz: ZoneInfo) -> None:
    """Fold newly stored events (in id order) into aggregates, tickets, windows, devices,
    rectifications and the province outbox."""
    tids = {e["data"]["ticket_id"] for e, _ in events
            if e["type"].startswith("ticket.") and e["type"] != "ticket.issued"}
    tickets: dict[int, dict[str, Any]] = {}
    if tids:
        for r in conn.execute("SELECT ticket_id, day, service, issued_ts, called_ts, started_ts, window_no "
                              "FROM hub_tickets WHERE hall = %s AND ticket_id = ANY(%s)", (hall, list(tids))):
            tickets[int(r[0])] = {"day": r[1], "service": r[2], "issued_ts": r[3], "called_ts": r[4],
                                  "started_ts": r[5], "window": r[6]}
    touched: set[int] = set()
    agg: dict[tuple[dt.date, str, str], dict[str, float]] = defaultdict(lambda: dict.fromkeys(_COUNTERS, 0))
    windows: dict[int, tuple[str, float]] = {}
    devices: dict[tuple[str, str], tuple[str, str, float]] = {}
    rect_open: list[tuple[str, str | None, float, str]] = []
    rect_closed: list[tuple[float, str]] = []
    evaluations: list[dict[str, Any]] = []

    def bump(day: dt.date, dims: list[tuple[str, Any]], **inc: float) -> None:
        for dim, key in dims:
            if key is None or key == "":
                continue
            row = agg[(day, dim, str(key))]
            for k, v in inc.items():
                row[k] += v

    for ev, day in events:
        typ, d, ts = ev["type"], ev["data"], float(ev["ts"])
        if typ.startswith("ticket."):
            tid = d["ticket_id"]
            if typ == "ticket.issued":
                tickets[tid] = {"day": day, "service": d["service"], "issued_ts": ts, "called_ts": None,
                                "started_ts": None, "window": None}
                touched.add(tid)
                bump(day, [("hall", "*"), ("service", d["service"])], issued=1)
                continue
            t = tickets.get(tid)
            if t is None:  # issued before the hub knew the hall: count what can be counted
                t = tickets[tid] = {"day": day, "service": d.get("service") or "", "issued_ts": None,
                                    "called_ts": None, "started_ts": None, "window": d.get("window")}
            touched.add(tid)
            tday = t["day"]
            if typ == "ticket.called":
                t["window"] = d["window"]
                dims = [("hall", "*"), ("service", t["service"]), ("window", d["window"])]
                if t["called_ts"] is None and t["issued_ts"] is not None:
                    bump(tday, dims, called=1, wait_s_sum=max(0.0, ts - t["issued_ts"]), wait_n=1)
                else:
                    bump(tday, dims, called=1)
                t["called_ts"] = t["called_ts"] or ts
            elif typ == "ticket.started":
                t["started_ts"] = ts
            elif typ in ("ticket.finished", "ticket.no_show", "ticket.cancelled", "ticket.transferred"):
                win = d.get("window") if d.get("window") is not None else t["window"]
                if typ == "ticket.transferred":
                    win = d.get("from_window", win)
                dims = [("hall", "*"), ("service", t["service"]), ("window", win)]
                if typ == "ticket.finished":
                    if t["started_ts"] is not None:
                        bump(tday, dims, served=1, service_s_sum=max(0.0, ts - t["started_ts"]), service_n=1)
                    else:
                        bump(tday, dims, served=1)
                elif typ == "ticket.no_show":
                    bump(tday, dims, no_show=1)
                elif typ == "ticket.cancelled":
                    bump(tday, dims, cancelled=1)
                else:
                    bump(tday, dims, transferred=1)
                    if isinstance(d.get("to_service"), str) and d["to_service"]:
                        t["service"] = d["to_service"]
                    t["started_ts"] = None
        elif typ.startswith("window."):
            windows[d["window"]] = (d["status"], ts)
        elif typ == "printer.status":
            devices[("printer", d["printer"])] = (d["status"], str(d.get("reason") or ""), ts)
        elif typ == "device.state_changed":
            devices[(str(d.get("kind") or "device"), d["name"])] = (d["state"], str(d.get("detail") or ""), ts)
        elif typ == "evaluation.created":
            good = 1 if d["level"] >= 3 else 0
            bump(day, [("hall", "*"), ("service", d["service"]), ("window", d.get("window"))],
                 evaluations=1, good=good, bad=1 - good)
            evaluations.append(ev)
        elif typ == "rectification.changed":  # a 差评 case opened or took a step of the loop
            if d["status"] in RECTIFICATION_DONE:
                rect_closed.append((ts, str(d["id"])))
            else:
                rect_open.append((str(d["id"]), _date_or_none(d["deadline"]), ts, json.dumps(d, ensure_ascii=False)))

    with conn.cursor() as cur:
        if touched:
            cur.executemany(
                "INSERT INTO hub_tickets (hall, ticket_id, day, service, issued_ts, called_ts, started_ts, window_no) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (hall, ticket_id, day) DO UPDATE SET "
                "service = excluded.service, issued_ts = excluded.issued_ts, called_ts = excluded.called_ts, "
                "started_ts = excluded.started_ts, window_no = excluded.window_no",
                [(hall, tid, tickets[tid]["day"], tickets[tid]["service"], tickets[tid]["issued_ts"],
                  tickets[tid]["called_ts"], tickets[tid]["started_ts"], tickets[tid]["window"]) for tid in touched])
        if agg:
            cols = ", ".join(_COUNTERS)
            sets = ", ".join(f"{c} = daily_aggregates.{c} + excluded.{c}" for c in _COUNTERS)
            cur.executemany(
                f"INSERT INTO daily_aggregates (hall, day, dim, key, {cols}) VALUES (%s, %s, %s, %s, "  # type: ignore[arg-type]
                f"{', '.join(['%s'] * len(_COUNTERS))}) ON CONFLICT (hall, day, dim, key) DO UPDATE SET {sets}",
                [(hall, day, dim, key, *[row[c] for c in _COUNTERS]) for (day, dim, key), row in agg.items()])
        if windows:
            cur.executemany(
                "INSERT INTO windows (hall, number, status, since) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (hall, number) DO UPDATE SET status = excluded.status, since = excluded.since",
                [(hall, n, s, ts) for n, (s, ts) in windows.items()])
        if devices:
            cur.executemany(
                "INSERT INTO devices (hall, kind, name, state, detail, since) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (hall, kind, name) DO UPDATE SET state = excluded.state, detail = excluded.detail, "
                "since = excluded.since",
                [(hall, k, n, s, det, ts) for (k, n), (s, det, ts) in devices.items()])
        if rect_open:
            cur.executemany(
                "INSERT INTO rectifications (hall, id, deadline, opened_ts, data) VALUES (%s, %s, %s::date, %s, "
                "%s::jsonb) ON CONFLICT (hall, id) DO UPDATE SET deadline = excluded.deadline",
                [(hall, i, dl, ts, data) for i, dl, ts, data in rect_open])
        if rect_closed:
            cur.executemany("UPDATE rectifications SET closed_ts = %s WHERE hall = %s AND id = %s",
                            [(ts, hall, i) for ts, i in rect_closed])
    if evaluations:
        province.enqueue(conn, hall, evaluations)
