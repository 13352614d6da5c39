"""The server's landing page ``/``: the public parts by their paths.

Links the hall display ``/display``, every window display ``/display/window/<n>``, the
clerk console ``/counter``, the admin (``/admin``) and technicians' (``/tech``) pages when
this server has them, and a box to type a ticket's code that opens its progress page
``/t/<code>`` (``GET /t?code=`` redirects there, so the box works without script). Static
HTML, no data but the windows' numbers and names (what the screens show anyway).
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, current_app, redirect, render_template, request

from queue_server.app import get_db
from queue_server.queue import windows as list_windows
from queue_server.settings import all_settings

bp = Blueprint("landing", __name__, template_folder="templates")

def _secure(resp: Response) -> Response:
    """No caching; the security headers (CSP, nosniff, no referrer) come from the app's one
    ``after_request`` (:func:`queue_server.app.security_headers`)."""
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/")
def landing() -> Response:
    db = get_db()
    rules = {r.rule for r in current_app.url_map.iter_rules()}
    ws = list_windows(db)
    html = render_template("landing.html", hall=all_settings(db), windows=ws,
                           has_admin="/admin" in rules, has_tech="/tech" in rules)
    return _secure(Response(html, mimetype="text/html"))


@bp.get("/t")
def progress_box() -> Response:
    """The landing page's ticket-code box: ``/t?code=XXXX`` → ``/t/XXXX``."""
    code = (request.args.get("code") or "").strip()
    if not code:
        return _secure(redirect("/", code=303))  # type: ignore[arg-type]
    return _secure(redirect("/t/" + quote(code[:64], safe=""), code=303))  # type: ignore[arg-type]
