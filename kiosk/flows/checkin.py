"""预约签到: scan the appointment QR, or type the code / ID number on the keypad."""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlparse

from kiosk.errors import InputInvalid
from kiosk.flows.keypad import KeypadInput
from kiosk.flows.state import TicketResult

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

    def _check_in(self, *, code: str | None = None, id_number: str | None = None) -> TicketResult:
        with self._lock:
            s = self.kiosk.session
            if s.result is not None:
                return s.result
            ticket = self.kiosk.client.check_in(code=code, id_number=id_number,
                                                idempotency_key=s.request_key)
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
