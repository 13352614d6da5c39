"""One device health record for every device kind (a leaf module: device packages import it).

Every device package can say how it is, the same way::

    DeviceHealth(kind="printer", name="tcp://192.168.1.50:9100", state="warning",
                 detail="纸将用完 / paper near end", checked_at=1763856000.0)

==========  ===========================================================================
``kind``    :data:`KINDS`: ``printer``, ``idcard``, ``camera``, ``scanner``, ``voice``
``name``    which device: its URL, port, camera source or clip folder
``state``   :data:`STATES`: ``ok``; ``warning`` (works, needs attention soon: paper near
            end); ``error`` (cannot work: offline, paper out, no frames, missing clips);
            ``unknown`` (cannot tell: a printer that does not answer its status)
``detail``  what was seen, in words for a technician
``checked`` ``checked_at``: Unix time of the check
==========  ===========================================================================

Who produces them: ``hardware.printer.health`` (DLE EOT status), ``hardware.idcard.health``
(a SAM probe), ``hardware.camera.health`` (one frame grabbed), ``hardware.scanner.health``
(the port opens), ``hardware.voice.health`` (every clip present and readable);
``python -m hardware health`` prints them all for a kiosk's configuration.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("printer", "idcard", "camera", "scanner", "voice")
STATES = ("ok", "warning", "error", "unknown")


@dataclass(frozen=True)
class DeviceHealth:
    """How one device is, at ``checked_at``."""

    kind: str
    name: str
    state: str
    detail: str = ""
    checked_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"device kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.state not in STATES:
            raise ValueError(f"device state {self.state!r} is not one of {', '.join(STATES)}")

    @property
    def ok(self) -> bool:
        """Usable now: ``ok`` or ``warning``."""
        return self.state in ("ok", "warning")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
