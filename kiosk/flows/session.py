"""The kiosk facade and the per-citizen session.

One :class:`Kiosk` per process owns the client, the printer, the card reader, the
speaker, the catalog and the idle timer; a :class:`Session` holds what one citizen did
and is replaced wholesale by :meth:`Kiosk.wipe` (ID data, selections and results go with
it: DESIGN §5, §11). Screens receive the ``Kiosk`` and never keep citizen data themselves.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.client import QueueClient, Service, Ticket
from kiosk.config import KioskConfig
from kiosk.flows.catalog import PAGE_SIZE, Catalog
from kiosk.flows.idle import IdleTimer
from kiosk.flows.swipe import CardData, CardReader, open_card_reader
from kiosk.i18n import tr
from kiosk.printing import KioskPrinter, PrintOutcome
from kiosk.voice import SilentSpeaker, Speaker

HALL_TZ = ZoneInfo("Asia/Shanghai")


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
    """One citizen at the kiosk. Never outlives :meth:`Kiosk.wipe`."""

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
    #: Idempotency key of the ticket request of this session: retries reuse it.
    request_key: str = field(default_factory=lambda: uuid.uuid4().hex)


class Kiosk:
    """Everything a screen may call. Thread-safe where the screens use worker threads."""

    def __init__(self, config: KioskConfig, client: QueueClient | None = None, *,
                 printer: KioskPrinter | None = None, card_reader: CardReader | None = None,
                 speaker: Speaker | None = None, clock: Callable[[], float] = time.monotonic,
                 today: Callable[[], dt.date] | None = None) -> None:
        from kiosk.flows.checkin import CheckInFlow
        from kiosk.flows.progress import ProgressFlow
        from kiosk.flows.rating import RatingFlow
        from kiosk.flows.take_number import TakeNumberFlow

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
        #: The identity check (``kiosk.flows.identity.IdentityFlow``) when this kiosk has
        #: one; built at start-up off the UI thread (``kiosk.flows.identity.attach_identity``:
        #: loading the face models takes seconds), sharing ``card_reader.device``.
        #: None: no identity check (priority tickets use the plain swipe).
        self.identity: Any = None

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

    # -- helpers -------------------------------------------------------------------------
    def progress_url(self, ticket: Ticket) -> str:
        """The citizen-facing progress page encoded in the ticket's QR code."""
        return f"{self.config.server_url}/t/{ticket.progress_code}" if ticket.progress_code else ""

    def print_result(self, result: TicketResult) -> PrintOutcome:
        """Print the ticket on the kiosk's printer; stores and returns the outcome."""
        outcome = self.printer.print_ticket(
            result.ticket, hall_name=self.config.hall_name,
            progress_url=self.progress_url(result.ticket),
            service_name=result.service_name, service_name_en=result.service_name_en,
            lang=self.lang)
        result.print_outcome = outcome
        return outcome
