"""The pre-filled application (秒填): who applies (masked, and how they were verified), what
comes from shared data without typing, and only the inputs no source knows — months with
steppers, choices as buttons, numbers with −/+, text and ID numbers in a field."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.textinput import TextInput

from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen
from kiosk.widgets import BigButton

STEP_BG = (0.42, 0.47, 0.55, 1)
OPT_BG = (0.7, 0.72, 0.76, 1)
OPT_ON = (0.12, 0.35, 0.66, 1)


class FormText(TextInput):
    """A text field of the form; ``key`` names its input (tests, screenshots)."""

    key = StringProperty("")
    """``text:<input name>``."""


@register("approval_form")
class ApprovalFormScreen(KioskScreen):
    back_target = "approval_items"

    item_text = StringProperty("")
    """The item's name."""

    applicant_text = StringProperty("")
    """Masked name and ID number."""

    verified_text = StringProperty("")
    """How the applicant was verified."""

    verified_ok = BooleanProperty(True)
    """Face-verified (green) or not (amber)."""

    can_apply = BooleanProperty(False)
    """An identity was read: the form can go on (else only 人工办理)."""

    sources_text = StringProperty("")
    """The shared data that fills the rest (bulleted)."""

    inputs_title = StringProperty("")
    """请补充以下信息 / 无需填写."""

    ready = BooleanProperty(False)
    """Every required input has a value: 下一步 is enabled."""

    def refresh(self) -> None:
        flow = self.kiosk.approval
        s = flow.state
        lang = self.kiosk.lang
        tr = self.app.tr
        item = s.item
        self.item_text = item.label(lang) if item else ""
        self.can_apply = bool(item and s.id_number and not s.identity_failed)
        if not self.can_apply:
            self.applicant_text = ""
            self.verified_ok = False
            self.verified_text = tr("approval.no_identity") + (f"（{s.referral_reason}）" if s.referral_reason else "")
        else:
            self.applicant_text = tr("approval.applicant", name=s.name_masked, id=s.id_masked)
            self.verified_ok = s.method == "face"
            self.verified_text = tr("approval.verified_face" if s.method == "face" else "approval.verified_card")
        self.sources_text = "\n".join(f"·  {name}" for name in flow.sources(lang))
        self.build_inputs()

    def build_inputs(self) -> None:
        box = self.ids.inputs
        box.clear_widgets()
        flow = self.kiosk.approval
        item = flow.state.item
        tr = self.app.tr
        if item is None or not self.can_apply:
            self.inputs_title = ""
            self.ready = False
            return
        self.inputs_title = tr("approval.to_fill") if item.inputs else tr("approval.nothing_to_fill")
        for spec in item.inputs:
            box.add_widget(self._row(spec))
        self.ready = not flow.missing_inputs()

    def _label(self, spec: dict[str, Any]) -> str:
        lang = self.kiosk.lang
        text = spec.get("label_en") if lang == "en" and spec.get("label_en") else spec["label"]
        return str(text) + ("" if spec.get("required") else self.app.tr("approval.optional"))

    def _row(self, spec: dict[str, Any]) -> Any:
        scale = self.app.scale
        name, kind = spec["name"], spec.get("type")
        flow = self.kiosk.approval
        value = flow.state.inputs.get(name)
        row = BoxLayout(orientation="vertical", size_hint_y=None, spacing=8)
        title = Label(text=self._label(spec), font_size=34 * scale, bold=True, size_hint_y=None,
                      height=56 * scale, halign="left", valign="middle")
        title.bind(size=lambda w, _s: setattr(w, "text_size", (w.width, None)))
        row.add_widget(title)
        if kind in ("month", "integer"):
            line = BoxLayout(size_hint_y=None, height=100 * scale, spacing=12)
            steps = (-12, -1, 1, 12) if kind == "month" else (-1, 1)
            shown = self._shown(spec, value)
            out = Label(text=shown, font_size=44 * scale, bold=True, color=(0.12, 0.35, 0.66, 1))
            for i, step in enumerate(steps):
                if i == len(steps) // 2:
                    line.add_widget(out)
                arrow = {-12: "«", -1: "‹" if kind == "month" else "−", 1: "›" if kind == "month" else "+",
                         12: "»"}[step]
                btn = BigButton(title=arrow, key=f"{kind}:{name}:{step:+d}", title_size=52, bg=STEP_BG,
                                size_hint_x=None, width=130 * scale)
                btn.bind(on_release=lambda _b, st=step, lbl=out, sp=spec: self._step(sp, st, lbl))
                line.add_widget(btn)
            row.add_widget(line)
            row.height = 56 * scale + 100 * scale + 8
        elif kind in ("choice", "choices"):
            opts = [(str(o["value"]), str(o["label"])) for o in spec.get("options", [])]
            if kind == "choice" and not spec.get("required"):
                opts = [("", self.app.tr("approval.none"))] + opts
            grid = GridLayout(cols=2 if self.kiosk.elder else 3, spacing=12, size_hint_y=None,
                              row_force_default=True, row_default_height=90 * scale)
            grid.bind(minimum_height=grid.setter("height"))
            for opt_value, opt_label in opts:
                chosen = (opt_value in (value or [])) if kind == "choices" else ((value or "") == opt_value)
                btn = BigButton(title=opt_label, key=f"opt:{name}:{opt_value or 'none'}", title_size=32,
                                bg=OPT_ON if chosen else OPT_BG)
                btn.bind(on_release=lambda _b, v=opt_value, sp=spec: self._choose(sp, v))
                grid.add_widget(btn)
            row.add_widget(grid)
            rows = (len(opts) + grid.cols - 1) // grid.cols
            row.height = 56 * scale + rows * (90 * scale + 12) + 8
        else:
            field = FormText(key=f"text:{name}", text=str(value or ""), multiline=False,
                             font_size=40 * scale, size_hint_y=None, height=90 * scale,
                             input_filter=(lambda t, _undo: "".join(c for c in t.upper() if c.isdigit() or c == "X"))
                             if kind == "id_number" else None)
            field.bind(text=lambda _w, text, n=name: self._typed(n, text))
            row.add_widget(field)
            hint = spec.get("help_en") if self.kiosk.lang == "en" and spec.get("help_en") else spec.get("help")
            if hint:
                row.add_widget(Label(text=str(hint), font_size=26 * scale, size_hint_y=None, height=40 * scale,
                                     color=(0.45, 0.48, 0.55, 1)))
            row.height = 56 * scale + 90 * scale + (40 * scale if hint else 0) + 16
        return row

    def _shown(self, spec: dict[str, Any], value: Any) -> str:
        if value in (None, ""):
            return "—"
        if spec.get("type") == "month":
            return self.app.tr("approval.month_value", year=str(value)[:4], month=str(value)[5:7])
        return str(value)

    def _step(self, spec: dict[str, Any], step: int, label: Label) -> None:
        flow = self.kiosk.approval
        if spec.get("type") == "month":
            value: Any = flow.step_month(spec["name"], step)
        else:
            value = flow.step_integer(spec["name"], step)
        label.text = self._shown(spec, value)
        self.ready = not flow.missing_inputs()

    def _choose(self, spec: dict[str, Any], value: str) -> None:
        flow = self.kiosk.approval
        if spec.get("type") == "choice" and value == "":
            flow.set_input(spec["name"], None)
        else:
            flow.toggle_choice(spec["name"], value)
        self.build_inputs()

    def _typed(self, name: str, text: str) -> None:
        flow = self.kiosk.approval
        flow.set_input(name, text.strip() or None)
        self.ready = not flow.missing_inputs()

    def next(self) -> None:
        if self.ready and self.can_apply:
            self.go("approval_consent")

    def manual(self) -> None:
        why = "身份未能核验" if not self.can_apply else "填写申请时选择人工办理"
        self.run(lambda: self.kiosk.approval.manual(why), lambda _r: self.go("ticket"), busy_key="common.working")

    def reset(self) -> None:
        super().reset()
        self.ids.inputs.clear_widgets()
        for prop in ("item_text", "applicant_text", "verified_text", "sources_text", "inputs_title"):
            setattr(self, prop, "")


load_kv(__file__)
