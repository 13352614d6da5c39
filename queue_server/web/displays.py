"""Hall display, window display, the SSE event stream and announcement audio.

Routes:

* ``GET /display`` – the hall screen (综合屏); ``?layout=landscape|portrait`` forces a
  layout, otherwise the page picks one from the screen's aspect ratio.
* ``GET /display/window/<number>`` – the small screen above one window (窗口屏).
* ``GET /api/events`` – ``text/event-stream`` (see :mod:`queue_server.web.stream`);
  app config ``SSE_KEEPALIVE_SECONDS`` (env ``YICHUANG_SSE_KEEPALIVE_SECONDS``, default 15)
  and ``SSE_MAX_STREAMS`` (default 2000; beyond it 503 ``too_many_streams``). Under
  waitress the stream leaves the worker thread once its opening is read: one selector-loop
  thread writes every stream (:mod:`queue_server.web.hub`).
* ``GET /api/events/stats`` – open streams in this process (technician, admin).
* ``GET /api/voice/announce.wav?number=A012&window=3&kind=call|recall`` and
  ``GET /api/voice/call/<ticket_id>.wav?kind=call|recall`` – the spoken announcement.

The pages are static shells that carry no data; everything they show comes from the
event stream, which needs a token of role display, kiosk, clerk, technician or admin
(``Authorization: Bearer``, or ``?token=`` for the read-only roles: the display pages
pass on their own ``?token=``; the clerk console sends its session token as a header).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request
from sqlite_utils import Database

from hardware.voice import NUMBER_RE, VoiceError, announcement_wav
from queue_server.api.common import roles
from queue_server.app import get_db
from queue_server.auth import STREAM_RECHECK_SECONDS, withdrawn_tokens
from queue_server.db import connect
from queue_server.errors import QueueError, Unavailable, ValidationError
from queue_server.queue import called_at
from queue_server.web import access
from queue_server.web.hub import (
    StreamHub,
    can_take_socket,
    raise_fd_limit,
    response_head,
    take_waitress_socket,
    wants_chunked,
)
from queue_server.web.stream import (
    KEEPALIVE_SECONDS,
    event_stream,
    format_event,
    parse_last_event_id,
)

bp = Blueprint(
    "displays",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/web-static",
)

#: Who may read the stream and the announcements (admin always may). ``?token=`` works
#: for the read-only roles only (display pages, ``<audio>``); the console sends a header.
STREAM_ROLES = ("display", "kiosk", "clerk", "technician")
#: Open streams one server process accepts (config ``SSE_MAX_STREAMS``). Under waitress
#: a stream holds no thread (the hub writes it), only a file descriptor and a few KB.
DEFAULT_MAX_STREAMS = 2000
#: Descriptors kept for everything else (API connections, the database, printers).
FD_RESERVE = 256


@bp.get("/display")
def hall_display() -> str:
    layout = request.args.get("layout", "")
    return render_template("display.html", layout=layout if layout in ("landscape", "portrait") else "")


@bp.get("/display/window/<int:number>")
def window_display(number: int) -> str:
    return render_template("window.html", window=number)


@bp.get("/api/events")
@roles(*STREAM_ROLES)
def events() -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    bus = app.extensions["yichuang.bus"]
    last_id = parse_last_event_id(
        request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    )
    if stream_count(app) >= max_streams(app):
        raise Unavailable("too_many_streams", retry_after=10)
    cache = _state_cache(app)
    # Setting this event ends every open stream of the app within a second (graceful
    # shutdown; the tests use it to close streams that a reader thread is blocked on).
    stopping: threading.Event = app.extensions.setdefault("yichuang.streams_stop", threading.Event())
    keepalive = float(app.config.get("SSE_KEEPALIVE_SECONDS", KEEPALIVE_SECONDS))
    path = app.config["DB_PATH"]
    token_id = g.principal.token_id  # the stream closes once this token is revoked or expires
    if can_take_socket(request.environ):
        # waitress: the hub writes the whole stream, opening included (see _Handoff).
        body = StreamBody(bus, path, last_id, keepalive, stopping.is_set, cache.message, handoff=_hub(app),
                          token_id=token_id)
    else:
        body = StreamBody(bus, path, last_id, keepalive, stopping.is_set, cache.message, db=access.stream_db(),
                          token_id=token_id)
    # direct_passthrough: the WSGI server gets our body object as it is (the hand-off
    # below recognises it; the ordinary path iterates its bytes with one layer less).
    resp = Response(body, mimetype="text/event-stream", direct_passthrough=True)
    resp.headers["Cache-Control"] = "no-cache, no-transform"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp


@bp.get("/api/events/stats")
@roles("technician")
def events_stats() -> Response:
    """Open event streams in this server process and the newest event id it has fanned out."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    bus = app.extensions["yichuang.bus"]
    hub: StreamHub | None = app.extensions.get("yichuang.hub")
    return jsonify({"streams": stream_count(app), "last_event_id": bus.last_id,
                    "limit": max_streams(app),
                    "dropped": dict(hub.dropped) if hub is not None else {}})


