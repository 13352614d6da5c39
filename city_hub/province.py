"""好差评 up to the provincial platform: the outbox, the field mapping, the adapters.

Every ``evaluation.created`` event the hub stores for the first time becomes one row of
``province_outbox``, keyed by **case number and evaluation count** (办件编号 + 评价次数), so a
resent batch or a second hub process never queues it twice. By default every evaluation is
pushed (``PUSH_LEVELS``); the rules require at least every 差评 (levels 1–2).

:func:`push_due` takes due rows, hands each payload to an adapter and records the answer:
``acked`` with the adapter's acknowledgement, or back to ``pending`` with ``attempts + 1``
and a later ``next_attempt_at`` (1 min, 2, 4 … capped at 6 h), ``failed`` after
``MAX_ATTEMPTS``. :class:`FolderAdapter` (the default) writes each payload as
``<case>-<count>.json`` into a folder, so the whole path runs without a province;
:class:`HttpAdapter` posts to a URL. The mapping of fields is :data:`FIELD_MAP` (documented
in ``docs/city-hub.md``); channel codes go through a configurable map.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any, Protocol

import psycopg

#: Levels pushed (all five by default; ``(1, 2)`` pushes only 差评).
PUSH_LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
MAX_ATTEMPTS = 12

#: Province field ← how it is made from the hall's evaluation event. Changed per province.
FIELD_MAP: dict[str, str] = {
    "projectNo": "case number (办件编号): data.case, else '<hall>-T<ticket>'",
    "evaluateNum": "evaluation count (评价次数): data.count (1 first, 2 after a rectification)",
    "evaluateLevel": "level 1-5 (5 非常满意 … 1 非常不满意): data.level",
    "isBad": "1 when level <= 2 (差评), else 0",
    "reasonCodes": "差评 reason codes of the fixed list: data.reasons",
    "channel": "channel code: CHANNEL_MAP[data.channel] (province codes are configuration)",
    "taskCode": "事项编码: data.service",
    "windowNo": "窗口号: data.window",
    "orgCode": "handling hall (办理机构): the hall's code at the hub",
    "evaluateTime": "time of the evaluation: event ts as 'YYYY-MM-DD HH:MM:SS' in the hall's time zone",
    "hubEventId": "'<hall>:<event id>' for tracing",
}

#: Internal channel → province channel code (GB/T 39046 names; numbers differ by province).
CHANNEL_MAP: dict[str, str] = {"window": "政务大厅其他终端", "kiosk": "政务大厅其他终端", "pad": "政务大厅平板电脑",
                               "phone": "二维码", "web": "PC端", "app": "移动服务端", "sms": "短信", "call": "电话"}


def case_number(hall: str, data: dict[str, Any]) -> str:
    if data.get("case"):
        return str(data["case"])[:64]
    return f"{hall}-T{data.get('ticket')}"


def payload_for(hall: str, ev: dict[str, Any], tz: str = "Asia/Shanghai") -> dict[str, Any]:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    d = ev["data"]
    return {
        "projectNo": case_number(hall, d), "evaluateNum": int(d["count"]), "evaluateLevel": int(d["level"]),
        "isBad": 1 if int(d["level"]) <= 2 else 0, "reasonCodes": list(d.get("reasons") or []),
        "channel": CHANNEL_MAP.get(str(d["channel"]), str(d["channel"])), "taskCode": d["service"],
        "windowNo": d.get("window"), "orgCode": hall,
        "evaluateTime": datetime.fromtimestamp(float(ev["ts"]), ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S"),
        "hubEventId": f"{hall}:{ev['id']}",
    }


def enqueue(conn: psycopg.Connection, hall: str, events: list[dict[str, Any]]) -> int:
    """Queue newly stored evaluations (inside the ingest transaction); returns how many."""
    tzrow = conn.execute("SELECT tz FROM halls WHERE code = %s", (hall,)).fetchone()
    tz = tzrow[0] if tzrow else "Asia/Shanghai"
    rows = [(case_number(hall, e["data"]), int(e["data"]["count"]), hall, e["id"], int(e["data"]["level"]),
             json.dumps(payload_for(hall, e, tz), ensure_ascii=False))
            for e in events if int(e["data"]["level"]) in PUSH_LEVELS]
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO province_outbox (case_no, count, hall, event_id, level, payload) "
                "VALUES (%s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT DO NOTHING", rows)
    return len(rows)


class Adapter(Protocol):
    def send(self, case_no: str, count: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Deliver one payload; return the province's acknowledgement or raise."""


