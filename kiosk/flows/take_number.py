"""取号: category → service → (ID-card swipe) → ticket, with double-tap protection."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from kiosk.client import Service
from kiosk.errors import CardNotRead, InputInvalid, NoReader
from kiosk.flows.state import TicketResult
from kiosk.flows.swipe import CardData, NoCardReader, demo_card

if TYPE_CHECKING:
    from kiosk.flows.identity import VerifiedIdentity
    from kiosk.flows.session import Kiosk
    from kiosk.flows.state import Session

PRIORITIES = ("elderly", "disabled", "military")
ELDERLY_AGE = 60
#: Seconds one card read waits before the swipe step says so and offers a retry.
CARD_READ_SECONDS = 20.0


class TakeNumberFlow:
    """The steps of taking a number. ``issue()`` is idempotent within a session."""

    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk
        self._lock = threading.Lock()

    @property
    def session(self) -> Session:
        return self.kiosk.session

    def choose_priority(self, priority: str | None) -> None:
        if priority is not None and priority not in PRIORITIES:
            raise ValueError(priority)
        self.session.priority = priority

    def choose_category(self, code: str) -> None:
        self.session.category = code

    def choose_service(self, service: Service) -> str:
        """Remember the service; returns the next step: ``identity`` (the identity check,
        :meth:`begin_identity`), ``swipe`` or ``issue``."""
        self.session.service = service
        if self.needs_identity():
            return "identity"
        return "swipe" if self.needs_card() else "issue"

    def needs_identity(self) -> bool:
        """A priority ticket on a kiosk with the identity check switched on
        (``[identity] verify_face_for_priority``) goes card → consent → face."""
        s = self.session
        return (bool(s.priority) and s.card is None and self.kiosk.identity is not None
                and bool(self.kiosk.config.get("identity", "verify_face_for_priority"))
                and self.kiosk.devices.usable("camera"))  # a failed camera: the plain swipe

    def begin_identity(self) -> None:
        """Start the identity check; its result screen's 继续 leads to the ticket screen,
        which issues the ticket prepared by :meth:`identity_done`."""
        self.kiosk.card_reader.cancel()  # the swipe step's polling must not share the reader
        self.kiosk.identity.begin(on_done=self.identity_done, next_screen="ticket",
                                  purpose="priority_ticket")

    def identity_done(self, identity: VerifiedIdentity | None) -> None:
        """The identity check ended (``on_done``); prepares the ticket request.

        * ``face`` / ``card_only``: the card's ID number goes with the priority request
          (an elderly priority is still checked against the birth date);
        * ``manual`` (转人工 after the last failed attempt, expired card, …) or no readable
          card: a regular number for a window, carrying the reason for the clerk;
        * None without a referral: the citizen cancelled; nothing to prepare.
        """
        s = self.session
        if identity is None:
            referral = getattr(self.kiosk.identity, "referral", None)
            if referral is None:
                return
            s.identity_method = "manual"
            s.priority = None
            s.referral_reason = referral.zh
            s.pending_notice = "identity.referred"
            return
        s.identity_method = identity.method
        card = CardData(identity.id_number, identity.name)
        if identity.method in ("face", "card_only"):
            notice = self.card_read(card)
            s.pending_notice = notice or (
                "identity.card_only" if identity.method == "card_only" else None)
            return
        s.card = card
        s.priority = None
        ref = identity.referral
        s.referral_reason = ref[1] if ref else "人证核验未通过"
        s.pending_notice = "identity.referred"

    def ticket_pending(self) -> bool:
        """The identity check finished and the ticket is still to be requested."""
        s = self.session
        return s.result is None and s.service is not None and s.identity_method is not None

    def needs_card(self) -> bool:
        s = self.session
        if s.card is not None:
            return False
        return bool(s.priority) or bool(self.kiosk.config.get("kiosk", "require_id_swipe")) or (
            s.service is not None and s.service.id_required)

    def can_skip_card(self) -> bool:
        """The swipe step may offer a regular number without the card: the card was only
        asked for to prove a priority, and neither the hall (``kiosk.require_id_swipe``) nor
        the service (``id_required``) needs it."""
        s = self.session
        return bool(s.priority) and not bool(self.kiosk.config.get("kiosk", "require_id_swipe")) \
            and not (s.service is not None and s.service.id_required)

    def wait_for_card(self, timeout: float = CARD_READ_SECONDS) -> CardData:
        """Wait (in a worker thread) for a card on the reader; :class:`NoReader` when this
        kiosk has none, :class:`CardNotRead` when none arrived in ``timeout`` seconds."""
        reader = self.kiosk.card_reader
        if isinstance(reader, NoCardReader):
            raise NoReader()
        if not self.kiosk.devices.usable("idcard"):  # the watcher saw it fail: say so now
            raise NoReader("the device watcher reports the reader in error")
        card = reader.read_card(timeout)
        if card is None:
            raise CardNotRead()
        return card

    def skip_card(self) -> None:
        """A regular number without the card (:meth:`can_skip_card`): the priority goes and
        the wait for a card stops."""
        self.choose_priority(None)
        self.kiosk.card_reader.cancel()

    def stop_waiting_for_card(self) -> None:
        """The citizen left the swipe step: stop reading; a demo card leaves with them."""
        self.kiosk.card_reader.cancel()
        remove = getattr(self.kiosk.card_reader, "remove_card", None)
        if remove is not None:
            remove()

    @property
    def can_place_demo_card(self) -> bool:
        """The reader is the simulator (demo): a button may place a synthetic card."""
        return hasattr(self.kiosk.card_reader, "insert_demo_card") and bool(
            getattr(self.kiosk.card_reader, "simulated", False))

    def place_demo_card(self) -> bool:
        """Demo: a synthetic senior's card goes onto the simulated reader, where a waiting
        read picks it up through the real SAM protocol. False: the reader is not simulated."""
        if not self.can_place_demo_card:
            return False
        card, birth = demo_card(self.kiosk.today())
        self.kiosk.card_reader.insert_demo_card(card, birth)  # type: ignore[attr-defined]
        return True

    def card_read(self, card: CardData) -> str | None:
        """Keep the card for this session. Returns an i18n notice key, if any.

        An elderly priority is checked against the birth date on the card; a citizen
        under 60 gets a regular number and is told so (never a dead end).
        """
        self.session.card = card
        if self.session.priority == "elderly":
            age = card.age_on(self.kiosk.today())
            if age is None or age < ELDERLY_AGE:
                self.session.priority = None
                return "swipe.not_elderly"
        return None

    def issue(self, notice_key: str | None = None) -> TicketResult:
        """Ask the server for the ticket. A second call in the same session (a double tap,
        a retry racing the first request) returns the first ticket instead of a new one."""
        with self._lock:
            s = self.session
            if s.result is not None:
                return s.result
            if s.service is None:
                raise InputInvalid("no service chosen", code="no_service")
            id_number = s.card.id_number if s.card else None
            ticket = self.kiosk.client.issue_ticket(
                s.service.code,
                id_number=id_number,
                priority=s.priority,
                referral_reason=s.referral_reason,
                idempotency_key=s.key_for("issue", s.service.code, id_number, s.priority, s.referral_reason),
            )
            if self.kiosk.session is not s:  # wiped while the request was in flight
                return TicketResult(ticket, s.service.name, s.service.name_en, s.priority)
            s.result = TicketResult(ticket, s.service.name, s.service.name_en, s.priority,
                                    notice_key=notice_key)
            return s.result
