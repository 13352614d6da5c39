"""What one citizen did at the kiosk (:class:`Session`) and what the ticket screen shows
(:class:`TicketResult`). A leaf module: the flows and the facade (``kiosk.flows.session``)
import it; it imports none of them, so no flow imports the facade that creates it."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from kiosk.client import Service, Ticket
from kiosk.flows.printer import PrintOutcome
from kiosk.flows.swipe import CardData


@dataclass
class TicketResult:
    """What the ticket screen shows: the ticket, how printing went, and why it was issued."""

    ticket: Ticket
    service_name: str
    service_name_en: str = ""
    priority: str | None = None
    checked_in: bool = False
    notice_key: str | None = None   # an i18n key to show above the number (e.g. not elderly)
    print_outcome: PrintOutcome | None = None   # None while printing

    def service_label(self, lang: str) -> str:
        return self.service_name_en if lang == "en" and self.service_name_en else self.service_name


@dataclass
class Session:
    """One citizen at the kiosk. Never outlives ``Kiosk.wipe``."""

    lang: str = "zh"
    elder: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    category: str | None = None
    service: Service | None = None
    priority: str | None = None
    card: CardData | None = None
    #: How the identity check ended for this session's ticket (``face``, ``card_only``,
    #: ``manual``; None: no identity check), and why a window must see the citizen (转人工).
    identity_method: str | None = None
    referral_reason: str | None = None
    #: i18n key of the notice the ticket screen shows once the pending ticket is issued.
    pending_notice: str | None = None
    result: TicketResult | None = None
    #: A check-in refused as late (the server's details: slot, minutes_late, service_name …,
    #: and the code or ID number it was asked with) while the citizen chooses.
    late_checkin: dict[str, object] | None = None
    #: Idempotency key of the ticket request of this session: retries reuse it.
    request_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: Keys of this session's requests by what they asked (memory only): see :meth:`key_for`.
    request_keys: dict[str, str] = field(default_factory=dict, repr=False)

    def key_for(self, *request: object) -> str:
        """The Idempotency-Key of a request asking ``request``: a retry of the same request
        reuses it (the server answers with the first ticket); a different request — the
        citizen went back and chose another service after a timeout — gets a new one, since
        the server refuses a key reused with another request (``idempotency_key_reused``).
        The first request of the session uses :attr:`request_key`."""
        digest = hashlib.sha256(repr(request).encode("utf-8")).hexdigest()
        if digest not in self.request_keys:
            self.request_keys[digest] = self.request_key if not self.request_keys else uuid.uuid4().hex
        return self.request_keys[digest]
