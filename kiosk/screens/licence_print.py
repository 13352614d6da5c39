"""自助打证: the licence copy's online check (``/v/<ref>``) and how printing went. The copy's
QR opens a page with the holder-safe summary and the licence's current status."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from kiosk.flows.licence import LicenceFlow, licence_flow
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen


@register("licence_print")
class LicencePrintScreen(KioskScreen):
    back_target = "licence_purpose"

    url = StringProperty("")
    """The online check printed on the copy (and shown here)."""

    title_text = StringProperty("")
    case_text = StringProperty("")
    status_text = StringProperty("")

    printed = BooleanProperty(False)
    """The copy was printed (else: printing is not available here, the QR is the copy)."""

    @property
    def flow(self) -> LicenceFlow:
        return licence_flow(self.kiosk)

    def refresh(self) -> None:
        data = self.flow.state.printed or {}
        lic = self.flow.state.chosen
        self.url = str(data.get("url") or "")
        self.title_text = lic.type_name if lic is not None else ""
        self.case_text = self.app.tr("licence.print.case", case=data.get("case", "")) if data else ""
        status = str((data.get("print") or {}).get("status") or "")
        self.printed = status in ("queued", "printed", "done")
        self.status_text = self.app.tr("licence.print.printed" if self.printed else "licence.print.not_available")

    def reset(self) -> None:
        super().reset()
        self.url = self.title_text = self.case_text = self.status_text = ""
        self.printed = False

    def finish(self) -> None:
        """完成: the rating of this transaction (打证)."""
        self.go(self.flow.finish())

    def on_scan(self, payload: Any) -> None:
        """Scans are not read here."""


load_kv(__file__)
