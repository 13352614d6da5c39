"""Hall events: written to the ``events`` table, fanned out by an in-process bus.

Every state change calls :func:`record_event` inside the transaction that makes the
change, so an event exists exactly when its change was committed. :class:`EventBus`
tails the table and hands new rows to subscribers (the SSE streams). Because it reads
the table, events committed by *other* server processes on the same file arrive too;
:meth:`EventBus.poke` wakes the tailer at once after a local commit, and it also polls
every ``poll_interval`` seconds for the other processes' commits.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database


@dataclass(frozen=True)
class EventType:
    """A declared event type: its name, the fields of its data and what it means.

    Capabilities declare their types with :func:`declare` next to the code that records
    them; :func:`record_event` refuses a type nobody declared, and ``tests/test_docs.py``
    checks that every declared type is documented in ``docs/architecture.md``.
    """

    name: str
    fields: tuple[str, ...]
    doc: str
    #: Bumped when the data's shape changes incompatibly (the city hub validates by it).
    version: int = 1


EVENT_TYPES: dict[str, EventType] = {}


def declare(name: str, fields: tuple[str, ...] | list[str], doc: str, *, version: int = 1) -> EventType:
    """Declare an event type (idempotent for an identical declaration)."""
    et = EventType(name, tuple(fields), doc, version)
    old = EVENT_TYPES.get(name)
    if old is not None and old != et:
        raise ValueError(f"event type {name} declared twice with different shapes")
    EVENT_TYPES[name] = et
    return et


def record_event(conn: Any, type_: str, data: dict[str, Any], ts: float | None = None) -> int:
    """Insert an event row in the caller's open transaction; returns its id. The type must
    be declared (:func:`declare`); the row keeps the version of the type's data shape (``v``)."""
    et = EVENT_TYPES.get(type_)
    if et is None:
        raise ValueError(f"event type {type_!r} is not declared (queue_server.events.declare)")
    cur = conn.execute(
        "INSERT INTO events (ts, type, v, data) VALUES (?, ?, ?, ?)",
        (ts if ts is not None else time.time(), type_, et.version, json.dumps(data, ensure_ascii=False)),
    )
    return int(cur.lastrowid)


@dataclass(frozen=True)
class Event:
    id: int
    ts: float
    type: str
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "ts": self.ts, "type": self.type, "data": self.data}


def events_after(db: Database, after_id: int, limit: int = 1000) -> list[Event]:
    rows = db.conn.execute(
        "SELECT id, ts, type, data FROM events WHERE id > ? ORDER BY id LIMIT ?",
        (after_id, limit),
    ).fetchall()
    return [Event(r[0], r[1], r[2], json.loads(r[3])) for r in rows]


def last_event_id(db: Database) -> int:
    row = db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
    return int(row[0])


class EventBus:
    """Fan-out of committed events to in-process subscribers.

    ``connect`` is a callable returning a fresh :class:`Database` (the tailer owns its
    own connection). Subscribers get a :class:`queue.Queue` of :class:`Event`; a listener
    (:meth:`listen`, the stream hub's selector loop) is called with each batch instead.
    """

    def __init__(self, connect: Callable[[], Database], poll_interval: float = 0.05):
        self._connect = connect
        self.poll_interval = poll_interval
        self._subs: set[queue.Queue[Event]] = set()
        self._listeners: list[Callable[[list[Event]], None]] = []
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_id = 0

    def start(self) -> None:
        """Start the tailer thread (idempotent; :meth:`subscribe` calls it)."""
        with self._start_lock:
            if self._thread is not None:
                return
            db = self._connect()
            self.last_id = last_event_id(db)
            self._thread = threading.Thread(target=self._run, args=(db,), name="event-bus", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def poke(self) -> None:
        """Wake the tailer now (call after a local commit that recorded events)."""
        self._wake.set()

    def subscribe(self, maxsize: int = 10000) -> queue.Queue[Event]:
        """A queue that receives every event committed from now on (starts the tailer)."""
        q: queue.Queue[Event] = queue.Queue(maxsize=maxsize)
        with self._lock:
            self._subs.add(q)
            started = self._thread is not None
        if not started:
            self.start()
        return q

    def listen(self, fn: Callable[[list[Event]], None]) -> int:
        """Call ``fn(batch)`` from the tailer thread with every batch of events committed
        after the returned id (starts the tailer). ``fn`` must be quick and never raise."""
        self.start()
        with self._lock:
            self._listeners.append(fn)
            return self.last_id

    def unlisten(self, fn: Callable[[list[Event]], None]) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def unsubscribe(self, q: queue.Queue[Event]) -> None:
        with self._lock:
            self._subs.discard(q)

    def is_subscribed(self, q: queue.Queue[Event]) -> bool:
        """False once the bus dropped ``q`` (it overflowed) or it was unsubscribed."""
        with self._lock:
            return q in self._subs

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subs)

    def _run(self, db: Database) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_interval)
            self._wake.clear()
            try:
                batch = events_after(db, self.last_id)
            except Exception:  # database busy or briefly locked: try again next tick
                time.sleep(self.poll_interval)
                continue
            if not batch:
                continue
            with self._lock:  # with listen(): a listener gets exactly the batches after its id
                self.last_id = batch[-1].id
                subs = list(self._subs)
                listeners = list(self._listeners)
            for fn in listeners:
                fn(batch)
            for ev in batch:
                for q in subs:
                    try:
                        q.put_nowait(ev)
                    except queue.Full:
                        # A stuck client: drop it; its stream notices and resyncs.
                        self.unsubscribe(q)