def stream_count(app: Any) -> int:
    """Open streams of this app in this process: the hub's and the thread-held ones."""
    hub: StreamHub | None = app.extensions.get("yichuang.hub")
    return app.extensions["yichuang.bus"].subscriber_count + (hub.count if hub is not None else 0)


def max_streams(app: Any) -> int:
    """``SSE_MAX_STREAMS``, and never more than the open-files limit leaves room for."""
    limit = int(app.config.get("SSE_MAX_STREAMS", DEFAULT_MAX_STREAMS))
    return max(1, min(limit, _fd_limit() - FD_RESERVE))


_fd_soft = 0


def _fd_limit() -> int:
    global _fd_soft
    if not _fd_soft:
        _fd_soft = raise_fd_limit()
    return _fd_soft or 1 << 20


def _hub(app: Any) -> StreamHub:
    hub: StreamHub | None = app.extensions.get("yichuang.hub")
    if hub is None:
        with _hub_lock:
            hub = app.extensions.get("yichuang.hub")
            if hub is None:
                path = app.config["DB_PATH"]
                stopping = app.extensions.setdefault("yichuang.streams_stop", threading.Event())
                hub = StreamHub(app.extensions["yichuang.bus"], lambda: connect(path), access.snapshot,
                                _state_cache(app).message, stop=stopping.is_set)
                app.extensions["yichuang.hub"] = hub
    return hub


_hub_lock = threading.Lock()


class StreamBody:
    """The body of an event-stream response.

    Handed over (waitress): ``handoff`` is the app's hub; :class:`_Handoff` gives it the
    socket, the response head and ``last_id``, and this body is never iterated. Otherwise
    iterating it runs :func:`event_stream` in the server's thread (the Flask test client, or
    a WSGI server whose socket cannot be taken).
    """

    def __init__(self, bus: Any, path: str, last_id: int | None, keepalive: float,
                 stop: Any, after_batch: Any, *, db: Database | None = None,
                 handoff: StreamHub | None = None, token_id: int | None = None):
        self.bus, self.path, self.last_id = bus, path, last_id
        self.keepalive, self.stop, self.after_batch = keepalive, stop, after_batch
        self.db = db
        self.handoff = handoff
        self.token_id = token_id
        self._gen: Any = None

    def __iter__(self) -> Any:
        if self._gen is None:
            self._gen = self._generate()
        return self._gen

    def _generate(self) -> Any:
        db = self.db if self.db is not None else connect(self.path)
        self.db = None
        stop = self.stop
        if self.token_id is not None:
            token_id, next_check = self.token_id, time.monotonic() + STREAM_RECHECK_SECONDS

            def stop() -> bool:  # the app's stop, or this stream's token withdrawn (as the hub does)
                nonlocal next_check
                if self.stop():
                    return True
                if time.monotonic() < next_check:
                    return False
                next_check = time.monotonic() + STREAM_RECHECK_SECONDS
                return bool(withdrawn_tokens(db.conn, [token_id]))
        try:
            for text in event_stream(self.bus, db, access.snapshot, self.last_id, keepalive=self.keepalive,
                                     stop=stop, after_batch=self.after_batch):
                yield text.encode()
        finally:
            db.conn.close()

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
        elif self.db is not None:
            self.db.conn.close()
            self.db = None


