"""Hall display, window display, the SSE event stream and announcement audio.

Routes:

* ``GET /display`` – the hall screen (综合屏); ``?layout=landscape|portrait`` forces a
  layout, otherwise the page picks one from the screen's aspect ratio.
* ``GET /display/window/<number>`` – the small screen above one window (窗口屏).
* ``GET /api/events`` – ``text/event-stream`` (see :mod:`queue_server.web.stream`);
  app config ``SSE_KEEPALIVE_SECONDS`` (env ``YICHUANG_SSE_KEEPALIVE_SECONDS``, default 15)
  and ``SSE_MAX_STREAMS`` (default 48; beyond it 503 ``too_many_streams``).
* ``GET /api/events/stats`` – open streams in this process (technician, admin).
* ``GET /api/voice/announce.wav?number=A012&window=3&kind=call|recall`` and
  ``GET /api/voice/call/<ticket_id>.wav?kind=call|recall`` – the spoken announcement.

The pages are static shells that carry no data; everything they show comes from the
event stream, which needs a token of role display, kiosk, clerk, technician or admin
(``Authorization: Bearer``, or ``?token=`` for the read-only roles: the display pages
pass on their own ``?token=``; the clerk console sends its session token as a header).
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from sqlite_utils import Database

from hardware.voice import NUMBER_RE, VoiceError, announcement_wav
from queue_server.api.common import roles
from queue_server.app import get_db
from queue_server.errors import QueueError, Unavailable, ValidationError
from queue_server.queue import called_at
from queue_server.web import access
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
#: Open streams one server process accepts (config ``SSE_MAX_STREAMS``). Each holds a
#: waitress thread, so keep it below ``--threads`` with room for the API: the default
#: fits ``queue-server serve``'s default of 64 threads.
DEFAULT_MAX_STREAMS = 48


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
    limit = int(app.config.get("SSE_MAX_STREAMS", DEFAULT_MAX_STREAMS))
    if bus.subscriber_count >= limit:
        # Every stream holds a server thread: past the limit the API itself would queue.
        raise Unavailable("too_many_streams", retry_after=10)
    db = access.stream_db()
    cache = _state_cache(app)
    # Setting this event ends every open stream of the app within a second (graceful
    # shutdown; the tests use it to close streams that a reader thread is blocked on).
    stopping: threading.Event = app.extensions.setdefault("yichuang.streams_stop", threading.Event())

    keepalive = float(app.config.get("SSE_KEEPALIVE_SECONDS", KEEPALIVE_SECONDS))

    def generate() -> Any:
        try:
            for text in event_stream(
                bus, db, access.snapshot, last_id, keepalive=keepalive,
                stop=stopping.is_set, after_batch=cache.message,
            ):
                yield text.encode()
        finally:
            db.conn.close()

    # direct_passthrough: the WSGI server iterates our bytes as they are (one layer less
    # per message and per stream, which matters when one call fans out to 200 screens).
    resp = Response(generate(), mimetype="text/event-stream", direct_passthrough=True)
    resp.headers["Cache-Control"] = "no-cache, no-transform"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp


@bp.get("/api/events/stats")
@roles("technician")
def events_stats() -> Response:
    """Open event streams in this server process and the newest event id it has fanned out."""
    bus = current_app.extensions["yichuang.bus"]
    return jsonify({"streams": bus.subscriber_count, "last_event_id": bus.last_id})


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

