"""What the web pages' streams need from the rest of the server: a connection of their own
and the hall snapshot.

The one function that reads the hall state for the event stream (:func:`snapshot`) reads
it consistently: ``hall_state`` runs inside one read transaction, so ``last_event_id`` and
the rest describe the same moment, which lets a stream resume exactly after it.
"""

from __future__ import annotations

from sqlite_utils import Database

from queue_server.app import get_db
from queue_server.db import connect, db_path
from queue_server.queue import hall_state as snapshot

__all__ = ["snapshot", "stream_db"]


def stream_db() -> Database:
    """A connection of its own for a long-lived stream (closed by the stream)."""
    return connect(db_path(get_db()))
