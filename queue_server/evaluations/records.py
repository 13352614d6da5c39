"""Audit record kinds of 好差评 (listed in ``docs/audit.md``). They refer to evaluation,
rectification, ticket, case and user ids only: no evaluator, no comment, no free text —
a step's text is recorded as its SHA-256 (``note_sha256``), so the trail proves what was
written without repeating it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from queue_server.audit.records import AuditRecord, record_type


@record_type
@dataclass(frozen=True)
class EvaluationCreated(AuditRecord):
    """An evaluation was recorded (window pad, kiosk, phone, or the answer to a follow-up).
    ``rectification_id``/``deadline``/``provisional`` are set when a 差评 opened a case."""

    kind: ClassVar[str] = "evaluation.created"
    evaluation_id: int
    count: int
    level: int
    channel: str
    channel_code: str
    service: str
    reasons: list[str]
    reasons_version: str | None
    realname: bool
    has_comment: bool
    ticket_id: int | None = None
    case: str | None = None
    window: int | None = None
    clerk_user_id: int | None = None
    rectification_id: int | None = None
    deadline: str | None = None
    provisional: bool | None = None


@record_type
@dataclass(frozen=True)
class RectificationStep(AuditRecord):
    """A step of the 差评 loop by a named member of staff (``user_id``; the actor too).
    ``deadline``/``provisional`` are the case's after the step; ``extension_days`` is set
    by ``extend``; ``second_evaluation_id`` when the follow-up recorded the evaluator's
    second evaluation."""

    kind: ClassVar[str] = "rectification.step"
    rectification_id: int
    evaluation_id: int
    step: str
    from_status: str
    to_status: str
    user_id: int | None
    deadline: str
    provisional: bool
    note_sha256: str | None = None
    extension_days: int | None = None
    follow_up_method: str | None = None
    follow_up_outcome: str | None = None
    second_evaluation_id: int | None = None


@record_type
@dataclass(frozen=True)
class RectificationDeadlineChanged(AuditRecord):
    """A provisional deadline was counted again because the working-day calendar changed
    (an admin entered holidays or 调休 days, or a newer calendar knows the year)."""

    kind: ClassVar[str] = "rectification.deadline_changed"
    rectification_id: int
    before: str
    after: str
    provisional: bool


@record_type
@dataclass(frozen=True)
class CalendarDayChanged(AuditRecord):
    """An admin entered or removed a holiday or 调休 working day for a year the official
    calendar library does not know yet."""

    kind: ClassVar[str] = "evaluations.calendar_day"
    day: str
    action: str
    day_kind: str | None = None


@record_type
@dataclass(frozen=True)
class ReasonListImported(AuditRecord):
    """A new version of the 差评 reason list became current."""

    kind: ClassVar[str] = "evaluations.reasons_imported"
    version: str
    codes: list[str]
    previous: str | None

    def data(self) -> dict[str, Any]:
        return {"version": self.version, "codes": list(self.codes), "previous": self.previous}
