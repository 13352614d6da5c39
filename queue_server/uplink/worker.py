"""The uplink worker: one thread in the hall server that pushes events to the city hub.

Loop: read the config; if events wait after the cursor (or ``uplink.interval_s`` passed),
send one batch (:func:`push_once`): the events in ``(cursor, upto]`` (at most
``uplink.batch_size``), the audit head, the hash of the row the hub asked about, the day's
figures, unreported manifest results and the capabilities' optional parts
(:mod:`~queue_server.uplink.parts`: the licences' keys and revocations), signed with the
hall's key. The hub answers the
highest id it holds without a gap; that becomes the cursor (it only moves back if the hub
says it holds less — a restored hub — and then the events are sent again, harmlessly).
Every ``uplink.manifest_interval_s`` it pulls manifests.

When the hub cannot be reached the worker waits 1, 2, 4 … s up to ``uplink.backoff_max_s``
and tries again; events simply stay in the ``events`` table (archiving holds them), so a
hall offline for days catches up by itself, a batch at a time. Nothing here runs inside a
request, and the worker's writes are a few small transactions per batch.

Several server processes on one database (``serve --workers N``): only the process holding
``<db>.uplink.lock`` pushes; the others stand by.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import requests
from sqlite_utils import Database

from queue_server.audit.chain import head
from queue_server.background import BackgroundThread
from queue_server.db import connect, write_tx
from queue_server.errors import Conflict
from queue_server.settings import get_setting
from queue_server.uplink import figures, manifests, parts
from yichuang import citylink

log = logging.getLogger("queue_server.uplink")

POLL = 0.1  # seconds between looks for new events


def config(db: Database) -> dict[str, Any] | None:
    row = db.conn.execute("SELECT hub_url, hall, hall_key, hub_key, enabled FROM uplink_config WHERE id = 1").fetchone()
    if row is None:
        return None
    return {"hub_url": row[0].rstrip("/"), "hall": row[1], "hall_key": row[2], "hub_key": row[3],
            "enabled": bool(row[4])}


def state(db: Database) -> dict[str, Any]:
    row = db.conn.execute("SELECT cursor, anchor_id, last_ok_at, last_try_at, last_error, failures, "
                          "last_manifest_check FROM uplink_state WHERE id = 1").fetchone()
    if row is None:
        return {"cursor": 0, "anchor_id": None, "last_ok_at": None, "last_try_at": None, "last_error": None,
                "failures": 0, "last_manifest_check": None}
    return dict(zip(("cursor", "anchor_id", "last_ok_at", "last_try_at", "last_error", "failures",
                     "last_manifest_check"), tuple(row), strict=True))


def _set_state(db: Database, **values: Any) -> None:
    cols = ", ".join(f"{k} = ?" for k in values)
    with write_tx(db) as c:
        c.execute("INSERT OR IGNORE INTO uplink_state (id) VALUES (1)")
        c.execute(f"UPDATE uplink_state SET {cols} WHERE id = 1", tuple(values.values()))


def _setting_int(db: Database, name: str, floor: int = 1) -> int:
    return max(floor, int(get_setting(db, name)))


class HubError(Exception):
    """The hub could not be reached or refused the batch."""


def build_batch(db: Database, cfg: dict[str, Any], now: float) -> tuple[bytes, dict[str, Any]]:
    """The signed body of the next batch, and what it covers."""
    st = state(db)
    cursor = int(st["cursor"])
    limit = _setting_int(db, "uplink.batch_size")
    # The newest id first, then the events up to it: read the other way round, an event
    # committed between the two reads was claimed as covered without being in the batch (the
    # hub acknowledged it and it never left the hall).
    last_id = int(db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])
    rows = db.conn.execute("SELECT id, ts, type, v, data FROM events WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
                           (cursor, last_id, limit)).fetchall()
    # v: the version the row was written in; rows from before the column: the type's current one.
    events = [{"id": r[0], "ts": r[1], "type": r[2], "v": r[3] if r[3] is not None else citylink.event_version(r[2]),
               "data": json.loads(r[4])} for r in rows]
    # Full batch: it covers up to its last event. Otherwise it covers everything seen.
    upto = events[-1]["id"] if len(events) == limit else max(last_id, cursor)
    h = head(db)
    check = None
    if st["anchor_id"]:
        r = db.conn.execute("SELECT hash FROM audit WHERE id = ?", (st["anchor_id"],)).fetchone()
        check = {"id": int(st["anchor_id"]), "hash": r[0] if r else None}
    reports = manifests.unreported(db)
    body = citylink.make_batch(
        hall=cfg["hall"], after=cursor, upto=upto, events=events, audit_head=h.as_dict(), audit_check=check,
        figures=figures.day_figures(db, now), last_event_id=last_id, tz=str(get_setting(db, "timezone")),
        reports=[{k: v for k, v in r.items() if k != "id"} for r in reports], sent_at=now,
        parts=parts.collect(db, now))
    return body, {"events": len(events), "upto": upto, "last_id": last_id, "report_ids": [r["id"] for r in reports]}


def push_once(db: Database, session: requests.Session | None = None, now: float | None = None) -> dict[str, Any]:
    """Send one batch and store the hub's answer; returns what happened. Raises
    :class:`HubError` when the hub cannot be reached or refuses."""
    cfg = config(db)
    if cfg is None or not cfg["enabled"]:
        raise Conflict("uplink_not_configured")
    t = time.time() if now is None else now
    body, info = build_batch(db, cfg, t)
    sig = citylink.sign(cfg["hall_key"], body)
    s = session or requests.Session()
    try:
        r = s.post(f"{cfg['hub_url']}/ingest/{cfg['hall']}", data=body, timeout=_setting_int(db, "uplink.timeout_s"),
                   headers={"Content-Type": "application/json", citylink.SIGNATURE_HEADER: sig})
    except requests.RequestException as exc:
        raise HubError(f"hub unreachable: {type(exc).__name__}") from exc
    if r.status_code != 200:
        try:
            code = r.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = f"http_{r.status_code}"
        raise HubError(f"hub refused the batch: {code}")
    answer = r.json()
    acked = int(answer["acked"])
    anchor = (answer.get("audit_anchor") or {}).get("id")
    _set_state(db, cursor=acked, anchor_id=anchor, last_ok_at=time.time(), last_error=None, failures=0)
    manifests.mark_reported(db, info["report_ids"])
    return {"sent": info["events"], "acked": acked, "last_event_id": info["last_id"],
            "audit_flag": answer.get("audit_flag")}


def pull_manifests(db: Database, session: requests.Session | None = None) -> dict[str, str]:
    cfg = config(db)
    if cfg is None or not cfg["enabled"]:
        raise Conflict("uplink_not_configured")
    s = session or requests.Session()
    timeout = _setting_int(db, "uplink.timeout_s")

    def get(path: str) -> Any:
        try:
            r = s.get(cfg["hub_url"] + path, timeout=timeout)
            r.raise_for_status()
            return r.json()
        except (requests.RequestException, ValueError) as exc:
            raise HubError(f"manifests: {type(exc).__name__}") from exc

    out = manifests.pull(db, get, cfg["hub_key"])
    _set_state(db, last_manifest_check=time.time())
    return out


class Uplink(BackgroundThread):
    """The thread (see the module doc)."""

    name = "uplink"

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.db_path = str(db_path)
        self._lock_fd: int | None = None

    def _leader(self) -> bool:
        if self._lock_fd is not None:
            return True
        fd = os.open(self.db_path + ".uplink.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def run(self) -> None:
        db = connect(self.db_path)
        session = requests.Session()
        next_push = 0.0
        next_manifests = 0.0
        failures = 0
        after_push: tuple[int, int] = (-1, -1)
        while not self.stopping.is_set():
            try:
                cfg = config(db)
                if cfg is None or not cfg["enabled"] or not self._leader():
                    self.stopping.wait(2.0)
                    continue
                now = time.monotonic()
                st = state(db)
                last_id = int(db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])
                # New events since the last answer go at once (unless backing off).
                pending = last_id > int(st["cursor"]) and (int(st["cursor"]), last_id) != after_push
                if now >= next_push or (pending and failures == 0):
                    result = push_once(db, session)
                    failures = 0
                    after_push = (result["acked"], result["last_event_id"])
                    full = result["sent"] >= _setting_int(db, "uplink.batch_size")
                    next_push = now if full else now + _setting_int(db, "uplink.interval_s")
                if now >= next_manifests:
                    pull_manifests(db, session)
                    next_manifests = now + _setting_int(db, "uplink.manifest_interval_s")
            except HubError as exc:
                failures += 1
                wait = min(float(_setting_int(db, "uplink.backoff_max_s")), 2.0 ** (failures - 1))
                wait *= random.uniform(0.8, 1.0)
                next_push = next_manifests = time.monotonic() + wait
                try:
                    _set_state(db, last_error=str(exc)[:300], last_try_at=time.time(), failures=failures)
                except Exception:  # the database is busy: the state is only informative
                    pass
                log.warning("uplink: %s (try %d, next in %.0f s)", exc, failures, wait)
            except Exception:  # never let the thread die: log and go on
                log.exception("uplink: unexpected error")
                self.stopping.wait(5.0)
            self.stopping.wait(POLL)
        db.conn.close()


_workers: dict[str, Uplink] = {}
_workers_lock = threading.Lock()


def start_uplink(db_path: str | os.PathLike[str]) -> Uplink:
    """Start the uplink thread of this process for ``db_path`` (once; it idles until an
    uplink is configured)."""
    key = str(Path(db_path).resolve())
    with _workers_lock:
        w = _workers.get(key)
        if w is None:
            w = _workers[key] = Uplink(key).start()
        return w


def stop_uplink(db_path: str | os.PathLike[str] | None = None) -> None:
    with _workers_lock:
        keys = [str(Path(db_path).resolve())] if db_path is not None else list(_workers)
        workers = [_workers.pop(k) for k in keys if k in _workers]
    for w in workers:
        w.stop()
