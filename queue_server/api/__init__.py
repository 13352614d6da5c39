"""The JSON API (``/api/...``): ``routes`` (the blueprint), ``common`` (request helpers),
``errors`` (the error handlers) and ``openapi`` (the document at ``/api/openapi.json``).

Paths, roles and bodies are listed in ``docs/api.md``; the OpenAPI document is built from
:mod:`queue_server.api.openapi` and the app's URL map, so every route is described.
"""
