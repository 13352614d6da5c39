"""Idle timeout: idle → countdown → wipe (DESIGN §5), driven by an injected clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class IdleState:
    """``phase`` is ``active``, ``countdown`` (``seconds_left`` > 0) or ``expired``."""

    phase: str
    seconds_left: int = 0


class IdleTimer:
    """Counts time since the last touch.

    ``poke()`` on every touch; ``poll()`` from a periodic tick returns the state. After
    ``idle_seconds`` the countdown of ``countdown_seconds`` starts; when it reaches zero the
    state is ``expired`` once, and the timer disarms itself until ``arm()`` again (the home
    screen disarms it: there is nothing to wipe there).
    """

    def __init__(self, idle_seconds: float, countdown_seconds: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self.countdown_seconds = countdown_seconds
        self.clock = clock
        self.armed = False
        self._last = clock()

    def arm(self) -> None:
        self.armed = True
        self._last = self.clock()

    def disarm(self) -> None:
        self.armed = False

    def poke(self) -> None:
        self._last = self.clock()

    def poll(self) -> IdleState:
        if not self.armed:
            return IdleState("active")
        idle = self.clock() - self._last
        if idle < self.idle_seconds:
            return IdleState("active")
        left = self.idle_seconds + self.countdown_seconds - idle
        if left > 0:
            return IdleState("countdown", int(left + 0.999))
        self.armed = False
        return IdleState("expired")
