"""One writer for every event stream of a process: a selector loop, not a thread per stream.

Under waitress a streaming response holds a worker thread for as long as it is open, and a
dead client is only noticed when a write to it fails (at the next keep-alive). A reconnect
storm of screens then filled every stream slot with dead streams for 20–40 s and refused the
live ones. Instead, ``GET /api/events`` is answered in the worker thread only as far as the
authorisation and the response headers; then the connection's socket is taken from
waitress (:func:`take_waitress_socket`) and handed to the :class:`StreamHub` of the app, and
the worker thread goes back to the pool at once.

The hub is one thread with one :mod:`selectors` loop over every stream socket:

* it gets each batch of committed events from the :class:`~queue_server.events.EventBus`
  (:meth:`~queue_server.events.EventBus.listen`), serialises it once per distinct cursor
  (nearly always once) and appends the text to every stream's output;
* output goes straight to the socket (non-blocking ``send``); what the kernel does not take
  waits in the stream's own buffer, bounded by ``max_buffer`` bytes — a stream past the
  bound, or whose buffer made no progress for ``stall`` seconds, is dropped (a slow or stuck
  screen reconnects with ``Last-Event-ID`` and gets a replay or a fresh snapshot);
* every stream socket is also watched for reading: a screen that closes its connection or
  resets it is noticed at once (EOF / error), not at the next write; a screen that vanished
  without a word (power cut, cable) is found by TCP keep-alive probes and
  ``TCP_USER_TIMEOUT`` within about :data:`DEAD_PEER_SECONDS`;
* every :data:`~queue_server.auth.STREAM_RECHECK_SECONDS` it asks once which of the streams'
  tokens were revoked or expired since and closes those streams;
* after a burst of events has settled it sends the derived ``state`` message (computed once
  for all streams), and a ``: keep-alive`` comment on a stream idle for ``keepalive``
  seconds — the same protocol as :func:`queue_server.web.stream.event_stream`, which stays
  the path for WSGI servers other than waitress (and the Flask test client).

The opening (``retry``, then the replay after ``Last-Event-ID`` followed by the ``state``,
or a snapshot) is read by the hub thread when it registers the stream, so it always covers
every event the hub has already distributed; later events reach the stream only if their id
is above its cursor. Nothing is lost or sent twice. A snapshot is shared by the streams that
connect within a second while no event is committed (a storm costs one hall read per event).
"""

from __future__ import annotations

import collections
import email.utils
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from queue_server.auth import STREAM_RECHECK_SECONDS, withdrawn_tokens
from queue_server.events import Event, EventBus, events_after, last_event_id
from queue_server.memory import trim
from queue_server.web.stream import (
    KEEPALIVE_SECONDS,
    MAX_REPLAY,
    RETRY_MS,
    STATE_MAX_DELAY_SECONDS,
    STATE_SETTLE_SECONDS,
    _formatted,
    format_event,
)

log = logging.getLogger(__name__)

#: Bytes a stream may have waiting in user space (beyond the kernel's send buffer).
MAX_BUFFER = 256 * 1024
#: A stream whose waiting output made no progress for this long is dropped.
STALL_SECONDS = 10.0
#: TCP keep-alive idle time, probe interval and count, and TCP_USER_TIMEOUT: a peer that
#: vanished without closing is found within about this many seconds.
DEAD_PEER_SECONDS = 10
_KEEPIDLE, _KEEPINTVL, _KEEPCNT = 4, 2, 3
#: How often the loop looks at keep-alives, stalls and the stop flag (at most).
SWEEP_SECONDS = 1.0
#: After this many streams went (and few are left), freed memory is given back (malloc_trim).
TRIM_AFTER_DROPS = 100

KEEPALIVE = b": keep-alive\n\n"
RETRY = f"retry: {RETRY_MS}\n\n"
#: A snapshot read for one new stream is sent to the others that connect this soon after,
#: as long as no event was committed in between (its clock field is at most this old).
SNAPSHOT_REUSE_SECONDS = 1.0


