"""Audit record kinds of the device-health capability (listed in ``docs/audit.md``).

A technician acting on a device is recorded, like a setting change: who asked which device
to do what. Heartbeats are not audited (they are reports, not decisions); their changes are
``device.state_changed`` events and the device's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from queue_server.audit.records import AuditRecord, record_type


@record_type
@dataclass(frozen=True)
class DeviceActionRequested(AuditRecord):
    """A technician queued a test action for a device (``test_print``, ``probe_idcard``,
    ``reload_config``); the device carries it out at its next heartbeat."""

    kind: ClassVar[str] = "device.action_requested"
    device: str
    action: str
    action_id: int


@record_type
@dataclass(frozen=True)
class DeviceRemoved(AuditRecord):
    """A retired kiosk or display was removed from the device list (its history stays)."""

    kind: ClassVar[str] = "device.removed"
    device: str
    device_kind: str
