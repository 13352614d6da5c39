"""预约签到: swipe the ID card (today's appointment is found by the card's number), scan the
booking's QR (its text is the code), or type the code / ID number on the keypad.

Too early: the server's ``appointment_too_early`` says from what time check-in opens (the
screen shows it). Late: the server answers ``appointment_late``; the flow keeps what it was
(:attr:`CheckInFlow.late`) and the citizen chooses — :meth:`CheckInFlow.accept_ordinary`
(an ordinary ticket of the same service) or cancel. A cancelled appointment shows the
server's own message."""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlparse

from kiosk.errors import InputInvalid, ServerRejected
from kiosk.flows.keypad import KeypadInput
from kiosk.flows.state import TicketResult
from kiosk.flows.swipe import CardData, NoCardReader

if TYPE_CHECKING:
    from kiosk.flows.session import Kiosk

_CODE = re.compile(r"^[A-Za-z0-9]{4,32}$")


def code_from_scan(payload: str) -> str:
    """The appointment code in a scanned QR: a bare code, ``…?code=X`` or ``…/a/X``."""
    text = payload.strip()
    if "://" in text:
        url = urlparse(text)
        q = parse_qs(url.query).get("code")
        text = q[0] if q else url.path.rstrip("/").rsplit("/", 1)[-1]
    if not _CODE.match(text):
        raise InputInvalid(f"not an appointment QR: {payload[:40]!r}", code="scan_not_appointment")
    return text.upper()


class CheckInFlow:
    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk
        self.input = KeypadInput("code")
        self._lock = threading.Lock()

    def set_mode(self, kind: str) -> None:
        """``code`` or ``id``; clears what was typed."""
        if kind not in ("code", "id"):
            raise ValueError(kind)
        self.input = KeypadInput(kind)

    def submit(self) -> TicketResult:
        done = self.kiosk.session.result
        if done is not None:  # a second tap after the check-in went through
            return done
        value = self.input.validated()
        if self.input.kind == "id":
            return self._check_in(id_number=value)
        return self._check_in(code=value)

    def submit_scan(self, payload: str) -> TicketResult:
        return self._check_in(code=code_from_scan(payload))

    # -- the ID card ---------------------------------------------------------------------
    def can_read_cards(self) -> bool:
        """This kiosk has a working ID-card reader (check-in by swiping is offered)."""
        return not isinstance(self.kiosk.card_reader, NoCardReader) and self.kiosk.devices.usable("idcard")

    def wait_for_card(self, stop: threading.Event) -> CardData | None:
        """Wait (in a worker thread) until a card is on the reader or ``stop`` is set."""
        if not self.can_read_cards():
            return None
        while not stop.is_set():
            card = self.kiosk.card_reader.read_card(1.0)
            if card is not None:
                return card
        return None

    def stop_waiting_for_card(self) -> None:
        self.kiosk.card_reader.cancel()

    def submit_card(self, card: CardData) -> TicketResult:
        """Check in today's appointment of the card's holder (found by the ID number)."""
        return self._check_in(id_number=card.id_number)

    # -- a missed slot -------------------------------------------------------------------
    @property
    def late(self) -> dict[str, object] | None:
        """The missed slot the citizen is choosing about: ``slot``, ``minutes_late``,
        ``service_name``/``service_name_en`` and how the check-in was asked (None: none)."""
        return self.kiosk.session.late_checkin

    def accept_ordinary(self) -> TicketResult:
        """The citizen chose the ordinary ticket of the same service after a missed slot."""
        late = self.late
        if late is None:
            raise InputInvalid("no missed appointment to accept", code="appointment_code_invalid")
        return self._check_in(code=late.get("code") or None,  # type: ignore[arg-type]
                              id_number=late.get("id_number") or None,  # type: ignore[arg-type]
                              accept_ordinary=True)

    def _check_in(self, *, code: str | None = None, id_number: str | None = None,
                  accept_ordinary: bool = False) -> TicketResult:
        with self._lock:
            s = self.kiosk.session
            if s.result is not None:
                return s.result
            try:
                ticket = self.kiosk.client.check_in(code=code, id_number=id_number,
                                                    idempotency_key=s.key_for("check_in", code, id_number,
                                                                              accept_ordinary),
                                                    accept_ordinary=accept_ordinary)
            except ServerRejected as exc:
                if exc.code == "appointment_late" and self.kiosk.session is s:
                    s.late_checkin = {**exc.details, "code": code, "id_number": id_number}
                raise
            name, name_en = ticket.service_name, ticket.service_name_en
            if not name:
                svc = self.kiosk.catalog.cached_service(ticket.service)
                if svc is not None:
                    name, name_en = svc.name, svc.name_en
            result = TicketResult(ticket, name or ticket.service, name_en, checked_in=True)
            if self.kiosk.session is s:
                s.result = result
                self.input.clear()
            return result
