"""The ticket: the number huge, people ahead, estimated wait, a QR code for the progress
page, and how printing went. Printing starts when the screen opens, in the background;
the number is on screen before the printer has done anything (DESIGN §5)."""

from __future__ import annotations

import threading

from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty

from kiosk.flows.printer import PrintOutcome
from kiosk.flows.state import TicketResult
from kiosk.i18n import spoken_number
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen


@register("ticket")
class TicketScreen(KioskScreen):
    number = StringProperty("")
    """The ticket number, e.g. ``A012``."""

    title_text = StringProperty("")
    """取号成功 / 签到成功."""

    service_text = StringProperty("")
    """The service's name."""

    ahead_text = StringProperty("")
    """People ahead."""

    wait_text = StringProperty("")
    """Estimated wait."""

    notice_text = StringProperty("")
    """A notice from the flow (e.g. under 60: regular number)."""

    progress_url = StringProperty("")
    """Encoded in the QR code."""

    print_text = StringProperty("")
    """Printing… / take your ticket / failed + advice."""

    print_status = StringProperty("")
    """``printing``, ``printed``, ``failed``, ``disabled`` (tests and styling)."""

    print_failed = BooleanProperty(False)
    """True when printing failed: the advice is shown in the warning colour."""

    def refresh(self) -> None:
        result = self.kiosk.session.result
        if result is None:
            flow = self.kiosk.take_number
            if flow.ticket_pending():  # after the identity check: request the ticket here
                notice = self.kiosk.session.pending_notice
                self.run(lambda: flow.issue(notice_key=notice), lambda _r: self.refresh(),
                         busy_key="common.working")
            return
        self.show(result)
        self.kiosk.say("say.ticket", spoken=spoken_number(result.ticket.number),
                       n=result.ticket.waiting_ahead or 0)
        if result.print_outcome is None:
            self.print_status = "printing"
            # start after the frame with the number: the number first, then the paper
            Clock.schedule_once(lambda _dt: threading.Thread(
                target=self._print, args=(result,), daemon=True, name="kiosk-print").start())

    def show(self, result: TicketResult) -> None:
        lang = self.kiosk.lang
        tr = self.app.tr
        t = result.ticket
        self.number = t.number
        self.title_text = tr("ticket.checked_in" if result.checked_in else "ticket.title")
        if result.priority:
            self.title_text += f" · {tr('ticket.priority')}"
        self.service_text = tr("ticket.service", name=result.service_label(lang))
        ahead = t.waiting_ahead
        if ahead is None:
            self.ahead_text = ""
        elif ahead == 0:
            self.ahead_text = tr("ticket.ahead_zero")
        elif ahead == 1:
            self.ahead_text = tr("ticket.ahead_one")
        else:
            self.ahead_text = tr("ticket.ahead", n=ahead)
        wait = t.estimated_wait_minutes
        if wait is None:
            self.wait_text = tr("ticket.wait_unknown") if ahead else ""
        elif ahead:
            self.wait_text = tr("ticket.wait", m=max(1, int(round(wait))))
        else:
            self.wait_text = ""
        self.notice_text = tr(result.notice_key) if result.notice_key else ""
        self.progress_url = self.kiosk.progress_url(t)
        self.show_print(result.print_outcome)

    def show_print(self, outcome: PrintOutcome | None) -> None:
        lang = self.kiosk.lang
        if outcome is None:
            self.print_status = "printing"
            self.print_text = self.app.tr("ticket.printing")
            self.print_failed = False
            return
        self.print_status = outcome.status
        self.print_failed = outcome.status == "failed"
        advice = outcome.advice(lang)
        self.print_text = outcome.message(lang) + (f"\n{advice}" if advice else "")

    def _print(self, result: TicketResult) -> None:
        outcome = self.kiosk.print_result(result)
        Clock.schedule_once(lambda _dt: self._printed(result, outcome))

    def _printed(self, result: TicketResult, outcome: PrintOutcome) -> None:
        if self.kiosk.session.result is result and self.manager.current == self.name:
            self.show_print(outcome)

    def reset(self) -> None:
        super().reset()
        for prop in ("number", "title_text", "service_text", "ahead_text", "wait_text",
                     "notice_text", "progress_url", "print_text", "print_status"):
            setattr(self, prop, "")
        self.print_failed = False


load_kv(__file__)