class FolderAdapter:
    """Writes ``<case>-<count>.json`` into ``folder`` (atomically); the ack names the file."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def send(self, case_no: str, count: int, payload: dict[str, Any]) -> dict[str, Any]:
        self.folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", case_no)
        path = self.folder / f"{safe}-{count}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)
        return {"file": path.name}


class HttpAdapter:
    """POSTs the payload as JSON; a 2xx answer's JSON body is the acknowledgement."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, case_no: str, count: int, payload: dict[str, Any]) -> dict[str, Any]:
        import requests

        r = requests.post(self.url, json=payload, timeout=self.timeout)
        r.raise_for_status()
        try:
            body = r.json()
        except ValueError:
            body = {"text": r.text[:200]}
        return {"status": r.status_code, "body": body}


def adapter_from(spec: str) -> Adapter:
    """``folder:PATH`` (default form: a bare path) or ``http(s)://…``."""
    if spec.startswith(("http://", "https://")):
        return HttpAdapter(spec)
    return FolderAdapter(spec.removeprefix("folder:"))


def backoff(attempts: int) -> float:
    return float(min(60 * 2 ** max(attempts - 1, 0), 6 * 3600))


def push_due(conn: psycopg.Connection, adapter: Adapter, *, limit: int = 100, now: float | None = None) -> dict[str, int]:
    """Push due outbox rows once; returns counts of ``acked`` and ``retry``/``failed``."""
    out = {"acked": 0, "retry": 0, "failed": 0}
    t = time.time() if now is None else now
    with conn.transaction():
        rows = conn.execute(
            "SELECT case_no, count, payload, attempts FROM province_outbox WHERE state = 'pending' "
            "AND next_attempt_at <= to_timestamp(%s) ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED",
            (t, limit)).fetchall()
        for case_no, count, payload, attempts in rows:
            try:
                ack = adapter.send(case_no, count, payload)
            except Exception as exc:  # the province is down or answered badly: retry later
                n = attempts + 1
                state = "failed" if n >= MAX_ATTEMPTS else "pending"
                conn.execute(
                    "UPDATE province_outbox SET attempts = %s, state = %s, last_error = %s, "
                    "next_attempt_at = to_timestamp(%s) WHERE case_no = %s AND count = %s",
                    (n, state, str(exc)[:300], t + backoff(n), case_no, count))
                out["failed" if state == "failed" else "retry"] += 1
                continue
            conn.execute(
                "UPDATE province_outbox SET attempts = attempts + 1, state = 'acked', ack = %s::jsonb, "
                "acked_at = to_timestamp(%s), last_error = NULL WHERE case_no = %s AND count = %s",
                (json.dumps(ack, ensure_ascii=False), t, case_no, count))
            out["acked"] += 1
    return out


class Pusher:
    """A thread that pushes due rows every ``interval`` seconds (``city-hub serve`` runs one)."""

    def __init__(self, dsn: str, adapter: Adapter, interval: float = 30.0) -> None:
        import threading

        self.dsn = dsn
        self.adapter = adapter
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="province-push", daemon=True)

    def start(self) -> Pusher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import logging

        log = logging.getLogger("city_hub.province")
        conn: psycopg.Connection | None = None
        while not self._stop.wait(self.interval):
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = psycopg.connect(self.dsn)
                push_due(conn, self.adapter)
            except Exception as exc:  # the database is away: next round
                log.warning("province push: %s", exc)
                conn = None
