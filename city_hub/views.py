"""What the city page and its JSON show, read from the hub's tables (no Flask here).

* :func:`halls` — every hall's live state: waiting and open windows (the hall's figures of
  its last batch), last contact, lag (hub time − time of the newest event of the last
  batch), backlog (events the hall has that the hub has not acknowledged), audit flag;
* :func:`stats` — the queue figures across halls for a day range, for all halls or one
  (``hall``), grouped by hall, service, window or clerk;
* :func:`evaluations` — 好差评 per hall: rated, good (3–5), bad (1–2), 好评率, 主动评价率;
* :func:`overdue_rectifications` — open rectifications past their deadline, city-wide;
* :func:`device_alerts` — devices whose last state is not ``ok``/``unknown``;
* :func:`problems` — quarantined events, refused batches, refused manifests.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

CITY_TZ = ZoneInfo("Asia/Shanghai")
#: A hall silent for longer than this is shown offline.
OFFLINE_AFTER_S = 60.0


def today(now: float | None = None) -> dt.date:
    return dt.datetime.fromtimestamp(time.time() if now is None else now, CITY_TZ).date()


#: Why a hall's audit was flagged, in Chinese (city_hub.audit names the reasons).
FLAG_ZH = {"head_rewritten": "审计链被改写", "anchor_mismatch": "与已锚定的链头不符", "anchor_missing": "已锚定的记录缺失",
           "chain_shorter": "审计链变短"}
#: Device states in Chinese (printer statuses and the devices capability's states).
STATE_ZH = {"paper_out": "缺纸", "near_end": "纸将用尽", "cover_open": "纸仓盖未关", "offline": "离线", "error": "故障",
            "warning": "警告", "stale": "失联", "ok": "正常", "unknown": "未知"}


def flag_parts(flag: str | None) -> tuple[str, str]:
    """``("head_rewritten", "23")`` of a stored flag ``"head_rewritten at record 23"``."""
    if not flag:
        return "", ""
    reason, _, record = flag.partition(" at record ")
    return reason, record


def halls(conn: psycopg.Connection, now: float | None = None) -> list[dict[str, Any]]:
    t = time.time() if now is None else now
    rows = conn.execute(
        "SELECT h.code, h.name, h.acked_to, h.last_event_id, extract(epoch FROM h.last_contact), h.last_lag_s, "
        "h.state, h.audit_flag, (SELECT count(*) FROM windows w WHERE w.hall = h.code AND w.status = 'open') "
        "FROM halls h ORDER BY h.code").fetchall()
    out = []
    for code, name, acked, last_id, contact, lag, state, flag, open_windows in rows:
        state = state or {}
        contact_age = None if contact is None else max(0.0, t - float(contact))
        out.append({
            "hall": code, "name": name or state.get("hall_name") or code,
            "waiting": state.get("waiting"),
            "windows_open": state.get("windows_open", open_windows),
            "last_contact": None if contact is None else float(contact),
            "contact_age_s": contact_age,
            "online": contact_age is not None and contact_age <= OFFLINE_AFTER_S,
            "lag_s": lag, "acked_to": int(acked), "backlog": max(0, int(last_id) - int(acked)),
            "audit_flag": flag, "audit_reason": flag_parts(flag)[0], "audit_record": flag_parts(flag)[1],
            "day": state.get("day"),
        })
    return out


_SUMS = ("issued", "called", "served", "no_show", "cancelled", "transferred", "wait_s_sum", "wait_n",
         "service_s_sum", "service_n", "evaluations", "good", "bad")


def stats(conn: psycopg.Connection, day_from: dt.date, day_to: dt.date, *, hall: str | None = None,
          group: str = "hall") -> list[dict[str, Any]]:
    """Rows of sums for the range, by ``group`` (hall | service | window | clerk)."""
    if group not in ("hall", "service", "window", "clerk"):
        raise ValueError("group")
    dim = "hall" if group == "hall" else group
    key = "hall" if group == "hall" else "key"
    sums = ", ".join(f"SUM({c})" for c in _SUMS)
    sql = (f"SELECT {key}, {sums} FROM daily_aggregates WHERE dim = %s AND day BETWEEN %s AND %s"
           + (" AND hall = %s" if hall else "") + f" GROUP BY {key} ORDER BY {key}")
    args: list[Any] = [dim, day_from, day_to] + ([hall] if hall else [])
    out = []
    for r in conn.execute(sql, args):  # type: ignore[arg-type]
        row = {"key": r[0], **{c: (float(v or 0) if c.endswith("_sum") else int(v or 0)) for c, v in zip(_SUMS, r[1:], strict=True)}}
        row["avg_wait_min"] = round(row["wait_s_sum"] / row["wait_n"] / 60, 1) if row["wait_n"] else None
        row["avg_service_min"] = round(row["service_s_sum"] / row["service_n"] / 60, 1) if row["service_n"] else None
        out.append(row)
    return out


def evaluations(conn: psycopg.Connection, day_from: dt.date, day_to: dt.date,
                hall: str | None = None) -> list[dict[str, Any]]:
    rows = stats(conn, day_from, day_to, hall=hall, group="hall")
    out = []
    for r in rows:
        rated = r["evaluations"]
        out.append({"hall": r["key"], "served": r["served"], "rated": rated, "good": r["good"], "bad": r["bad"],
                    "good_rate": (r["good"] / rated) if rated else None,
                    "active_rate": (rated / r["served"]) if r["served"] else None})
    return out


def overdue_rectifications(conn: psycopg.Connection, now: float | None = None) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT hall, id, deadline, data FROM rectifications WHERE closed_ts IS NULL AND deadline < %s "
        "ORDER BY deadline, hall, id", (today(now),)).fetchall()
    return [{"hall": r[0], "id": r[1], "deadline": r[2].isoformat(), "service": (r[3] or {}).get("service"),
             "window": (r[3] or {}).get("window")} for r in rows]


def device_alerts(conn: psycopg.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT hall, kind, name, state, detail, since FROM devices WHERE state NOT IN ('ok', 'unknown') "
        "ORDER BY since DESC").fetchall()
    return [{"hall": r[0], "kind": r[1], "name": r[2], "state": r[3], "detail": r[4], "since": r[5]} for r in rows]


def problems(conn: psycopg.Connection) -> dict[str, Any]:
    q = conn.execute("SELECT hall, count(*) FROM quarantine WHERE released_at IS NULL GROUP BY hall").fetchall()
    refused = conn.execute(
        "SELECT hall, outcome, count(*), max(at) FROM ingest_log WHERE at > now() - interval '1 day' "
        "GROUP BY hall, outcome ORDER BY max(at) DESC").fetchall()
    mrefused = conn.execute(
        "SELECT hall, kind, version, reason, at FROM manifest_reports WHERE result = 'refused' "
        "ORDER BY at DESC LIMIT 20").fetchall()
    outbox = conn.execute("SELECT state, count(*) FROM province_outbox GROUP BY state").fetchall()
    return {
        "quarantine": {r[0]: int(r[1]) for r in q},
        "refused_batches": [{"hall": r[0], "outcome": r[1], "count": int(r[2]), "last": r[3].timestamp()}
                            for r in refused],
        "refused_manifests": [{"hall": r[0], "kind": r[1], "version": r[2], "reason": r[3], "at": r[4]}
                              for r in mrefused],
        "province": {r[0]: int(r[1]) for r in outbox},
    }
