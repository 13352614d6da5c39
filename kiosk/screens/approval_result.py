"""The decision, moments after 同意并查询: approved — the certificate is printing at the
kiosk's printer through the server's queue, with the verification QR on screen too (and, for
an item whose result is a licence, a line saying the e-licence is now under 亮证); or
referred — the 一次性告知 (what did not pass, what to bring, which window) and the queue
number for that window. 完成 leads to the rating of the case (好差评)."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty

from kiosk.client import Ticket
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen

#: Seconds between looks at the server print job, and how long to keep looking.
PRINT_POLL = 0.7
PRINT_WAIT = 20.0


@register("approval_result")
class ApprovalResultScreen(KioskScreen):
    back_target = "approval_consent"

    decision = StringProperty("")
    """``approved``, ``referred`` or "" while deciding."""

    title_text = StringProperty("")
    """已通过 / 需工作人员审核."""

    hint_text = StringProperty("")
    """What happens next."""

    case_text = StringProperty("")
    """办件编号 SP…"""

    reasons_text = StringProperty("")
    """Referred: what did not pass (numbered), what to bring, which window; approved: the outputs."""

    number = StringProperty("")
    """The referral's queue number."""

    qr_data = StringProperty("")
    """Approved: the verification URL; referred: the ticket's progress page."""

    qr_text = StringProperty("")
    """What scanning the QR does."""

    print_text = StringProperty("")
    """How printing goes."""

    print_failed = BooleanProperty(False)
    """Printing failed or there is no printer: shown as advice."""

    _poll: Any = None
    _poll_until = 0.0

    def refresh(self) -> None:
        flow = self.kiosk.approval
        r = flow.state.result
        if r is None:
            self.decision = ""
            self.title_text = ""
            self.run(flow.submit, lambda _r: self.refresh(), busy_key="approval.deciding")
            return
        self.show(r)

    def show(self, r: dict[str, Any]) -> None:
        tr = self.app.tr
        lang = self.kiosk.lang
        item = self.kiosk.approval.state.item
        en = lang == "en"
        self.decision = str(r.get("decision") or "")
        self.case_text = tr("approval.case", case=r.get("case", ""))
        if self.decision == "approved":
            cert = r.get("certificate") or {}
            result_name = (item.result_en if en and item and item.result_en else item.result) if item else ""
            self.title_text = tr("approval.approved")
            self.hint_text = tr("approval.approved_hint", item=item.label(lang) if item else "", result=result_name)
            lines = [f"{(o.get('label_en') or o['label']) if en else o['label']}{': ' if en else '：'}{o['value']}"
                     for o in cert.get("outputs") or []]
            licence = r.get("licence") or {}
            if licence:  # the result is a licence: it is in 亮证 now
                lines.append(tr("approval.licence_issued", licence=licence.get("type_name", ""),
                                number=licence.get("number", "")))
            self.reasons_text = "\n".join(lines)
            self.number = ""
            self.qr_data = str(cert.get("verify_url") or "")
            self.qr_text = tr("approval.scan_verify")
            self.kiosk.say("say.approval_approved")
        else:
            notice = r.get("notice") or {}
            ticket = r.get("ticket") or {}
            # "1．…" without an ASCII space: Kivy would break the line after "1."
            lines = [f"{i}. {x.get('message_en')}" if en else f"{i}．{x.get('message')}"
                     for i, x in enumerate(r.get("reasons") or [], 1)]
            bring = notice.get("bring_en" if en else "bring") or []
            if bring:
                lines.append(tr("approval.bring", items="、".join(bring) if not en else ", ".join(bring)))
            windows = notice.get("window_text_en" if en else "window_text")
            if windows:
                lines.append(tr("approval.window", windows=windows))
            if r.get("ticket_error"):
                err = r["ticket_error"]
                lines.append(tr("approval.no_ticket", reason=err.get("message_en" if en else "message", "")))
            self.title_text = tr("approval.referred")
            self.hint_text = tr("approval.referred_hint")
            self.reasons_text = "\n".join(lines)
            self.number = str(ticket.get("number") or "")
            self.qr_data = self.kiosk.progress_url(Ticket.from_json(ticket)) if ticket.get("number") else ""
            self.qr_text = tr("ticket.scan_progress") if self.qr_data else ""
            self.kiosk.say("say.approval_referred")
        self.show_print(self._print_of(r))
        self._start_polling()

    @staticmethod
    def _print_of(r: dict[str, Any]) -> dict[str, Any]:
        part = r.get("certificate") or r.get("notice") or {}
        return dict(part.get("print") or {})

    def show_print(self, state: dict[str, Any]) -> None:
        tr = self.app.tr
        status = state.get("status")
        self.print_failed = status in ("failed", "not_queued", None)
        self.print_text = {"queued": tr("approval.print_queued"), "printing": tr("approval.print_queued"),
                           "done": tr("approval.print_done"), "failed": tr("approval.print_failed")}.get(
            str(status), tr("approval.print_none"))

    def _start_polling(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
        state = self._print_of(self.kiosk.approval.state.result or {})
        if state.get("status") not in ("queued", "printing"):
            return
        self._poll_until = Clock.get_time() + PRINT_WAIT
        self._poll = Clock.schedule_interval(self._poll_print, PRINT_POLL)

    def _poll_print(self, _dt: float) -> bool:
        if self.manager is None or self.manager.current != self.name or Clock.get_time() > self._poll_until:
            self._poll = None
            return False
        if not self.busy:
            self.run(self.kiosk.approval.print_state, self._polled)
        return True

    def _polled(self, state: Any) -> None:
        if isinstance(state, dict):
            self.show_print(state)
            if state.get("status") not in ("queued", "printing") and self._poll is not None:
                self._poll.cancel()
                self._poll = None

    def done(self) -> None:
        self.go(self.kiosk.approval.finish())

    def manual(self) -> None:
        self.run(lambda: self.kiosk.approval.manual("审批结果页选择人工办理"), lambda _r: self.go("ticket"),
                 busy_key="common.working")

    def on_leave(self, *args: Any) -> None:
        super().on_leave(*args)
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None

    def reset(self) -> None:
        super().reset()
        for prop in ("decision", "title_text", "hint_text", "case_text", "reasons_text", "number", "qr_data",
                     "qr_text", "print_text"):
            setattr(self, prop, "")
        self.print_failed = False


load_kv(__file__)
