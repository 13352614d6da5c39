"""自助办理 (秒批) at the kiosk: item → ID card + face → the pre-filled form → consent to query
shared data → the decision → certificate, or 一次性告知 + a window ticket → the rating screen.

No Kivy here; the screens ``kiosk/screens/approval_*.py`` only draw this flow's state::

    flow = kiosk.approval
    flow.choose(item)              # from flow.items(); then
    flow.begin_identity()          # → screen "identity_card" (the identity check's screens);
                                   #   its 继续 leads to "approval_form"
    flow.set_input("from_month", "2020-01")
    flow.agree()                   # consent → screen "approval_result", which calls
    flow.submit()                  # (worker thread) POST /api/approvals → flow.state.result
    flow.finish()                  # → the rating screen (好差评 of the case)

人工办理 is offered on every step (:meth:`manual`): a regular number for the item's service (or
综合咨询 before an item is chosen) carrying why the citizen left the self-service steps. The
applicant's name and ID number live in this object only until the session ends
(:meth:`reset`, on every wipe); the server keeps neither.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hardware.idnumber import mask_id_number, mask_name
from kiosk.flows.state import TicketResult

if TYPE_CHECKING:
    from kiosk.client import Ticket
    from kiosk.flows.identity import VerifiedIdentity
    from kiosk.flows.session import Kiosk

#: Seconds the item list is trusted before it is asked for again.
ITEMS_TTL = 300.0
#: 人工办理 before an item is chosen goes to this service (综合咨询).
GENERAL_SERVICE = "ZH01"
#: Items per page (standard, elder mode).
PAGE_SIZE = (5, 3)

#: How the consent screen names each shared-data source (the server's collections).
SOURCE_NAMES: dict[str, tuple[str, str]] = {
    "persons": ("户籍信息（公安）", "Household register (police)"),
    "benefits": ("在享待遇（民政）", "Benefits received (civil affairs)"),
    "social_insurance": ("社保参保缴费记录（人社）", "Social insurance records (human resources)"),
    "marriages": ("婚姻登记（民政）", "Marriage registration (civil affairs)"),
    "children": ("子女人口信息（公安）", "Children in the population register"),
    "birth_registrations": ("生育登记记录（卫健）", "Birth registrations (health)"),
    "residence_permits": ("居住证（公安）", "Residence permits (police)"),
    "driving_licences": ("机动车驾驶证（交警）", "Driving licences (traffic police)"),
    "police_records": ("违法犯罪记录（公安）", "Police records"),
    "taxi_revocations": ("从业资格撤销记录（交通）", "Revoked taxi qualifications (transport)"),
    "exams": ("从业资格考试成绩（交通）", "Qualification exams (transport)"),
    "education": ("学历信息（学信网）", "Degree records (CHSI)"),
    "restrictions": ("限制名单（法院）", "Court restriction lists"),
    "companies": ("企业登记信息（市场监管）", "Company register (market regulation)"),
    "projects": ("项目赋码信息（投资项目在线平台）", "Project codes (investment platform)"),
    "names": ("企业名称库", "Company name library"),
    "addresses": ("标准地址库", "Standard address library"),
}

#: Demo only (simulated card reader): the synthetic applicants of the demo hall for each
#: item — ``(name, ID number, birth date)`` for an approval and for a referral. The same
#: people are in the server's demo data (``queue_server/approvals/demo.py``; a test keeps
#: them equal) and in README.md.
DEMO_APPLICANTS: dict[str, dict[str, tuple[str, str, str]]] = {
    "elderly_allowance": {"approve": ("王秀兰", "370181194403021240", "19440302"),
                          "refer": ("张桂英", "370102193811201427", "19381120")},
    "insurance_certificate": {"approve": ("孙丽", "370181198507212269", "19850721"),
                              "refer": ("郑涛", "370181198209052594", "19820905")},
    "birth_registration": {"approve": ("马丽娟", "37018119930218326X", "19930218"),
                           "refer": ("何静", "410105199506013488", "19950601")},
    "ride_hailing_driver": {"approve": ("高磊", "370112198612114174", "19861211"),
                            "refer": ("林军", "370181199003034272", "19900303")},
    "graduate_settlement": {"approve": ("杨帆", "410105200209095160", "20020909"),
                            "refer": ("徐悦", "370302199901205278", "19990120")},
    "investment_filing": {"approve": ("孙丽", "370181198507212269", "19850721"),
                          "refer": ("孙丽", "370181198507212269", "19850721")},
    "sole_proprietor_registration": {"approve": ("孙丽", "370181198507212269", "19850721"),
                                     "refer": ("林军", "370181199003034272", "19900303")},
}


@dataclass(frozen=True)
class Item:
    """A 秒批 item as ``GET /api/approvals/items`` describes it."""

    code: str
    name: str
    name_en: str
    category: str
    category_name: str
    category_name_en: str
    service: str
    summary: str = ""
    summary_en: str = ""
    result: str = ""
    result_en: str = ""
    inputs: tuple[dict[str, Any], ...] = ()
    sources: tuple[str, ...] = ()
    bring: tuple[str, ...] = ()
    bring_en: tuple[str, ...] = ()
    ruleset: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Item:
        return cls(code=str(d["code"]), name=str(d["name"]), name_en=str(d.get("name_en") or ""),
                   category=str(d.get("category") or ""), category_name=str(d.get("category_name") or ""),
                   category_name_en=str(d.get("category_name_en") or ""), service=str(d.get("service") or ""),
                   summary=str(d.get("summary") or ""), summary_en=str(d.get("summary_en") or ""),
                   result=str(d.get("result") or ""), result_en=str(d.get("result_en") or ""),
                   inputs=tuple(d.get("inputs") or ()), sources=tuple(d.get("sources") or ()),
                   bring=tuple(d.get("bring") or ()), bring_en=tuple(d.get("bring_en") or ()),
                   ruleset=dict(d.get("ruleset") or {}))

    def label(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name

    def category_label(self, lang: str) -> str:
        return (self.category_name_en if lang == "en" and self.category_name_en else self.category_name) \
            or self.category

    def hint(self, lang: str) -> str:
        return self.summary_en if lang == "en" and self.summary_en else self.summary


@dataclass
class ApprovalState:
    """One citizen's application. Never outlives the session."""

    item: Item | None = None
    category: str | None = None
    name: str = field(default="", repr=False)
    id_number: str = field(default="", repr=False)
    method: str = ""
    """``face`` (face matched the card), ``card`` (card read only: the server refers it)."""
    score: float | None = None
    identity_failed: bool = False
    """The identity check ended without a card (or was cancelled after a referral)."""
    referral_reason: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    consented: bool = False
    result: dict[str, Any] | None = None
    request_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Base key of this application's requests (the 人工办理 ticket's key derives from it)."""
    apply_keys: dict[str, str] = field(default_factory=dict, repr=False)
    """Idempotency key per application body, in memory only: a retry of the same answers
    reuses its key (the same case comes back); changed answers get a new key, since the server
    refuses a key reused with another body (422 ``idempotency_key_reused``)."""
    demo: str = "approve"
    """Demo only: which synthetic applicant the simulated reader gets (``approve``/``refer``)."""

    @property
    def name_masked(self) -> str:
        return mask_name(self.name) if self.name else ""

    @property
    def id_masked(self) -> str:
        return mask_id_number(self.id_number) if self.id_number else ""


class ApprovalFlow:
    """The steps of 自助办理 (see the module docstring). Thread-safe where screens use workers."""

    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk
        self.state = ApprovalState()
        self._items: list[Item] = []
        self._items_at = -ITEMS_TTL
        self._lock = threading.Lock()
        kiosk.on_wipe.append(self.reset)

    # -- the item list -------------------------------------------------------------------
    def items(self) -> list[Item]:
        """Every item (cached for :data:`ITEMS_TTL` seconds); worker thread."""
        now = self.kiosk.clock()
        if not self._items or now - self._items_at > ITEMS_TTL:
            self._items = [Item.from_json(d) for d in self.kiosk.client.approval_items()]
            self._items_at = now
        return self._items

    def cached_items(self) -> list[Item]:
        return list(self._items)

    def categories(self, lang: str) -> list[tuple[str, str]]:
        """``(code, name)`` of the categories that have items, in the items' order."""
        seen: dict[str, str] = {}
        for item in self._items:
            seen.setdefault(item.category, item.category_label(lang))
        return list(seen.items())

    def choose_category(self, code: str | None) -> None:
        self.state.category = code

    def visible_items(self) -> list[Item]:
        c = self.state.category
        return [i for i in self._items if c is None or i.category == c]

    def page_size(self) -> int:
        return PAGE_SIZE[1] if self.kiosk.elder else PAGE_SIZE[0]

    # -- choosing and identity ------------------------------------------------------------
    def choose(self, item: Item) -> None:
        s = self.state
        self.state = ApprovalState(item=item, category=s.category, demo=s.demo,
                                   inputs=self._defaults(item))

    def _defaults(self, item: Item) -> dict[str, Any]:
        """What the form starts with: months default to last year's January … last month."""
        today = self.kiosk.today()
        last = (today.replace(day=1) - dt.timedelta(days=1))
        out: dict[str, Any] = {}
        for inp in item.inputs:
            t = inp.get("type")
            if t == "month":
                out[inp["name"]] = (f"{last.year - 1:04d}-01" if not inp.get("not_before")
                                    else f"{last.year:04d}-{last.month:02d}")
            elif t == "integer" and inp.get("required"):
                out[inp["name"]] = int(inp.get("min") or 1)
            elif t == "choices":
                out[inp["name"]] = []
        return out

    @property
    def has_identity_check(self) -> bool:
        return self.kiosk.identity is not None

    def begin_identity(self) -> str:
        """Start the identity check for the chosen item; the screen to show next
        (``identity_card``, or ``approval_form`` saying the kiosk cannot verify)."""
        if self.kiosk.identity is None:
            self.state.identity_failed = True
            self.state.referral_reason = "本机无法进行人脸核验"
            return "approval_form"
        self.kiosk.card_reader.cancel()  # the swipe step's polling must not share the reader
        self.kiosk.identity.begin(on_done=self.identity_done, next_screen="approval_form", purpose="approval")
        return "identity_card"

    def identity_done(self, identity: VerifiedIdentity | None) -> None:
        """The identity check ended (its result screen's 继续, or the citizen left it)."""
        s = self.state
        if identity is None:
            referral = getattr(self.kiosk.identity, "referral", None)
            s.identity_failed = True
            s.referral_reason = referral.zh if referral is not None else ""
            return
        s.name, s.id_number = identity.name, identity.id_number
        s.method = "face" if identity.method == "face" else "card"
        s.score = identity.face_score if identity.method == "face" else None
        if identity.method == "manual" and identity.referral:
            s.referral_reason = identity.referral[1]

    @property
    def can_place_demo_card(self) -> bool:
        return bool(getattr(self.kiosk.card_reader, "simulated", False)) and self.kiosk.identity is not None

    def demo_applicant(self) -> tuple[str, str, str] | None:
        item = self.state.item
        if item is None or item.code not in DEMO_APPLICANTS:
            return None
        return DEMO_APPLICANTS[item.code][self.state.demo]

    def place_demo_card(self) -> bool:
        """Demo: the chosen synthetic applicant's card onto the simulated reader (the identity
        check reads it through the real SAM protocol; the demo photo matches the demo camera)."""
        person = self.demo_applicant()
        device = getattr(self.kiosk.card_reader, "device", None)
        if person is None or device is None or not self.can_place_demo_card:
            return False
        from hardware.idcard import SimCard

        name, id_number, birth = person
        sex = "1" if int(id_number[16]) % 2 else "2"  # GB 11643: the 17th digit is odd for men
        device.insert(SimCard(name=name, id_number=id_number, birth=birth, sex_code=sex))
        return True

    # -- the form --------------------------------------------------------------------------
    def input_spec(self, name: str) -> dict[str, Any]:
        assert self.state.item is not None
        return next(i for i in self.state.item.inputs if i["name"] == name)

    def set_input(self, name: str, value: Any) -> None:
        self.input_spec(name)
        self.state.inputs[name] = value

    def step_month(self, name: str, months: int) -> str:
        value = str(self.state.inputs.get(name) or self.kiosk.today().strftime("%Y-%m"))
        y, m = int(value[:4]), int(value[5:7]) - 1 + months
        y, m = y + m // 12, m % 12
        today = self.kiosk.today()
        if (y, m + 1) > (today.year, today.month):
            y, m = today.year, today.month - 1
        value = f"{y:04d}-{m + 1:02d}"
        self.state.inputs[name] = value
        return value

    def step_integer(self, name: str, delta: int) -> int:
        spec = self.input_spec(name)
        lo, hi = int(spec.get("min") or 0), int(spec.get("max") or 99)
        value = max(lo, min(hi, int(self.state.inputs.get(name) or lo) + delta))
        self.state.inputs[name] = value
        return value

    def toggle_choice(self, name: str, value: str) -> None:
        spec = self.input_spec(name)
        if spec.get("type") == "choices":
            chosen = list(self.state.inputs.get(name) or [])
            if value in chosen:
                chosen.remove(value)
            else:
                chosen.append(value)
            self.state.inputs[name] = chosen
        else:
            self.state.inputs[name] = None if self.state.inputs.get(name) == value else value

    def missing_inputs(self) -> list[str]:
        """Required inputs still empty (the form's 下一步 waits for them)."""
        item = self.state.item
        if item is None:
            return []
        return [i["name"] for i in item.inputs if i.get("required")
                and self.state.inputs.get(i["name"]) in (None, "", [])]

    def sources(self, lang: str) -> list[str]:
        item = self.state.item
        names = [SOURCE_NAMES.get(s, (s, s)) for s in (item.sources if item else ())]
        return [n[1] if lang == "en" else n[0] for n in names]

    # -- consent and decision ----------------------------------------------------------------
    def agree(self) -> None:
        self.state.consented = True

    def body(self) -> dict[str, Any]:
        s = self.state
        assert s.item is not None
        verification: dict[str, Any] = {"method": s.method or "card"}
        if s.score is not None:
            verification["score"] = float(s.score)
        inputs = {k: v for k, v in s.inputs.items() if v not in (None, "", [])}
        body: dict[str, Any] = {"item": s.item.code,
                                "applicant": {"id_number": s.id_number, "name": s.name},
                                "verification": verification, "inputs": inputs}
        printer = str(self.kiosk.config.get("approvals", "printer") or "")
        if printer:
            body["printer"] = printer
        return body

    def submit(self) -> dict[str, Any]:
        """Apply (worker thread); idempotent within the application: a retry after a
        timeout returns the same case. Needs the consent."""
        with self._lock:
            s = self.state
            if s.result is not None:
                return s.result
            if not s.consented or s.item is None or not s.id_number:
                raise ValueError("nothing to submit")
            body = self.body()
            digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
            key = s.apply_keys.setdefault(digest, s.request_key if not s.apply_keys else uuid.uuid4().hex)
            result = self.kiosk.client.apply_approval(body, key)
            if self.state is s:  # not wiped meanwhile
                s.result = result
            return result

    def print_state(self) -> dict[str, Any] | None:
        """The server print job of the certificate or notice, asked again (worker thread)."""
        r = self.state.result or {}
        part = r.get("certificate") or r.get("notice") or {}
        job = (part.get("print") or {}).get("job_id")
        if not job:
            return part.get("print")
        state = self.kiosk.client.print_job(int(job))
        part["print"] = {**part.get("print", {}), "status": state.get("state"), "error": state.get("last_error")}
        return part["print"]

    # -- 人工办理 ----------------------------------------------------------------------------
    def manual(self, why: str = "") -> TicketResult:
        """A regular number for a window (worker thread): the item's service, or 综合咨询 before
        one was chosen, carrying the reason; the ticket screen shows and prints it."""
        s = self.state
        item = s.item
        service = item.service if item else GENERAL_SERVICE
        reason = f"自助办理转人工：{item.name if item else '未选事项'}" + (f"（{why}）" if why else "")
        ticket: Ticket = self.kiosk.client.issue_ticket(
            service, referral_reason=reason[:200],
            idempotency_key=s.apply_keys.setdefault(f"manual\n{service}\n{reason[:200]}", uuid.uuid4().hex))
        result = TicketResult(ticket, item.name if item else ticket.service_name,
                              item.name_en if item else ticket.service_name_en,
                              notice_key="approval.manual_notice")
        self.kiosk.session.result = result
        return result

    # -- the end ---------------------------------------------------------------------------
    def finish(self) -> str:
        """After the decision: the rating of the case (好差评); the screen to show."""
        r = self.state.result
        item = self.state.item
        if r and item and r.get("case"):
            self.kiosk.rating.begin(case=str(r["case"]), service_name=item.name, service_name_en=item.name_en,
                                    evaluator=self.state.name_masked)
            return "rating"
        return "home"

    def reset(self) -> None:
        """The session ended: the applicant's name, ID number, inputs and result go."""
        demo = self.state.demo
        self.state = ApprovalState(demo=demo)
