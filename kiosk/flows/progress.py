"""排队查询: scan the ticket's QR code or type the number, see the place in the queue."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kiosk.client import Ticket
from kiosk.errors import InputInvalid
from kiosk.flows.keypad import TICKET_NUMBER, KeypadInput
from kiosk.i18n import tr

if TYPE_CHECKING:
    from kiosk.flows.session import Kiosk

_PROGRESS_URL = re.compile(r"/t/([A-Za-z0-9_-]{4,64})/?$")


#: Letters every hall's numbers may start with besides its categories': the on-time
#: appointment prefix (Y) and the green channel's (V), the server's defaults.
SPECIAL_LETTERS = ("V", "Y")
#: When nothing is known yet (server down at start-up).
DEFAULT_LETTERS = ("A", "B", "C", "D")


class ProgressFlow:
    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk
        self.input = KeypadInput("number")
        self._letters: list[str] = []

    def letters(self) -> list[str]:
        """The keypad's letters now, without a request: what the server said
        (``GET /api/prefixes``), else the catalogue's prefixes with Y and V."""
        if self._letters:
            return list(self._letters)
        known = set(self.kiosk.catalog.prefixes() or DEFAULT_LETTERS)
        return sorted(known | set(SPECIAL_LETTERS))

    def load_letters(self) -> list[str]:
        """Ask the server for every first letter of its ticket numbers (worker thread)."""
        letters = self.kiosk.client.prefixes()
        if letters:
            self._letters = sorted(set(letters))
        return self.letters()

    def lookup_typed(self) -> Ticket:
        return self.kiosk.client.ticket_by_number(self.input.validated())

    def lookup_scan(self, payload: str) -> Ticket:
        """A scanned ticket QR (``…/t/<progress_code>``) or a scanned/typed number."""
        text = payload.strip()
        m = _PROGRESS_URL.search(text.split("?", 1)[0])
        if m:
            return self.kiosk.client.progress(m.group(1))
        if TICKET_NUMBER.match(text.upper()):
            return self.kiosk.client.ticket_by_number(text.upper())
        raise InputInvalid(f"not a ticket QR: {text[:40]!r}", code="scan_not_ticket")

    def status_text(self, ticket: Ticket, lang: str) -> str:
        """One line for the citizen: waiting / go to window N / finished …"""
        key = f"progress.status.{ticket.status}"
        if ticket.status == "called":
            window = ticket.window_name or (
                tr("progress.window", lang, n=ticket.window) if ticket.window else "")
            return tr(key, lang, window=window)
        try:
            return tr(key, lang)
        except KeyError:
            return ticket.status
