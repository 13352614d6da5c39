"""Waiting for a file descriptor to become readable or writable.

``select.select`` refuses descriptors numbered 1024 and above (FD_SETSIZE), which a
long-running server that holds many display streams, database files and device sockets can
reach; ``poll`` has no such limit. Every device driver waits through these two functions.
"""

from __future__ import annotations

import select
from typing import Protocol


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


def _wait(fd: int | _HasFileno, events: int, timeout: float) -> bool:
    poller = select.poll()
    poller.register(fd, events)
    ready = poller.poll(max(0, int(timeout * 1000 + 0.999)))
    if any(revents & select.POLLNVAL for _, revents in ready):
        raise ValueError("file descriptor is closed")  # as select.select says
    return bool(ready)


def readable(fd: int | _HasFileno, timeout: float) -> bool:
    """True when ``fd`` has data (or an end of file / error to report) within ``timeout`` s."""
    return _wait(fd, select.POLLIN | select.POLLPRI, timeout)


def writable(fd: int | _HasFileno, timeout: float) -> bool:
    """True when ``fd`` accepts a write within ``timeout`` s."""
    return _wait(fd, select.POLLOUT, timeout)
