"""亮证 and 自助打证 at the kiosk: card + face → my licences → one licence and a purpose → the
rotating QR (or a printed copy). No Kivy here; ``kiosk/screens/licence_*.py`` draw it.

The kiosk never holds a private key: every token comes from the server
(``POST /api/licences/<id>/present``, then ``…/presentations/<id>/token`` every
``refresh_seconds``); the QR matrix is rendered here, off the UI thread, so swapping it in
costs the UI one texture upload. After ``licences.reverify_minutes`` the server refuses a
new token (``licence_reverify``): the citizen checks their face again and a new
presentation starts. The ID number lives in memory for the session only and goes with
:meth:`LicenceFlow.wipe` (idle, 首页, 完成亮证), which also ends the presentation on the
server.

Usage (the home screen's 亮证)::

    flow = licence_flow(kiosk)          # one per kiosk, wiped with the session
    screen.go(flow.begin())             # "identity_card", or "licence_list" with a message
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kiosk.errors import KioskError, ServerRejected
from kiosk.i18n import tr

log = logging.getLogger(__name__)

#: Licences per page on the list screen (normal, elder mode).
PAGE_SIZE = (4, 3)
#: Purposes per page on the purpose screen (normal, elder mode).
PURPOSE_PAGE_SIZE = (6, 3)
#: Quiet zone of the shown QR code, in modules (ISO/IEC 18004 asks for 4).
QR_BORDER = 4
#: Purposes if the server's list cannot be read (the documented codes, docs/licences.md).
DEFAULT_PURPOSES = [
    {"code": 1, "name": "窗口核验", "name_en": "Verification at a service window"},
    {"code": 2, "name": "用证办事（免交复印件）", "name_en": "Proof for a case instead of a paper copy"},
    {"code": 3, "name": "住宿登记", "name_en": "Hotel check-in"},
    {"code": 4, "name": "金融业务", "name_en": "Banking and financial services"},
    {"code": 5, "name": "交通出行", "name_en": "Travel and transport"},
    {"code": 6, "name": "身份核验（其他场所）", "name_en": "Identity check at another venue"},
]


@dataclass(frozen=True)
class Licence:
    """One licence as ``GET /api/licences`` lists it (masked)."""

    id: int
    identifier: str
    type_code: str
    type_name: str
    number_masked: str
    issuer: str
    valid_to: str | None
    status: str
    """``valid``, ``not_yet_valid`` (before ``valid_from``), ``expired``, ``revoked``, ``superseded``."""
    valid_from: str | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Licence:
        return cls(int(d["id"]), str(d.get("identifier", "")), str(d.get("type_code", "")),
                   str(d.get("type_name", "")), str(d.get("number_masked", "")), str(d.get("issuer", "")),
                   d.get("valid_to"), str(d.get("status", "valid")), d.get("valid_from"))

    @property
    def usable(self) -> bool:
        return self.status == "valid"

    def validity(self, lang: str) -> str:
        return tr("licence.valid_to", lang, date=self.valid_to) if self.valid_to else tr("licence.valid_forever", lang)

    def status_text(self, lang: str) -> str:
        if self.status == "not_yet_valid" and self.valid_from:
            return tr("licence.status.not_yet_valid_from", lang, date=self.valid_from)
        key = f"licence.status.{self.status}"
        try:
            return tr(key, lang)
        except KeyError:
            return self.status


@dataclass
class Shown:
    """The token on screen: its text, the QR matrix as luminance bytes (bottom row first,
    as a GL texture wants it), when it expires and when the next one is due."""

    qr: str
    pixels: bytes
    modules: int
    expires_at: float
    issued_at: float
    refresh_seconds: int
    reverify_at: float
    presentation: int
    case: str
    received: float  # kiosk clock (monotonic) when it arrived


def qr_pixels(text: str, border: int = QR_BORDER) -> tuple[bytes, int]:
    """The QR code of ``text`` at level M: one luminance byte per module, bottom row first."""
    import qrcode

    qr = qrcode.QRCode(border=border, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    return bytes(0 if dark else 255 for row in reversed(matrix) for dark in row), len(matrix)


@dataclass
class _State:
    id_number: str = ""
    name_masked: str = ""
    id_masked: str = ""
    method: str = ""
    score: float | None = None
    message_key: str = ""          # why the list cannot be shown (need_face, cancelled …)
    licences: list[Licence] | None = None
    chosen: Licence | None = None
    purpose: int | None = None
    shown: Shown | None = None
    needs_reverify: bool = False
    printed: dict[str, Any] | None = None
    page: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class LicenceFlow:
    """The 亮证 steps for one kiosk; the state belongs to the current citizen."""

    def __init__(self, kiosk: Any, clock: Any = time.monotonic) -> None:
        self.kiosk = kiosk
        self.clock = clock
        self.state = _State()
        self.purposes: list[dict[str, Any]] = []
        self._lock = threading.RLock()

    # -- identity ------------------------------------------------------------------------
    def begin(self) -> str:
        """Start for a new citizen; returns the screen to show."""
        self.wipe(end_on_server=True)
        identity = getattr(self.kiosk, "identity", None)
        if identity is None:
            self.state.message_key = "licence.no_identity"
            return "licence_list"
        self._begin_identity(identity, "licence_list")
        return "identity_card"

    def reverify(self) -> str:
        """The face check again after ``reverify_minutes``; then a new presentation."""
        identity = getattr(self.kiosk, "identity", None)
        if identity is None:
            return "licence_list"
        self._end_presentation()
        with self._lock:
            self.state.shown = None
            self.state.needs_reverify = False
            self.state.extra["reverifying"] = True
        self._begin_identity(identity, "licence_qr")
        return "identity_card"

    def _begin_identity(self, identity: Any, next_screen: str) -> None:
        # purpose "licence": the identity check's audit record says what it was for
        identity.begin(on_done=self.identity_done, next_screen=next_screen, purpose="licence")

    def identity_done(self, identity: Any) -> None:
        """The identity check ended (its ``on_done``): only a face match may show a licence."""
        with self._lock:
            again = self.state.extra.pop("reverifying", False)
            if identity is None:
                self.state.message_key = "licence.cancelled"
                self.state.id_number = ""
                return
            if identity.method != "face":
                self.state.message_key = "licence.need_face"
                self.state.id_number = ""
                return
            if again and self.state.id_number and identity.id_number != self.state.id_number:
                self.wipe(end_on_server=True)  # another person at the kiosk: start over
                self.state.message_key = "licence.cancelled"
                return
            self.state.message_key = ""
            self.state.id_number = identity.id_number
            self.state.name_masked = identity.name_masked
            self.state.id_masked = identity.id_masked
            self.state.method = "face"
            score = getattr(identity, "face_distance", None)
            self.state.score = float(score) if score is not None else None

    @property
    def verified(self) -> bool:
        return bool(self.state.id_number)

    # -- the list ------------------------------------------------------------------------
    def load(self) -> list[Licence]:
        """The citizen's licences (worker thread)."""
        if not self.verified:
            return []
        data = self.kiosk.client._request("GET", "/api/licences", params={"id_number": self.state.id_number})
        items = [Licence.from_json(d) for d in data] if isinstance(data, list) else []
        items.sort(key=lambda lic: (not lic.usable, lic.type_name))
        with self._lock:
            self.state.licences = items
        if not self.purposes:
            try:
                self.purposes = list(self.kiosk.client._request("GET", "/api/licences/purposes")["purposes"])
            except (KioskError, KeyError, TypeError):
                self.purposes = list(DEFAULT_PURPOSES)
        return items

    def page_size(self) -> int:
        return PAGE_SIZE[1] if self.kiosk.elder else PAGE_SIZE[0]

    def choose(self, licence_id: int) -> bool:
        for lic in self.state.licences or []:
            if lic.id == licence_id and lic.usable:
                self.state.chosen = lic
                return True
        return False

    def purpose_list(self) -> list[dict[str, Any]]:
        return self.purposes or list(DEFAULT_PURPOSES)

    def purpose_name(self, code: int | None, lang: str) -> str:
        for p in self.purpose_list():
            if p["code"] == code:
                return str(p["name_en"] if lang == "en" else p["name"])
        return str(code or "")

    # -- showing -------------------------------------------------------------------------
    def _verification(self) -> dict[str, Any]:
        v: dict[str, Any] = {"method": self.state.method or "face"}
        if self.state.score is not None:
            v["score"] = self.state.score
        return v

    def present(self, purpose: int) -> Shown:
        """Start showing the chosen licence for ``purpose`` (worker thread)."""
        lic = self.state.chosen
        if lic is None or not self.verified:
            raise KioskError("no licence chosen")
        data = self.kiosk.client._request("POST", f"/api/licences/{lic.id}/present", json={
            "holder_id_number": self.state.id_number, "verification": self._verification(), "purpose": purpose})
        with self._lock:
            self.state.purpose = purpose
        return self._take(data)

    def next_token(self) -> Shown:
        """The next rotating token (worker thread); sets ``needs_reverify`` when the server
        asks for the face check again."""
        shown = self.state.shown
        if shown is None:
            raise KioskError("nothing shown")
        try:
            data = self.kiosk.client._request("POST", f"/api/licences/presentations/{shown.presentation}/token")
        except ServerRejected as exc:
            if exc.code == "licence_reverify":
                with self._lock:
                    self.state.needs_reverify = True
            raise
        return self._take(data)

    def _take(self, data: dict[str, Any]) -> Shown:
        pixels, modules = qr_pixels(str(data["qr"]))
        exp = float(data["expires_at"])
        shown = Shown(qr=str(data["qr"]), pixels=pixels, modules=modules, expires_at=exp,
                      issued_at=float(data.get("issued_at") or exp - 120),
                      refresh_seconds=int(data.get("refresh_seconds") or 60),
                      reverify_at=float(data.get("reverify_at") or 0), presentation=int(data["presentation"]),
                      case=str(data.get("case") or ""), received=self.clock())
        with self._lock:
            self.state.shown = shown
        return shown

    def seconds_to_refresh(self) -> int:
        shown = self.state.shown
        if shown is None:
            return 0
        return max(0, int(round(shown.refresh_seconds - (self.clock() - shown.received))))

    def token_fresh(self, lifetime_margin: float = 0.0) -> bool:
        """False once the shown token is past its lifetime (never leave a dead QR up)."""
        shown = self.state.shown
        if shown is None:
            return False
        lifetime = shown.expires_at - shown.issued_at
        return self.clock() - shown.received < lifetime - lifetime_margin

    # -- printing ------------------------------------------------------------------------
    def print_copy(self) -> dict[str, Any]:
        """自助打证 of the chosen licence (worker thread): the copy's case, online check URL
        and print status."""
        lic = self.state.chosen
        if lic is None or not self.verified:
            raise KioskError("no licence chosen")
        body: dict[str, Any] = {"holder_id_number": self.state.id_number, "verification": self._verification()}
        printer = str(self.kiosk.config.get("approvals", "printer") or "")
        if printer:  # this kiosk's receipt printer in the server's print queue (as 秒批 certificates)
            body["printer"] = printer
        data: dict[str, Any] = self.kiosk.client._request("POST", f"/api/licences/{lic.id}/print", json=body)
        with self._lock:
            self.state.printed = data
        return data

    # -- the end -------------------------------------------------------------------------
    def _end_presentation(self) -> None:
        shown = self.state.shown
        if shown is None:
            return
        client = self.kiosk.client
        pid = shown.presentation

        def end() -> None:
            try:
                client._request("POST", f"/api/licences/presentations/{pid}/end")
            except KioskError as exc:  # the server refuses new tokens after 30 min anyway
                log.info("could not end presentation %s: %s", pid, exc)

        threading.Thread(target=end, daemon=True, name="licence-end").start()

    def finish(self) -> str:
        """The citizen is done (完成): end the presentation, forget the licence data and go
        straight to the rating of this kiosk transaction (DESIGN §5: a 亮证 or 打证 case);
        the screen to show next ("rating", or "home" when nothing was shown or printed)."""
        with self._lock:
            lic = self.state.chosen
            case = (self.state.shown.case if self.state.shown is not None else "") or \
                str((self.state.printed or {}).get("case") or "")
            name = lic.type_name if lic is not None else ""
        self.wipe()
        if not case:
            return "home"
        self.kiosk.rating.begin(case=case, service_name=tr("licence.rating.service", "zh", name=name),
                                service_name_en=tr("licence.rating.service", "en", name=name))
        return "rating"

    def wipe(self, end_on_server: bool = True) -> None:
        """Forget the citizen (ID number, licences, token); end the presentation."""
        with self._lock:
            if end_on_server:
                self._end_presentation()
            self.state = _State()


def licence_flow(kiosk: Any) -> LicenceFlow:
    """The kiosk's licence flow, made on first use and wiped with every session."""
    flow = getattr(kiosk, "licence", None)
    if not isinstance(flow, LicenceFlow):
        flow = LicenceFlow(kiosk)
        kiosk.licence = flow
        kiosk.on_wipe.append(flow.wipe)
    return flow
