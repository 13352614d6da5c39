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
        resp = access.error_response(
            503, "too_many_streams", "显示屏连接数已满，请稍后自动重试", "Too many open event streams; retry later"
        )
        resp.headers["Retry-After"] = "10"
        return resp
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
        status = 500 if e.code == "voice.missing_clip" else 422
        return access.error_response(status, e.code, e.message_zh, e.message_en)
    resp = Response(data, mimetype="audio/wav")
    resp.headers["Cache-Control"] = "private, max-age=86400"
    return resp


def _kind() -> str:
    kind = request.args.get("kind", "call")
    if kind not in ("call", "recall"):
        access.abort(422, "voice.bad_input", "播报类型应为 call 或 recall", "kind must be call or recall")
    return kind


@bp.get("/api/voice/announce.wav")
@roles(*STREAM_ROLES)
def voice_announce() -> Response:
    number = request.args.get("number", "").strip().upper()
    window = request.args.get("window", "")
    if not NUMBER_RE.match(number) or not window.isdigit() or not 0 < int(window) < 10000:
        access.abort(422, "voice.bad_input", "票号或窗口号无效", "invalid ticket number or window")
    return _wav(number, int(window), _kind())


@bp.get("/api/voice/call/<int:ticket_id>.wav")
@roles(*STREAM_ROLES)
def voice_call(ticket_id: int) -> Response:
    kind = _kind()
    row = access.request_db().conn.execute(
        "SELECT number, window FROM tickets WHERE id = ?", (ticket_id,)
    ).fetchone()
    if row is None:
        access.abort(404, "ticket_not_found", "没有这个号码", "No such ticket")
    if row[1] is None:
        access.abort(409, "ticket_not_called", "该号码尚未被叫号", "The ticket has not been called")
    return _wav(row[0], int(row[1]), kind)

