"""Audit record kinds of the admin capability (staff accounts, appointments booked by staff).

Records never carry a person's name or ID: a staff account is its user id, with its role,
staff number (工号) and whether it is active; a change of the display name is noted by
field name only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from queue_server.audit.records import AuditRecord, record_type
from queue_server.queue.records import AppointmentChanged  # noqa: F401  (kept here for its importers)


@record_type
@dataclass(frozen=True)
class UserChanged(AuditRecord):
    """A staff account was edited: ``before``/``after`` hold ``role``, ``active`` and
    ``staff_no``; ``fields`` names every field that changed (``display_name`` by name only)."""

    kind: ClassVar[str] = "user.changed"
    user_id: int
    before: dict[str, Any]
    after: dict[str, Any]
    fields: list[str] = field(default_factory=list)
    undo_of: int | None = None


@record_type
@dataclass(frozen=True)
class PasswordReset(AuditRecord):
    """An admin set a one-time password for a staff account (shown once, never recorded);
    the account's login sessions were ended."""

    kind: ClassVar[str] = "user.password_reset"
    user_id: int
    sessions_ended: int = 0


@record_type
@dataclass(frozen=True)
class PasswordChanged(AuditRecord):
    """A member of staff changed their own password."""

    kind: ClassVar[str] = "user.password_changed"
    user_id: int