class _Handoff:
    """WSGI wrapper: an event-stream response under waitress leaves the worker thread.

    After the Flask app has answered (auth, headers, the stream's opening), the client's
    socket is taken from waitress and given with the response head and the opening to the
    app's :class:`~queue_server.web.hub.StreamHub`; the worker thread is free at once.
    """

    def __init__(self, wsgi_app: Any):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/api/events" or not can_take_socket(environ):
            return self.wsgi_app(environ, start_response)
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [status, list(headers)]
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, capture)
        if isinstance(result, StreamBody) and result.handoff is not None and captured:
            sock = take_waitress_socket(environ)
            if sock is not None:
                result.handoff.add(sock, response_head(environ, captured[0], captured[1]), result.last_id,
                                   result.keepalive, wants_chunked(environ), token_id=result.token_id)
                return []
        return result


class _QuietHandoff(logging.Filter):
    """waitress logs each handed-over stream as a client that went away: not worth a line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.INFO
                    and record.getMessage() == "Client disconnected while serving /api/events")


@bp.record_once
def _install(state: Any) -> None:
    state.app.wsgi_app = _Handoff(state.app.wsgi_app)
    waitress_log = logging.getLogger("waitress")
    if not any(isinstance(f, _QuietHandoff) for f in waitress_log.filters):
        waitress_log.addFilter(_QuietHandoff())


class StateCache:
    """The ``state`` message after an event batch, computed once per event id for all streams."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._id = -1
        self._msg = ""

    def message(self, db: Database, at_least: int) -> str:
        with self._lock:
            if self._id < at_least:
                state = access.snapshot(db)
                self._id = int(state.get("last_event_id") or 0)
                self._msg = format_event("state", state)
            return self._msg


def _state_cache(app: Any) -> StateCache:
    cache = app.extensions.get("yichuang.state_cache")
    if cache is None:
        cache = app.extensions.setdefault("yichuang.state_cache", StateCache())
    return cache


def _wav(number: str, window: int, kind: str) -> Response:
    try:
        data = announcement_wav(number, window, kind)
    except VoiceError as e:
        if e.code == "voice_bad_input":
            raise ValidationError("bad_announcement", what=e.detail, what_en=e.detail) from e
        raise QueueError("voice_unavailable", detail=str(e)) from e
    resp = Response(data, mimetype="audio/wav")
    resp.headers["Cache-Control"] = "private, max-age=86400"
    return resp


def _kind() -> str:
    kind = request.args.get("kind", "call")
    if kind not in ("call", "recall"):
        raise ValidationError("bad_announcement", what="播报类型应为 call 或 recall", what_en="kind must be call or recall")
    return kind


@bp.get("/api/voice/announce.wav")
@roles(*STREAM_ROLES)
def voice_announce() -> Response:
    number = request.args.get("number", "").strip().upper()
    window = request.args.get("window", "")
    if not NUMBER_RE.match(number) or not window.isdigit() or not 0 < int(window) < 10000:
        raise ValidationError("bad_announcement", what="票号或窗口号无效", what_en="invalid ticket number or window")
    return _wav(number, int(window), _kind())


@bp.get("/api/voice/call/<int:ticket_id>.wav")
@roles(*STREAM_ROLES)
def voice_call(ticket_id: int) -> Response:
    kind = _kind()
    number, window = called_at(get_db(), ticket_id)
    return _wav(number, window, kind)