def chunk(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk (the streams use chunked transfer coding, as waitress
    did: clients such as ``requests`` hand chunks on as they arrive)."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


_KEEPALIVE_CHUNK = chunk(KEEPALIVE)


@dataclass(eq=False)
class _Conn:
    sock: socket.socket
    cursor: int
    keepalive: float
    chunked: bool
    out: bytearray = field(default_factory=bytearray)
    last_write: float = 0.0
    progress_at: float = 0.0
    state_pending: bool = False
    writing: bool = False
    token_id: int | None = None  # the token that authorised it (closed when that is withdrawn)


class StreamHub:
    """The streams of one app (one hall database) written by one selector-loop thread."""

    def __init__(
        self,
        bus: EventBus,
        connect: Callable[[], Database],
        snapshot: Callable[[Database], dict[str, Any]],
        state_message: Callable[[Database, int], str] | None = None,
        *,
        stop: Callable[[], bool] | None = None,
        settle: float = STATE_SETTLE_SECONDS,
        max_buffer: int = MAX_BUFFER,
        stall: float = STALL_SECONDS,
        max_replay: int = MAX_REPLAY,
        recheck: float = STREAM_RECHECK_SECONDS,
    ):
        self._bus = bus
        self._connect = connect
        self._snapshot = snapshot
        self._state_message = state_message
        self._stop = stop
        self.settle = settle
        self.max_buffer = max_buffer
        self.stall = stall
        self.max_replay = max_replay
        self.recheck = recheck
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._new: collections.deque[tuple[socket.socket, bytes, int | None, float, bool, int | None]] = \
            collections.deque()
        self._snap: tuple[int, float, str] | None = None  # (cursor, when, text) of the last snapshot
        self._batches: collections.deque[list[Event]] = collections.deque()
        self._conns: dict[int, _Conn] = {}
        self._cursor = 0
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._dropped_since_trim = 0
        #: Streams dropped, by reason (eof, error, stall, overflow, stop, revoked) — for the stats route.
        self.dropped: collections.Counter[str] = collections.Counter()

    # -- any thread ---------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Streams held (including ones handed over and not yet registered)."""
        return len(self._conns) + len(self._new)

    def start(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            self._cursor = self._bus.listen(self._on_batch)
            self._thread = threading.Thread(target=self._run, name="stream-hub", daemon=True)
            self._thread.start()

    def add(self, sock: socket.socket, head: bytes, last_id: int | None, keepalive: float = KEEPALIVE_SECONDS,
            chunked: bool = False, token_id: int | None = None) -> None:
        """Take over ``sock`` (a connected stream socket whose request was authorised): send
        ``head`` (the HTTP response head) as it is, then the stream — its opening (a replay
        after ``last_id`` or a snapshot) and the live events, each an HTTP chunk when
        ``chunked``. ``token_id``: the token that authorised it; the stream is closed once
        that token is revoked or expires (checked every :data:`STREAM_RECHECK_SECONDS`)."""
        self.start()
        tune_socket(sock)
        self._new.append((sock, head, last_id, keepalive, chunked, token_id))
        self._wake()

    def close(self) -> None:
        """Stop the loop and close every stream (tests, shutdown)."""
        self._closing = True
        self._bus.unlisten(self._on_batch)
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _on_batch(self, batch: list[Event]) -> None:  # the bus's tailer thread
        self._batches.append(batch)
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already awake (the pipe is full) or closing

    # -- the loop -------------------------------------------------------------------------

    def _run(self) -> None:
        db = self._connect()
        state_due: float | None = None
        state_deadline = 0.0
        next_sweep = 0.0
        next_recheck = time.monotonic() + self.recheck
        try:
            while not self._closing:
                now = time.monotonic()
                timeout = max(0.0, next_sweep - now)
                if state_due is not None:
                    timeout = min(timeout, max(0.0, state_due - now))
                for key, mask in self._sel.select(timeout):
                    conn = key.data
                    if conn is None:
                        try:
                            while self._wake_r.recv(4096):
                                pass
                        except (BlockingIOError, OSError):
                            pass
                        continue
                    if mask & selectors.EVENT_READ and not self._readable(conn):
                        continue
                    if mask & selectors.EVENT_WRITE:
                        self._flush(conn, time.monotonic())
                now = time.monotonic()
                while self._new:
                    self._register(db, *self._new.popleft(), now)
                sent = False
                while self._batches:
                    sent = self._distribute(self._batches.popleft(), now) or sent
                if sent and self._state_message is not None:
                    if state_due is None:
                        state_deadline = now + STATE_MAX_DELAY_SECONDS
                    state_due = min(now + self.settle, state_deadline)
                if state_due is not None and now >= state_due:
                    state_due = None
                    self._send_state(db, now)
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + min(SWEEP_SECONDS, self._sweep_interval())
                if now >= next_recheck:
                    self._recheck(db)
                    next_recheck = now + self.recheck
        except Exception:  # never expected; log it and drop the streams (screens reconnect)
            log.exception("stream hub stopped")
        finally:
            for conn in list(self._conns.values()):
                self._drop(conn, "stop")
            while self._new:
                self._new.popleft()[0].close()
            db.conn.close()

    def _sweep_interval(self) -> float:
        shortest = min((c.keepalive for c in self._conns.values()), default=SWEEP_SECONDS)
        return max(0.05, min(shortest / 2, self.stall / 2))

    def _register(self, db: Database, sock: socket.socket, head: bytes, last_id: int | None,
                  keepalive: float, chunked: bool, token_id: int | None, now: float) -> None:
        try:
            text, cursor = self._opening(db, last_id, now)
        except Exception:  # database trouble: close; the screen retries and shows its dot red meanwhile
            log.exception("stream opening failed")
            sock.close()
            return
        conn = _Conn(sock, cursor, keepalive, chunked, last_write=now, progress_at=now, token_id=token_id)
        self._conns[sock.fileno()] = conn
        self._sel.register(sock, selectors.EVENT_READ, conn)
        self._queue(conn, head + self._framed(conn, text.encode()), now, bounded=False)
        if conn.cursor < self._cursor and conn.sock.fileno() >= 0:
            # Events already sent to the others that this opening does not include (the
            # opening is read after the bus saw them, so this should not happen; kept exact).
            missed = [e for e in events_after(db, conn.cursor, limit=self.max_replay + 1) if e.id <= self._cursor]
            if len(missed) <= self.max_replay:
                fill = "".join(_formatted(e) for e in missed)
            else:
                state = self._snapshot(db)
                fill = format_event("snapshot", state, int(state.get("last_event_id") or 0))
            conn.cursor = self._cursor
            conn.state_pending = True
            self._queue(conn, self._framed(conn, fill.encode()), now)

    def _opening(self, db: Database, last_id: int | None, now: float) -> tuple[str, int]:
        """(text, cursor): ``retry``, then the missed events and the state, or a snapshot.

        Exactly what :func:`~queue_server.web.stream.event_stream` opens with. A snapshot is
        reused for the streams that connect within :data:`SNAPSHOT_REUSE_SECONDS` while no
        event was committed, so a storm of reconnecting screens costs one read of the hall
        per event, not one per screen.
        """
        top = last_event_id(db)
        if last_id is not None and last_id <= top:
            missed = events_after(db, last_id, limit=self.max_replay + 1)
            if len(missed) <= self.max_replay:
                cursor = missed[-1].id if missed else last_id
                text = "".join(_formatted(e) for e in missed)
                if missed and self._state_message is not None:
                    text += self._state_message(db, cursor)
                return RETRY + text, cursor
        snap = self._snap
        if snap is None or snap[0] != top or now - snap[1] > SNAPSHOT_REUSE_SECONDS:
            state = self._snapshot(db)
            cursor = int(state.get("last_event_id") or 0)
            snap = self._snap = (cursor, now, format_event("snapshot", state, cursor))
        return RETRY + snap[2], snap[0]

    def _distribute(self, batch: list[Event], now: float) -> bool:
        batch = [e for e in batch if e.id > self._cursor]
        if not batch:
            return False
        top = batch[-1].id
        texts: dict[tuple[int, bool], bytes] = {}
        sent = False
        for conn in list(self._conns.values()):
            if conn.cursor >= top:
                continue
            data = texts.get((conn.cursor, conn.chunked))
            if data is None:
                data = "".join(_formatted(e) for e in batch if e.id > conn.cursor).encode()
                data = texts[(conn.cursor, conn.chunked)] = self._framed(conn, data)
            conn.cursor = top
            conn.state_pending = True
            self._queue(conn, data, now)
            sent = True
        self._cursor = top
        return sent

    def _send_state(self, db: Database, now: float) -> None:
        assert self._state_message is not None
        targets = [c for c in self._conns.values() if c.state_pending]
        if not targets:
            return
        plain = self._state_message(db, self._cursor).encode()
        framed = chunk(plain)
        for conn in targets:
            conn.state_pending = False
            self._queue(conn, framed if conn.chunked else plain, now)

    def _sweep(self, now: float) -> None:
        if self._dropped_since_trim >= TRIM_AFTER_DROPS and len(self._conns) * 4 < self._dropped_since_trim:
            self._dropped_since_trim = 0
            trim()
        if self._stop is not None and self._stop():
            for conn in list(self._conns.values()):
                self._drop(conn, "stop")
            return
        for conn in list(self._conns.values()):
            if conn.out:
                if now - conn.progress_at > self.stall:
                    self._drop(conn, "stall")
            elif now - conn.last_write >= conn.keepalive:
                self._queue(conn, _KEEPALIVE_CHUNK if conn.chunked else KEEPALIVE, now)

    def _recheck(self, db: Database) -> None:
        """Close the streams whose token was revoked or expired since they opened."""
        held = {c.token_id for c in self._conns.values() if c.token_id is not None}
        if not held:
            return
        try:
            gone = withdrawn_tokens(db.conn, held)
        except Exception:  # database busy: ask again next time
            log.warning("could not check the streams' tokens", exc_info=True)
            return
        for conn in list(self._conns.values()):
            if conn.token_id in gone:
                self._drop(conn, "revoked")

    @staticmethod
    def _framed(conn: _Conn, data: bytes) -> bytes:
        return chunk(data) if conn.chunked else data

    # -- one stream -----------------------------------------------------------------------

    def _queue(self, conn: _Conn, data: bytes, now: float, bounded: bool = True) -> None:
        if not data:
            return
        conn.last_write = now
        if conn.out:
            if bounded and len(conn.out) + len(data) > self.max_buffer:
                self._drop(conn, "overflow")
                return
            conn.out += data
            return
        try:
            n = conn.sock.send(data)
        except BlockingIOError:
            n = 0
        except OSError:
            self._drop(conn, "error")
            return
        if n < len(data):
            conn.out += memoryview(data)[n:]
            conn.progress_at = now
            self._want_write(conn, True)

    def _flush(self, conn: _Conn, now: float) -> None:
        if not conn.out:
            self._want_write(conn, False)
            return
        try:
            n = conn.sock.send(conn.out)
        except BlockingIOError:
            return
        except OSError:
            self._drop(conn, "error")
            return
        if n:
            del conn.out[:n]
            conn.progress_at = now
        if not conn.out:
            conn.out = bytearray()  # give back the grown buffer
            self._want_write(conn, False)

    def _readable(self, conn: _Conn) -> bool:
        """Read and discard what the client sends; False (and dropped) at EOF or error."""
        try:
            data = conn.sock.recv(4096)
        except BlockingIOError:
            return True
        except OSError:
            self._drop(conn, "error")
            return False
        if not data:
            self._drop(conn, "eof")
            return False
        return True

    def _want_write(self, conn: _Conn, on: bool) -> None:
        if conn.writing == on:
            return
        conn.writing = on
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if on else 0)
        try:
            self._sel.modify(conn.sock, events, conn)
        except (KeyError, ValueError, OSError):
            pass

    def _drop(self, conn: _Conn, reason: str) -> None:
        fd = conn.sock.fileno()
        if self._conns.get(fd) is not conn:
            return
        del self._conns[fd]
        self._dropped_since_trim += 1
        self.dropped[reason] += 1
        try:
            self._sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        try:
            conn.sock.close()
        except OSError:
            pass
        conn.out = bytearray()


def tune_socket(sock: socket.socket) -> None:
    """Non-blocking, no Nagle delay, and a dead peer found within :data:`DEAD_PEER_SECONDS`."""
    sock.setblocking(False)
    opts: list[tuple[int, int, int]] = [
        (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
    ]
    for name, value in (("TCP_KEEPIDLE", _KEEPIDLE), ("TCP_KEEPINTVL", _KEEPINTVL), ("TCP_KEEPCNT", _KEEPCNT),
                        ("TCP_USER_TIMEOUT", DEAD_PEER_SECONDS * 1000)):
        if hasattr(socket, name):
            opts.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    for level, opt, value in opts:
        try:
            sock.setsockopt(level, opt, value)
        except OSError:
            pass  # not a TCP socket (tests use socketpairs) or not supported here


# -- waitress ---------------------------------------------------------------------------


def can_take_socket(environ: dict[str, Any]) -> bool:
    """True when the WSGI server is waitress and this request's socket can be taken over."""
    channel = getattr(environ.get("waitress.client_disconnected"), "__self__", None)
    return (
        channel is not None
        and getattr(channel, "connected", False)
        and getattr(channel, "socket", None) is not None
        and hasattr(channel, "del_channel")
        and not getattr(channel, "total_outbufs_len", 1)
    )


def take_waitress_socket(environ: dict[str, Any]) -> socket.socket | None:
    """Take this request's client socket away from waitress (in its worker thread).

    The channel leaves waitress's socket map (so its main loop no longer polls it and it no
    longer counts against ``connection_limit``) and is marked disconnected, so the task's
    own attempt to write a response ends quietly (``ClientDisconnected``). Waitress's
    socket object gives up its file descriptor to the one returned. None when the server
    is not waitress or the channel is not in the state this expects (the caller then
    streams the ordinary way).
    """
    if not can_take_socket(environ):
        return None
    channel = environ["waitress.client_disconnected"].__self__
    sock = channel.socket
    try:
        channel.del_channel()
        channel.connected = False
        fd = sock.detach()
    except Exception:  # a waitress we do not know: let it stream the ordinary way
        log.exception("could not take the stream's socket from waitress")
        return None
    return socket.socket(fileno=fd)


def wants_chunked(environ: dict[str, Any]) -> bool:
    """HTTP/1.1 clients get the stream in chunks (as from waitress); HTTP/1.0 until close."""
    return environ.get("SERVER_PROTOCOL") == "HTTP/1.1"


def response_head(environ: dict[str, Any], status: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """The HTTP response head for a stream the hub writes (see :func:`wants_chunked`)."""
    chunked = wants_chunked(environ)
    lines = [f"{'HTTP/1.1' if chunked else 'HTTP/1.0'} {status}"]
    for name, value in headers:
        if name.lower() not in ("connection", "content-length", "transfer-encoding", "keep-alive"):
            lines.append(f"{name}: {value}")
    lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
    lines.append("Server: yichuang")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def raise_fd_limit(want: int = 8192) -> int:
    """Raise this process's soft open-files limit towards ``want`` (within the hard limit);
    returns the soft limit now in force. Each held stream is one descriptor."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Linux
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft) if soft != resource.RLIM_INFINITY else 1 << 20


__all__ = ["StreamHub", "can_take_socket", "chunk", "take_waitress_socket", "response_head", "raise_fd_limit",
           "tune_socket", "wants_chunked"]
