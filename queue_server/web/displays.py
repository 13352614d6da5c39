"""Hall display, window display, SSE event stream, announcement audio."""

from flask import Blueprint

bp = Blueprint("displays", __name__)
