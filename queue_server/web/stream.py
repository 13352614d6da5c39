"""Server-sent events for displays and consoles: snapshot, live events, resume.

:func:`event_stream` is a plain generator of SSE text (no Flask inside), so the route
stays thin and tests can drive it directly. Protocol, per connection:

1. ``retry: 3000`` – how long the browser waits before reconnecting.
2. Either a ``snapshot`` event (the whole hall state, ``id`` = the last event id it
   includes) or, when the client resumes with ``Last-Event-ID`` and few events are
   missing, those events replayed from the ``events`` table in order.
3. Every committed event as it arrives from the :class:`~queue_server.events.EventBus`:
   ``id:`` the events row id, ``event:`` its type, ``data:`` its JSON.
4. After a burst of events has settled, a ``state`` message (no id): the hall state as in
   the snapshot, computed once for all streams. Displays take their waiting counts and
   clerk names from it; the small events carry no personal data and no counts.
5. A ``: keep-alive`` comment when nothing was sent for ``keepalive`` seconds, so proxies
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
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlite_utils import Database

from queue_server.events import Event, EventBus, events_after, last_event_id

RETRY_MS = 3000
KEEPALIVE_SECONDS = 15.0
#: Resume by replay only when at most this many events were missed; else a fresh snapshot.
MAX_REPLAY = 300
#: Quiet time after events before the derived state message is sent.
STATE_SETTLE_SECONDS = 0.25
#: ... but never later than this after the first event it covers (a continuous stream of calls).
STATE_MAX_DELAY_SECONDS = 2.0
#: How often an idle stream looks at the server's stop flag.
STOP_CHECK_SECONDS = 1.0


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
    settle: float = STATE_SETTLE_SECONDS,
) -> Iterator[str]:
    """Yield the SSE text of one connection. ``db`` is this stream's own connection.

    ``snapshot(db)`` returns the hall state including ``last_event_id`` (read in one
    transaction with the state it describes). ``stop()`` ends the stream when it returns
    true (server shutdown); it is checked at least every :data:`STOP_CHECK_SECONDS`.

    ``after_batch(db, cursor)`` returns the derived ``state`` message (shared by all
    streams). It is sent once events have been quiet for ``settle`` seconds (at the
    latest :data:`STATE_MAX_DELAY_SECONDS` after the first event it covers), so the small
    events go out at once and a burst of calls costs one state message, not one per event.
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
        state_due: float | None = None  # when the derived state should go out
        state_deadline = 0.0
        while stop is None or not stop():
            if not bus.is_subscribed(q):
                # The bus dropped us (queue overflow). Re-subscribe, then fill the gap.
                q = bus.subscribe()
                cursor, filler, replayed = _opening(db, snapshot, cursor, max_replay)
                if filler:
                    yield "".join(filler)
                last_write = time.monotonic()
                if filler and replayed and after_batch is not None:
                    state_due = state_deadline = last_write + settle
            now = time.monotonic()
            wait = min(STOP_CHECK_SECONDS, max(0.0, keepalive - (now - last_write)))
            if state_due is not None:
                wait = min(wait, max(0.0, state_due - now))
            try:
                ev = q.get(timeout=wait) if wait > 0 else q.get_nowait()
            except queue.Empty:
                now = time.monotonic()
                if state_due is not None and now >= state_due and after_batch is not None:
                    state_due = None
                    yield after_batch(db, cursor)
                    last_write = now
                elif now - last_write >= keepalive:
                    yield ": keep-alive\n\n"
                    last_write = now
                continue
            chunk = []
            while True:
                if ev.id > cursor:
                    chunk.append(_formatted(ev))
                    cursor = ev.id
                try:
                    ev = q.get_nowait()
                except queue.Empty:
                    break
            if chunk:
                yield "".join(chunk)
                now = last_write = time.monotonic()
                if after_batch is not None:
                    if state_due is None:
                        state_deadline = now + STATE_MAX_DELAY_SECONDS
                    state_due = min(now + settle, state_deadline)
    finally:
        bus.unsubscribe(q)


# Keyed by (id, ts, type): ids alone repeat across hall databases served by one process.
_format_cache: dict[tuple[int, float, str], str] = {}
_format_lock = threading.Lock()


def _formatted(ev: Event) -> str:
    """The SSE text of ``ev``, serialised once for all the streams that send it."""
    key = (ev.id, ev.ts, ev.type)
    text = _format_cache.get(key)
    if text is None:
        text = format_event(ev.type, ev.data, ev.id)
        with _format_lock:
            if len(_format_cache) > 512:
                _format_cache.clear()
            _format_cache[key] = text
    return text


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
