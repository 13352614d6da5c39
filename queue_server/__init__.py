"""一窗通 queue server.

The package face only re-exports :func:`~queue_server.app.create_app`, lazily, so that
``waitress-serve --call queue_server:create_app`` works while importing the engine
(``import queue_server.queue``, which runs this file first) never imports Flask.
See ``docs/architecture.md`` for the core and the capability folders.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from queue_server.app import create_app

        return create_app
    raise AttributeError(f"module 'queue_server' has no attribute {name!r}")
