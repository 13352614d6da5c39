"""The server's background threads share one shape: started once, stopped by an event,
daemon so a dying server never waits for them. Subclasses implement :meth:`run`, which
loops until ``self.stopping`` is set (``self.stopping.wait(seconds)`` is the sleep)."""

from __future__ import annotations

import threading
from typing import TypeVar

T = TypeVar("T", bound="BackgroundThread")


class BackgroundThread:
    #: The thread's name (shows in stack dumps and ``py-spy``).
    name = "background"

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self: T) -> T:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def run(self) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError
