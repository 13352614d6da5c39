"""Consent to query shared data: which registers will be asked, what the result is used
for, and that nothing is refused by the machine. 同意并查询 applies; 不同意 gives a number
for a window (人工办理)."""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen


@register("approval_consent")
class ApprovalConsentScreen(KioskScreen):
    say_key = "say.approval_consent"
    back_target = "approval_form"

    intro_text = StringProperty("")
    """为办理「…」，需要向以下部门查询您的信息："""

    sources_text = StringProperty("")
    """The registers, bulleted."""

    def refresh(self) -> None:
        flow = self.kiosk.approval
        item = flow.state.item
        lang = self.kiosk.lang
        self.intro_text = self.app.tr("approval.consent_text", item=item.label(lang) if item else "")
        self.sources_text = "\n".join(f"·  {name}" for name in flow.sources(lang))

    def agree(self) -> None:
        self.kiosk.approval.agree()
        self.go("approval_result")

    def decline(self) -> None:
        self.run(lambda: self.kiosk.approval.manual("不同意查询共享数据"), lambda _r: self.go("ticket"),
                 busy_key="common.working")


load_kv(__file__)
