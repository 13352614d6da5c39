"""Work slots that a blocked wait gives back.

The API runs a couple of requests at a time per process (``API_CONCURRENCY``,
:func:`queue_server.api.common.roles`): more would only fight for the GIL. A request that
*waits* — for a calculation another request is making for both of them — should not keep
its slot meanwhile, or the requests that could share that calculation never start. Engine
code wraps such waits in :func:`released`; outside an API request it does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


@contextmanager
def holding(slot: threading.Semaphore) -> Iterator[None]:
    """Hold ``slot`` for the block; :func:`released` inside it lends it out."""
    slot.acquire()
    _local.slot = slot
    try:
        yield
    finally:
        _local.slot = None
        slot.release()


@contextmanager
def released() -> Iterator[None]:
    """Give this thread's slot back for a blocking wait, and take one again after it."""
    slot: threading.Semaphore | None = getattr(_local, "slot", None)
    if slot is None:
        yield
        return
    slot.release()
    try:
        yield
    finally:
        slot.acquire()
