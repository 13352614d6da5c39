"""The Flask app factory and the per-request helpers, apart from the package face (as
flaskr keeps ``db.py`` apart)::

    app = create_app({"DB_PATH": "hall.db"})     # or env YICHUANG_DB_PATH=hall.db

The app registers every capability's blueprint (the one place the core lists them), the
API's error handlers, and owns one :class:`EventBus` (``app.extensions["yichuang.bus"]``).
Routes get their connection from :func:`get_db`: one connection per thread, reused across
requests (waitress keeps its threads), and call :func:`notify_change` after a committed
write so local subscribers see it at once.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from flask import Flask, Response, current_app
from sqlite_utils import Database
from werkzeug.routing import IntegerConverter

from queue_server.db import connect
from queue_server.events import EventBus
from queue_server.migrations import open_db

#: Largest request body the API accepts (a ticket request is ~200 bytes).
MAX_CONTENT_LENGTH = 64 * 1024

_local = threading.local()

#: SQLite's INTEGER is a signed 64-bit number: the largest id any table can hold.
INT64_MAX = 2**63 - 1


class Int64Converter(IntegerConverter):
    """``<int:x>`` in every route: digits up to SQLite's int64, anything larger does not
    match (404 like any id that does not exist) instead of reaching a query as a Python
    int SQLite cannot bind (a 500 with a traceback)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(map, *args, **kwargs)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the queue server. ``config`` overrides env ``YICHUANG_*`` settings.

    Keys: ``DB_PATH`` (required, or env ``YICHUANG_DB_PATH``), ``TESTING``, ``CLOCK`` (a
    callable returning Unix seconds, for tests), ``MAX_CONTENT_LENGTH``,
    ``API_CONCURRENCY`` (API requests doing work at once per process, default 2),
    ``BACKGROUND_CHECKPOINT`` (request connections leave WAL checkpoints to a
    :class:`~queue_server.db.Checkpointer` thread; ``serve`` turns it on).
    """
    app = Flask(__name__)
    app.url_map.converters["int"] = Int64Converter
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.from_prefixed_env("YICHUANG")
    if config:
        app.config.update(config)
    if not app.config.get("DB_PATH"):
        raise RuntimeError("DB_PATH is not configured (config key or env YICHUANG_DB_PATH)")
    path = os.path.abspath(str(app.config["DB_PATH"]))
    app.config["DB_PATH"] = path
    open_db(path).conn.close()  # migrate once at start-up

    bus = EventBus(lambda: connect(path))
    app.extensions["yichuang.bus"] = bus
    app.extensions["yichuang.api_slots"] = threading.BoundedSemaphore(int(app.config.get("API_CONCURRENCY", 2)))

    # The blueprints import this module for get_db/notify_change: importing them here,
    # inside the factory, is the one import back into the core that the shape allows.
    from queue_server.admin.routes import bp as admin_bp
    from queue_server.api import errors as api_errors
    from queue_server.api.routes import bp as api_bp
    from queue_server.approvals.routes import bp as approvals_bp
    from queue_server.audit.routes import bp as audit_bp
    from queue_server.cases.routes import bp as cases_bp
    from queue_server.devices.routes import bp as devices_bp
    from queue_server.evaluations.routes import bp as evaluations_bp
    from queue_server.licences.routes import bp as licences_bp
    from queue_server.printing.routes import bp as printing_bp
    from queue_server.web.counter import bp as counter_bp
    from queue_server.web.displays import bp as displays_bp
    from queue_server.web.landing import bp as landing_bp

    for bp in (api_bp, displays_bp, counter_bp, printing_bp, audit_bp, cases_bp, evaluations_bp, licences_bp,
               admin_bp, approvals_bp, devices_bp, landing_bp):
        app.register_blueprint(bp)
    api_errors.register(app)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(security_headers)
    return app


#: The one content security policy of every page and API answer: nothing from elsewhere, no
#: inline script or style (a page that needs one inline block marks it with
#: ``nonce="{{ csp_nonce() }}"``), never inside another site's frame.
CSP = ("default-src 'self'; script-src 'self'{nonce}; style-src 'self'{nonce}; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


def csp_nonce() -> str:
    """This response's CSP nonce, for the rare inline ``<script>``/``<style>`` of a template."""
    import secrets

    from flask import g

    nonce: str | None = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def security_headers(resp: Response) -> Response:
    """Every answer, page or API, error or not: CSP with frame-ancestors, nosniff, no referrer.
    Registered once in :func:`create_app`; no blueprint sets these itself."""
    from flask import g

    nonce = g.get("csp_nonce")
    resp.headers["Content-Security-Policy"] = CSP.format(nonce=f" 'nonce-{nonce}'" if nonce else "")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp


def get_db() -> Database:
    """This thread's connection to the current app's database (opened on first use)."""
    path = current_app.config["DB_PATH"]
    conns: dict[str, Database] | None = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    db = conns.get(path)
    if db is None:
        db = conns[path] = connect(path)
        # A lock held by another program answers 503 storage_busy after this, not a hang.
        db.conn.execute(f"PRAGMA busy_timeout={int(current_app.config.get('REQUEST_BUSY_TIMEOUT_MS', 3000))}")
        if current_app.config.get("BACKGROUND_CHECKPOINT"):
            db.conn.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer thread does it
    return db


def close_thread_connections() -> None:
    """Close the connections :func:`get_db` keeps for this thread; the next use opens anew.

    A server thread keeps its connection for its life (the thread's end frees it); a
    process that runs many short-lived apps in one thread — tests, scripts — calls this
    when an app is done with, or its database files stay open.
    """
    conns: dict[str, Database] = getattr(_local, "conns", None) or {}
    while conns:
        _, db = conns.popitem()
        db.conn.close()


def notify_change() -> None:
    """Wake the event bus after a committed write, so local subscribers get it at once."""
    bus: EventBus | None = current_app.extensions.get("yichuang.bus")
    if bus is not None:
        bus.poke()
