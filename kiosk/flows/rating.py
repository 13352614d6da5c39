"""好差评 at the kiosk: the rating screen that comes straight after a kiosk transaction
(秒批, 亮证, 打证 — the local kiosk standard DB2203/T 8-2024 §5.1.3), in Chinese, English
and elder mode.

A flow that has finished a transaction hands over the case number and goes to the
``rating`` screen::

    self.kiosk.rating.begin(case="SP20261202000001", service_name="个人参保缴费证明打印",
                            service_name_en="Social insurance payment certificate",
                            evaluator=identity.name_masked)   # masked, or "" = anonymous
    self.go("rating")

The citizen may rate (five levels, the same size and weight, none preselected), give
reasons only after a 差评 (levels 1–2, at least one, from the server's list), or leave
without rating — then the service stays 未评价. No Kivy here; the screen only translates.
The state is the citizen's and goes with the session (:meth:`reset` runs on every wipe).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiosk.i18n import tr

if TYPE_CHECKING:
    from kiosk.flows.session import Kiosk

#: The levels in the order offered (5 非常满意 … 1 非常不满意).
LEVELS = (5, 4, 3, 2, 1)
#: Seconds the reason list is kept before it is asked for again.
REASONS_TTL = 600.0
#: Seconds the thanks stay on screen before the session ends.
THANKS_SECONDS = 6.0
#: Reasons per page (standard, elder mode).
REASONS_PAGE = (10, 4)


@dataclass
class RatingTarget:
    """What is being rated: a kiosk case by number (or a finished ticket by id)."""

    case: str | None = None
    ticket: int | None = None
    service_name: str = ""
    service_name_en: str = ""
    evaluator: str = ""   # masked (张*三) or "" = anonymous; never a full name

    def label(self, lang: str) -> str:
        return self.service_name_en if lang == "en" and self.service_name_en else self.service_name


@dataclass
class RatingState:
    target: RatingTarget | None = None
    level: int | None = None
    chosen: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None


class RatingFlow:
    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk
        self.state = RatingState()
        self._reasons: list[dict[str, str]] = []
        self._reasons_at = -REASONS_TTL
        kiosk.on_wipe.append(self.reset)

    # -- the calling flow ----------------------------------------------------------------
    def begin(self, *, case: str | None = None, ticket: int | None = None, service_name: str = "",
              service_name_en: str = "", evaluator: str = "") -> None:
        """Set what the rating screen rates (call before ``go("rating")``)."""
        if (case is None) == (ticket is None):
            raise ValueError("rate exactly one of a case or a ticket")
        self.state = RatingState(target=RatingTarget(case, ticket, service_name, service_name_en, evaluator))

    def reset(self) -> None:
        self.state = RatingState()

    @property
    def target(self) -> RatingTarget | None:
        return self.state.target

    # -- choices ---------------------------------------------------------------------------
    @staticmethod
    def level_label(level: int, lang: str) -> str:
        return tr(f"rating.level{level}", lang)

    @staticmethod
    def is_bad(level: int) -> bool:
        return level <= 2

    def choose(self, level: int) -> bool:
        """The citizen tapped a level; True when reasons must follow (差评)."""
        if level not in LEVELS:
            raise ValueError(level)
        self.state.level = level
        self.state.chosen = []
        return self.is_bad(level)

    def toggle(self, code: str) -> bool:
        """Choose or un-choose a reason; whether it is chosen now."""
        if code in self.state.chosen:
            self.state.chosen.remove(code)
            return False
        self.state.chosen.append(code)
        return True

    @property
    def can_submit(self) -> bool:
        level = self.state.level
        return self.state.target is not None and level is not None and (
            not self.is_bad(level) or bool(self.state.chosen))

    def reason_label(self, reason: dict[str, str], lang: str) -> str:
        return (reason.get("name_en") or reason["name"]) if lang == "en" else reason["name"]

    # -- network (worker thread) -------------------------------------------------------------
    def reasons(self) -> list[dict[str, str]]:
        """The server's current reason list (cached for :data:`REASONS_TTL` seconds)."""
        now = time.monotonic()
        if not self._reasons or now - self._reasons_at > REASONS_TTL:
            self._reasons = list(self.kiosk.client.evaluation_reasons().get("reasons", []))
            self._reasons_at = now
        return self._reasons

    def submit(self) -> dict[str, Any]:
        """Send the evaluation (channel ``kiosk``); the server's answer."""
        t, level = self.state.target, self.state.level
        if t is None or level is None or not self.can_submit:
            raise ValueError("nothing to submit")
        if self.state.result is not None:      # a double tap: the first one counted
            return self.state.result
        self.state.result = self.kiosk.client.evaluate(
            level=level, case=t.case, ticket=t.ticket,
            reasons=list(self.state.chosen) if self.is_bad(level) else None, evaluator=t.evaluator or None)
        return self.state.result
