"""The kiosk facade and the per-citizen session.

One :class:`Kiosk` per process owns the client, the printer, the card reader, the
speaker, the catalog and the idle timer; a :class:`Session` holds what one citizen did
and is replaced wholesale by :meth:`Kiosk.wipe` (ID data, selections and results go with
it: DESIGN §5, §11). Screens receive the ``Kiosk`` and never keep citizen data themselves.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.client import QueueClient, Ticket
from kiosk.config import KioskConfig
from kiosk.flows.approval import ApprovalFlow
from kiosk.flows.catalog import PAGE_SIZE, Catalog
from kiosk.flows.checkin import CheckInFlow
from kiosk.flows.devices import DeviceWatcher
from kiosk.flows.idle import IdleTimer
from kiosk.flows.printer import KioskPrinter, PrintOutcome
from kiosk.flows.progress import ProgressFlow
from kiosk.flows.rating import RatingFlow
from kiosk.flows.state import Session, TicketResult
from kiosk.flows.swipe import CardReader, open_card_reader
from kiosk.flows.take_number import TakeNumberFlow
from kiosk.i18n import tr
from kiosk.voice import SilentSpeaker, Speaker

__all__ = ["HALL_TZ", "Kiosk", "Session", "TicketResult"]

HALL_TZ = ZoneInfo("Asia/Shanghai")

log = logging.getLogger(__name__)


class Kiosk:
    """Everything a screen may call. Thread-safe where the screens use worker threads."""

    def __init__(self, config: KioskConfig, client: QueueClient | None = None, *,
                 printer: KioskPrinter | None = None, card_reader: CardReader | None = None,
                 speaker: Speaker | None = None, clock: Callable[[], float] = time.monotonic,
                 today: Callable[[], dt.date] | None = None) -> None:
        self.config = config
        self.client = client or QueueClient(config.server_url, config.token,
                                            float(config.get("server", "timeout")))
        self.printer = printer or KioskPrinter.from_config(config.section("printer"))
        self.card_reader: CardReader = card_reader or open_card_reader(config.section("idcard"))
        self.speaker = speaker or SilentSpeaker()
        self.clock = clock
        self.today = today or (lambda: dt.datetime.now(HALL_TZ).date())
        self.catalog = Catalog(self.client, clock=clock)
        self.idle = IdleTimer(float(config.get("kiosk", "idle_seconds")),
                              int(config.get("kiosk", "countdown_seconds")), clock)
        self.session = Session(lang=config.language)
        self.take_number = TakeNumberFlow(self)
        self.checkin = CheckInFlow(self)
        self.progress = ProgressFlow(self)
        #: Called after every wipe (the app returns to the home screen).
        self.on_wipe: list[Callable[[], None]] = []
        #: 好差评 after a kiosk transaction (forgets its state on every wipe).
        self.rating = RatingFlow(self)
        self.approval = ApprovalFlow(self)
        #: The identity check (``kiosk.flows.identity.IdentityFlow``) when this kiosk has
        #: one; built at start-up off the UI thread (``kiosk.flows.identity.attach_identity``:
        #: loading the face models takes seconds), sharing ``card_reader.device``.
        #: None: no identity check (priority tickets use the plain swipe).
        self.identity: Any = None
        #: While the identity check is being built at start-up (``yichuang-kiosk``), and why
        #: it could not be, if so: the device watcher reports the camera accordingly.
        self.identity_loading = False
        self.identity_error = ""
        #: The device watcher (checks, heartbeats, test actions); ``yichuang-kiosk`` starts it.
        self.devices = DeviceWatcher(self)
        self._audit_posts: list[threading.Thread] = []

    # -- session -------------------------------------------------------------------------
    @property
    def lang(self) -> str:
        return self.session.lang

    @property
    def elder(self) -> bool:
        return self.session.elder

    def set_language(self, lang: str) -> None:
        if lang not in ("zh", "en"):
            raise ValueError(lang)
        self.session.lang = lang

    def toggle_language(self) -> str:
        self.set_language("en" if self.lang == "zh" else "zh")
        return self.lang

    def set_elder(self, on: bool) -> None:
        self.session.elder = on
        key = "elder_idle_seconds" if on else "idle_seconds"
        self.idle.idle_seconds = float(self.config.get("kiosk", key))
        if on:
            self.say("say.home")

    def wipe(self) -> None:
        """End the session: forget everything about the citizen, back to the defaults."""
        self.session = Session(lang=self.config.language)
        self.checkin.set_mode("code")      # typed codes / ID numbers go with the session
        self.progress.input.clear()
        self.idle.idle_seconds = float(self.config.get("kiosk", "idle_seconds"))
        self.idle.disarm()
        self.speaker.stop()
        for callback in list(self.on_wipe):
            callback()

    def page_size(self, what: str) -> int:
        normal, elder = PAGE_SIZE[what]
        return elder if self.elder else normal

    # -- speech --------------------------------------------------------------------------
    @property
    def speech_on(self) -> bool:
        return self.elder and bool(self.config.get("kiosk", "speech"))

    def say(self, key: str, **fields: object) -> None:
        """Speak a prompt in elder mode (nothing otherwise); never blocks."""
        if self.speech_on:
            self.speaker.say(tr(key, self.lang, **fields), self.lang)

    # -- audit ---------------------------------------------------------------------------
    def report_identity_check(self, record: dict[str, Any]) -> None:
        """An identity check ended (``IdentityFlow``'s audit callback): log it and post it to
        the server's audit trail in the background. A failure to post is logged and never
        blocks or fails the citizen's session."""
        log.info("identity check %s", record)

        def post() -> None:
            try:
                self.client.post_identity_check(record)
            except Exception as exc:  # server down, token revoked, …: the citizen goes on
                log.warning("identity check not posted to the audit trail: %s", exc)

        thread = threading.Thread(target=post, name="identity-audit", daemon=True)
        self._audit_posts = [t for t in self._audit_posts if t.is_alive()] + [thread]
        thread.start()

    def wait_for_audit(self, timeout: float = 10.0) -> None:
        """Wait until the identity checks reported so far were posted (tests, shutdown)."""
        while self._audit_posts:
            self._audit_posts.pop(0).join(timeout)

    # -- helpers -------------------------------------------------------------------------
    def progress_url(self, ticket: Ticket) -> str:
        """The citizen-facing progress page encoded in the QR code: the one on the ticket's
        receipt (the server's ``public_url``), else this kiosk's server address."""
        receipt_url = str((ticket.receipt or {}).get("progress_url") or "")
        if receipt_url:
            return receipt_url
        return f"{self.config.server_url}/t/{ticket.progress_code}" if ticket.progress_code else ""

    def print_result(self, result: TicketResult) -> PrintOutcome:
        """Print the ticket's receipt — what the server says the ticket says — on the kiosk's
        printer; stores and returns the outcome. (A server without receipts: the number.)"""
        ticket = result.ticket
        outcome = self.printer.print_receipt(ticket.receipt or {"number": ticket.number})
        result.print_outcome = outcome
        self.devices.report_print(outcome)  # a failure reaches /tech now, not at the next beat
        return outcome
