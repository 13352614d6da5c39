"""The JSON API blueprint (``/api/...``) and its OpenAPI document (``/api/openapi.json``).

Paths, roles and bodies are listed in ``docs/api.md``; the OpenAPI document is built
from :mod:`queue_server.api.openapi` and the app's URL map, so every route is described.
"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from queue_server.api import openapi, routes  # noqa: E402,F401
