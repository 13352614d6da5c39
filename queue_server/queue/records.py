"""Audit record kinds of the queue: the catalogue editing functions
(:mod:`queue_server.queue.catalog`), the clerk's 特呼 (:func:`queue_server.queue.lifecycle.call_number`)
and cancelling a ticket away from one's own window (:func:`queue_server.queue.lifecycle.cancel`).

Each carries the item's key and its state before and after the change, as the admin API
shows it (``before`` is None for a new item), so a change can be undone from its record
(``queue_server/admin/undo.py`` applies ``before`` through the same function, and the undo
is itself a record whose ``undo_of`` names the record it undid). Catalogue items hold no
personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from queue_server.audit.records import AuditRecord, record_type


@record_type
@dataclass(frozen=True)
class CategoryChanged(AuditRecord):
    """A business category (业务类别) was added, edited (code, name, English name, prefix,
    order) or removed (``after`` None: only an unused one, by undoing its creation)."""

    kind: ClassVar[str] = "category.changed"
    category: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    undo_of: int | None = None


@record_type
@dataclass(frozen=True)
class ServiceChanged(AuditRecord):
    """A service (事项) was added or edited (name, category, prefix, self-service, per-ID
    daily limit, average minutes, active, order)."""

    kind: ClassVar[str] = "service.changed"
    service: str
    before: dict[str, Any] | None
    after: dict[str, Any]
    undo_of: int | None = None


@record_type
@dataclass(frozen=True)
class WindowChanged(AuditRecord):
    """A window was added or reconfigured (name, services in priority order, kind — normal,
    universal or green channel), or an admin opened, paused or closed it (``status``,
    ``pause_reason``), or it was removed (``after`` None: only an unused one, by undoing its
    creation)."""

    kind: ClassVar[str] = "window.changed"
    window: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    undo_of: int | None = None


@record_type
@dataclass(frozen=True)
class AppointmentChanged(AuditRecord):
    """An appointment was booked (``before`` None) — by staff on the admin page, by the booking
    platform (``POST /api/appointments``) or by ``queue-server appointments import`` — or cancelled:
    the appointment's id, code, service, day, slot and status — no name, no ID."""

    kind: ClassVar[str] = "appointment.changed"
    appointment_id: int
    code: str
    before: dict[str, Any] | None
    after: dict[str, Any]


@record_type
@dataclass(frozen=True)
class TicketSpecialCalled(AuditRecord):
    """A clerk called one ticket out of order (特呼) at a window: the ticket (id and number),
    the window, the clerk's user id (None for an admin or a device token), the reason the
    clerk gave ('' if none) and the ticket's status before (``waiting`` or ``no_show``)."""

    kind: ClassVar[str] = "ticket.special_call"
    ticket: int
    number: str
    window: int
    clerk_user_id: int | None
    reason: str
    was: str


@record_type
@dataclass(frozen=True)
class TicketCancelledElsewhere(AuditRecord):
    """A member of staff cancelled a ticket with a reason: a waiting ticket that was not for
    a window they have open (``own_window`` false; the reason is required then), or their
    own with a reason given. ``window`` is the window the ticket was at or for, if any."""

    kind: ClassVar[str] = "ticket.cancelled_elsewhere"
    ticket_id: int
    number: str
    day: str
    window: int | None
    reason: str
    own_window: bool
