"""Server-sent events for displays and consoles: snapshot, live events, resume.

:func:`event_stream` is a plain generator of SSE text (no Flask inside), so the route
stays thin and tests can drive it directly. Protocol, per connection:

1. ``retry: 3000`` – how long the browser waits before reconnecting.
2. Either a ``snapshot`` event (the whole hall state, ``id`` = the last event id it
   includes) or, when the client resumes with ``Last-Event-ID`` and few events are
   missing, those events replayed from the ``events`` table in order.
3. Every committed event as it arrives from the :class:`~queue_server.events.EventBus`:
   ``id:`` the events row id, ``event:`` its type, ``data:`` its JSON.
4. A ``: keep-alive`` comment when nothing was sent for ``keepalive`` seconds, so proxies
   and the browser keep the connection, and so a dead client is noticed at the next write.

The subscription is made *before* the snapshot or the replay is read, and every event
whose id is not above the stream's cursor is skipped, so nothing is lost or sent twice
between the two. A subscriber the bus dropped (its queue overflowed: a stuck client) is
re-subscribed and the gap is filled from the table. The generator unsubscribes when it is
closed (client gone) or exhausted.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlite_utils import Database

from queue_server.events import Event, EventBus, events_after, last_event_id

RETRY_MS = 3000
KEEPALIVE_SECONDS = 15.0
#: Resume by replay only when at most this many events were missed; else a fresh snapshot.
MAX_REPLAY = 300


def format_event(event_type: str, data: Any, event_id: int | None = None) -> str:
    """One SSE message. ``data`` is JSON on one line (json.dumps escapes newlines)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event_type}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def parse_last_event_id(value: str | None) -> int | None:
    """The numeric ``Last-Event-ID`` or ``None`` for absent or garbage values."""
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit():
        return None
    return int(value)


def event_stream(
    bus: EventBus,
    db: Database,
    snapshot: Callable[[Database], dict[str, Any]],
    last_id: int | None = None,
    keepalive: float = KEEPALIVE_SECONDS,
    max_replay: int = MAX_REPLAY,
    stop: Callable[[], bool] | None = None,
    after_batch: Callable[[Database, int], str] | None = None,
) -> Iterator[str]:
    """Yield the SSE text of one connection. ``db`` is this stream's own connection.

    ``snapshot(db)`` returns the hall state including ``last_event_id`` (read in one
    transaction with the state it describes). ``stop()`` ends the stream when it returns
    true (server shutdown); it is checked at least every ``keepalive`` seconds.
    ``after_batch(db, cursor)`` returns a message sent after each batch of events and
    after a replay (the hall display's derived ``state``: it is shared by all streams).
    """
    q = bus.subscribe()
    try:
        yield f"retry: {RETRY_MS}\n\n"
        cursor, opening, replayed = _opening(db, snapshot, last_id, max_replay)
        if replayed and opening and after_batch is not None:
            opening.append(after_batch(db, cursor))
        if opening:
            yield "".join(opening)
        last_write = time.monotonic()
        while stop is None or not stop():
            if not bus.is_subscribed(q):
                # The bus dropped us (queue overflow). Re-subscribe, then fill the gap.
                q = bus.subscribe()
                cursor, filler, _ = _opening(db, snapshot, cursor, max_replay)
                if filler:
                    yield "".join(filler)
                last_write = time.monotonic()
            wait = max(0.05, keepalive - (time.monotonic() - last_write))
            try:
                ev = q.get(timeout=min(wait, 1.0))
            except queue.Empty:
                if time.monotonic() - last_write >= keepalive:
                    yield ": keep-alive\n\n"
                    last_write = time.monotonic()
                continue
            chunk = []
            while True:
                if ev.id > cursor:
                    chunk.append(format_event(ev.type, ev.data, ev.id))
                    cursor = ev.id
                try:
                    ev = q.get_nowait()
                except queue.Empty:
                    break
            if chunk:
                yield "".join(chunk)
                if after_batch is not None:
                    yield after_batch(db, cursor)
                last_write = time.monotonic()
    finally:
        bus.unsubscribe(q)


def _opening(
    db: Database,
    snapshot: Callable[[Database], dict[str, Any]],
    last_id: int | None,
    max_replay: int,
) -> tuple[int, list[str], bool]:
    """(cursor, messages, replayed): a replay from ``last_id`` if short enough, else a snapshot."""
    if last_id is not None and last_id <= last_event_id(db):
        missed: list[Event] = events_after(db, last_id, limit=max_replay + 1)
        if len(missed) <= max_replay:
            cursor = missed[-1].id if missed else last_id
            return cursor, [format_event(e.type, e.data, e.id) for e in missed], True
    state = snapshot(db)
    cursor = int(state.get("last_event_id") or 0)
    return cursor, [format_event("snapshot", state, cursor)], False
