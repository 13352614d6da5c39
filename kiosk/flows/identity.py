"""Identity at the kiosk (身份核验): ID card → consent → face match with liveness → result.

No Kivy here; the screens in ``kiosk/screens/identity.py`` only draw this flow's state.

Usage by another flow (priority tickets now, instant approvals later)::

    flow = IdentityFlow(reader, camera, verifier, IdentityConfig(), kiosk_name="kiosk-01",
                        audit=send_audit)
    flow.begin(on_done=lambda identity: ...)      # then show screen "identity_card"
    ...
    identity.method      # "face" | "card_only" | "manual"
    identity.id_number   # memory only; wiped by flow.wipe()

``on_done`` receives a :class:`VerifiedIdentity` (the card was read) or ``None`` (the citizen
cancelled or no card could be read). ``method`` says how far verification went:

* ``face`` — face matched the ID photo, liveness passed;
* ``card_only`` — the citizen declined face capture (non-face alternative), or the card has no
  decodable photo and the hall accepts a card read; the clerk checks the face at the window;
* ``manual`` — face verification failed ``max_attempts`` times (or could not run and the hall
  does not accept card-only): 转人工, ``referral`` carries the reason code and message.

The timing rules live here too, not in the screens: how often the card is polled
(:data:`CARD_POLL_SECONDS`), and when a silent camera counts as failed (:data:`CAMERA_MISSES`
frames in a row; :meth:`IdentityFlow.face_step` then ends the attempt the configured way).

Audit: every verification that ends — a face attempt passing or failing, a card-only check,
a referral (转人工) — is reported through the ``audit`` callback as the body of the server's
``POST /api/audit/identity-checks``: ``method`` (face | card), ``result`` (pass | fail |
referred), ``purpose``, ``reason_code``, ``liveness`` (pass | fail | skipped), ``attempts``,
``checked_at`` and, when the face verifier's result has them, ``score``/``threshold`` and
``model``/``model_digest``. The kiosk posts it to the server (``Kiosk.report_identity_check``).

Privacy (DESIGN §11): frames are processed and dropped; the ID photo and its descriptor live
in this object until :meth:`wipe`; the audit callback receives numbers only (result, score,
threshold, model and its digest, liveness, time, kiosk) — never an image, a feature, a name or
an ID number.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from hardware.idcard import IdCardData, IdCardError, IdCardReader, ReaderUnavailable
from hardware.idnumber import MaskedIdentity
from kiosk.i18n import tr

log = logging.getLogger(__name__)

#: Seconds between card polls while the citizen places the card.
CARD_POLL_SECONDS = 0.3
#: Consecutive missing camera frames before the camera counts as failed …
CAMERA_MISSES = 30
#: … each waited for this long (so a camera silent for ~3 s has failed).
FRAME_RETRY_SECONDS = 0.1


def t(key: str, lang: str = "zh", **fields: object) -> str:
    """Text ``key`` of the identity screens (``identity.<key>`` in ``kiosk/i18n.py``)."""
    return tr(f"identity.{key}", lang, **fields)


@dataclass(frozen=True)
class IdentityConfig:
    """The ``[identity]`` table of kiosk.toml."""

    allow_card_only: bool = True
    """Declining face capture (or a card without a decodable photo) still yields an identity
    with method ``card_only``; false → ``manual`` (refer to a window)."""
    card_attempts: int = 3
    """Failed card reads (corrupted data, card pulled away) before referring to a window."""
    max_attempts: int = 3
    """Face attempts before 转人工."""
    verify_face_for_priority: bool = True
    """Priority tickets go through this check (read by the take-number flow)."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> IdentityConfig:
        data = dict(data or {})
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown [identity] settings: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass(repr=False)
class VerifiedIdentity(MaskedIdentity):
    """Who is at the kiosk, for later flows. Memory only; :meth:`wipe` at session end."""

    name: str
    id_number: str
    sex: str
    nation: str
    birth_date: dt.date
    valid_to: dt.date | None
    method: str  # face | card_only | manual
    face_score: float | None = None  # cosine similarity to the ID photo (higher = more alike)
    liveness: str | None = None  # the challenge passed, e.g. "turn_left"
    verified_at: float = 0.0
    referral: tuple[str, str, str] | None = None  # (code, zh, en) when method == "manual"

    @property
    def face_verified(self) -> bool:
        return self.method == "face"

    def wipe(self) -> None:
        self.name = self.id_number = ""

    def __repr__(self) -> str:
        return f"VerifiedIdentity({self.name_masked}, {self.id_masked}, method={self.method})"


@dataclass
class Referral:
    code: str
    zh: str
    en: str


@dataclass
class FaceFrame:
    """What the face screen draws for one frame."""

    box: tuple[int, int, int, int] | None
    frame_size: tuple[int, int]
    prompt_zh: str
    prompt_en: str
    quality: str
    done: bool


@dataclass
class FaceStep:
    """One step of the face screen's worker: the frame read (None: none came) and, when there
    was one, what to draw; ``wait``: seconds before the next step (a dropped frame)."""

    frame: np.ndarray | None
    feedback: FaceFrame | None = None
    wait: float = 0.0


@dataclass
class _State:
    step: str = "idle"  # idle | card | consent | face | result | done
    card: IdCardData | None = None
    card_errors: int = 0
    error: tuple[str, str, str] | None = None  # code, zh, en of the last card/camera problem
    attempts: int = 0
    misses: int = 0  # consecutive camera reads without a frame
    challenge: str | None = None
    last_result: Any = None  # kiosk.face.VerificationResult of the last attempt
    identity: VerifiedIdentity | None = None
    id_descriptor: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class IdentityFlow:
    """The identity steps, thread-safe: the face screen feeds frames from a worker thread."""

    def __init__(
        self,
        reader: IdCardReader | None,
        camera: Any,
        verifier: Any,
        config: IdentityConfig | None = None,
        on_done: Callable[[VerifiedIdentity | None], None] | None = None,
        *,
        audit: Callable[[dict[str, Any]], None] | None = None,
        kiosk_name: str = "kiosk",
        today: Callable[[], dt.date] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.reader = reader
        self.camera = camera
        self.verifier = verifier
        self.config = config or IdentityConfig()
        self.on_done = on_done
        self.audit = audit or (lambda record: log.info("identity audit %s", record))
        self.kiosk_name = kiosk_name
        self.today = today or dt.date.today
        self.clock = clock
        self.rng = rng or random.SystemRandom()
        self._lock = threading.RLock()
        self._session: Any = None
        self.state = _State()
        self.next_screen = "home"
        self.purpose = ""

    # -- steps -------------------------------------------------------------------------------
    @property
    def step(self) -> str:
        return self.state.step

    @property
    def card(self) -> IdCardData | None:
        return self.state.card

    @property
    def identity(self) -> VerifiedIdentity | None:
        return self.state.identity

    def begin(
        self, on_done: Callable[[VerifiedIdentity | None], None] | None = None, next_screen: str = "home",
        purpose: str = "",
    ) -> None:
        """Start a fresh verification (wipes any previous one). ``next_screen``: where the result
        screen's 继续 goes after ``on_done`` ran ("home" ends the session); ``purpose``: what the
        check is for, in the audit (``priority_ticket``, ``approval``, ``licence``)."""
        self.wipe()
        if on_done is not None:
            self.on_done = on_done
        self.next_screen = next_screen
        self.purpose = purpose
        self.state.step = "card"

    def poll_card(self) -> bool:
        """One card poll (call from a worker thread every ~0.3 s). True when a card was read.

        Read errors are kept in ``state.error`` for the screen; after ``card_attempts`` failures
        the flow ends with a referral.
        """
        with self._lock:
            if self.state.step != "card":
                return False
            if self.reader is None:
                missing = ReaderUnavailable()
                self.state.error = (missing.code, missing.zh, missing.en)
                return False
        try:
            if not self.reader.card_present():
                return False
            card = self.reader.read_card()
        except IdCardError as e:
            with self._lock:
                self.state.card_errors += 1
                self.state.error = (e.code, e.zh, e.en)
                if self.state.card_errors >= self.config.card_attempts:
                    self._finish_without_card("card_unreadable")
                    self._audit("card", "referred", "card_unreadable")
            return False
        with self._lock:
            self.state.error = None
            self.state.card = card
            if card.is_expired(self.today()):
                self._refer("card_expired", t("refer.card_expired"), t("refer.card_expired", "en"))
                self._audit("card", "referred", "card_expired")
                return True
            self.state.step = "consent"
        return True

    def decline_face(self) -> None:
        """The non-face alternative (at consent, or after a failed attempt instead of retrying):
        card-only or a referral, per configuration."""
        with self._lock:
            after_failure = self.state.step == "result" and self.state.identity is None and self.can_retry
            if self.state.step != "consent" and not after_failure:
                return
            self._session = None
            if self.config.allow_card_only:
                self._complete("card_only")
            else:
                self._refer("declined", "本人选择到窗口核验", "Chose to be checked at a window")
            self._audit("card", "pass" if self.config.allow_card_only else "referred", "declined")

    def agree_face(self) -> None:
        """Consent given: prepare the ID photo descriptor and start the first attempt.

        Without a decodable photo (no licensed WLT decoder, damaged photo) face matching cannot
        run: card-only or a referral, per configuration.
        """
        from kiosk.face import FaceError

        with self._lock:
            if self.state.step != "consent" or self.state.card is None:
                return
            photo = self.state.card.photo
        reason = None
        desc = None
        if photo is None:
            reason = "no_photo"
        elif self.camera is None:
            reason = "camera"
        else:
            try:
                desc = self.verifier.id_descriptor(photo)
            except FaceError:
                reason = "no_photo"
        with self._lock:
            if reason is not None:
                if self.config.allow_card_only:
                    self.state.extra["card_only_reason"] = reason
                    self._complete("card_only")
                else:
                    self._refer(reason, t(f"refer.{reason}"), t(f"refer.{reason}", "en"))
                self._audit("card", "pass" if self.config.allow_card_only else "referred", reason)
                return
            self.state.id_descriptor = desc
            self._start_attempt()

    def _start_attempt(self) -> None:
        from kiosk.face import random_challenge

        self.state.attempts += 1
        self.state.misses = 0
        self.state.challenge = random_challenge(self.verifier.config, self.rng)
        self._session = self.verifier.start(self.state.id_descriptor, self.state.challenge)
        self.state.last_result = None
        self.state.step = "face"

    def retry(self) -> None:
        """Another attempt after a failed one (the result screen's 再试一次)."""
        with self._lock:
            if self.state.step == "result" and self.can_retry:
                self._start_attempt()

    @property
    def can_retry(self) -> bool:
        r = self.state.last_result
        return (
            r is not None and not r.match and self.state.attempts < self.config.max_attempts
            and self.state.identity is None
        )

    @property
    def prompt(self) -> tuple[str, str]:
        """The challenge, for the screen to show and speak."""
        if self._session is None:
            return "", ""
        return self._session.prompt

    def read_frame(self) -> np.ndarray | None:
        cam = self.camera
        return None if cam is None else cam.read()

    def face_step(self) -> FaceStep:
        """One step of the face screen's worker thread: read a frame and feed it to the
        attempt. A dropped frame is normal (``wait`` and call again); :data:`CAMERA_MISSES`
        in a row mean the camera failed: :meth:`camera_failed` ends the attempt (card-only or
        转人工), after which :attr:`step` is no longer ``face``."""
        frame = self.read_frame()
        if frame is None:
            with self._lock:
                if self.state.step != "face":
                    return FaceStep(None)
                self.state.misses += 1
                failed = self.state.misses >= CAMERA_MISSES
            if failed:
                self.camera_failed()
                return FaceStep(None)
            return FaceStep(None, wait=FRAME_RETRY_SECONDS)
        with self._lock:
            self.state.misses = 0
        return FaceStep(frame, self.process_frame(frame))

    def process_frame(self, frame: np.ndarray) -> FaceFrame:
        """Feed one camera frame to the current attempt (any thread)."""
        with self._lock:
            session = self._session
            if self.state.step != "face" or session is None:
                return FaceFrame(None, (frame.shape[1], frame.shape[0]), "", "", "", True)
        fb = session.feed(frame)  # slow part outside the lock
        with self._lock:
            if session.result is not None and session is self._session and self.state.step == "face":
                self._attempt_done(session.result)
        return FaceFrame(fb.box, (frame.shape[1], frame.shape[0]), fb.prompt_zh, fb.prompt_en,
                         fb.quality.reason, session.result is not None)

    def camera_failed(self) -> None:
        """The camera stopped delivering frames during an attempt."""
        with self._lock:
            if self.state.step != "face":
                return
            self._session = None
            if self.config.allow_card_only:
                self.state.extra["card_only_reason"] = "camera"
                self._complete("card_only")
            else:
                self._refer("camera", t("refer.camera"), t("refer.camera", "en"))
            self._audit("card", "pass" if self.config.allow_card_only else "referred", "camera")

    def _attempt_done(self, result: Any) -> None:
        self.state.last_result = result
        self._session = None
        if result.match:
            self._complete("face", result)
            self._audit("face", "pass", result.reason, result)
        elif self.state.attempts >= self.config.max_attempts:
            n = self.state.attempts
            self._refer("face_failed", t("refer.face_failed", n=n) + "：" + result.message_zh,
                        t("refer.face_failed", "en", n=n) + ": " + result.message_en)
            self._audit("face", "referred", result.reason, result)
        else:
            self.state.step = "result"
            self._audit("face", "fail", result.reason, result)

    # -- endings -----------------------------------------------------------------------------
    def _identity(self, method: str, result: Any = None) -> VerifiedIdentity:
        card = self.state.card
        assert card is not None
        return VerifiedIdentity(
            name=card.name, id_number=card.id_number, sex=card.sex, nation=card.nation,
            birth_date=card.birth_date, valid_to=card.valid_to, method=method,
            face_score=None if result is None else result.score,
            liveness=None if result is None else result.liveness.challenge,
            verified_at=self.clock(),
        )

    def _complete(self, method: str, result: Any = None) -> None:
        self.state.identity = self._identity(method, result)
        self.state.step = "result"
        self._drop_photo()

    def _refer(self, code: str, zh: str, en: str) -> None:
        if self.state.card is not None:
            ident = self._identity("manual", self.state.last_result)
            ident.referral = (code, zh, en)
            self.state.identity = ident
        self.state.extra["referral"] = Referral(code, zh, en)
        self.state.step = "result"
        self._drop_photo()

    def _finish_without_card(self, code: str) -> None:
        self.state.extra["referral"] = Referral(code, t(f"refer.{code}"), t(f"refer.{code}", "en"))
        self.state.step = "result"

    @property
    def referral(self) -> Referral | None:
        ref = self.state.extra.get("referral")
        return ref if isinstance(ref, Referral) else None

    def finish(self) -> VerifiedIdentity | None:
        """The result screen's 继续: hand the identity to the caller (``on_done``)."""
        with self._lock:
            ident = self.state.identity
            self.state.step = "done"
            callback = self.on_done
        if callback is not None:
            callback(ident)
        return ident

    def cancel(self) -> None:
        """The citizen left the identity steps (返回/首页)."""
        with self._lock:
            callback = self.on_done if self.state.step not in ("idle", "done") else None
            self.wipe()
        if callback is not None:
            callback(None)

    def _audit(self, method: str, result: str, reason: str, face: Any = None) -> None:
        """Report a verification that ended (see the module docstring) through ``audit``.

        ``face``: the face verifier's result of the attempt, if there was one. Its ``score``
        (and ``threshold``), ``model`` and ``model_digest`` are sent when it has them (read with
        getattr: the verifier's model decides what it reports); a distance is not a score and
        is not sent. Numbers and codes only."""
        record: dict[str, Any] = {
            "method": method, "result": result, "purpose": self.purpose, "reason_code": reason,
            "liveness": "skipped", "attempts": self.state.attempts, "checked_at": self.clock(),
        }
        if face is not None:
            state = getattr(getattr(face, "liveness", None), "state", None)
            if state in ("passed", "failed"):
                record["liveness"] = "pass" if state == "passed" else "fail"
            score = getattr(face, "score", None)
            if score is not None:
                record["score"] = float(score)
                threshold = getattr(face, "threshold", None)
                if threshold is not None:
                    record["threshold"] = float(threshold)
            for name in ("model", "model_digest"):  # the result's, else the verifier's
                value = getattr(face, name, None) or getattr(self.verifier, name, None)
                if isinstance(value, str) and value:
                    record[name] = value
        try:
            self.audit(record)
        except Exception:  # the audit sink must never break the citizen's session
            log.exception("identity audit sink failed")

    def _drop_photo(self) -> None:
        card = self.state.card
        if card is not None:
            card.photo = None
            card.photo_wlt = b""
        if self.state.id_descriptor is not None:
            self.state.id_descriptor = None

    def wipe(self) -> None:
        """Forget the card, the photo, the descriptor, the identity (session end)."""
        with self._lock:
            if self.state.card is not None:
                self.state.card.wipe()
            if self.state.identity is not None:
                self.state.identity.wipe()
            self._session = None
            self.state = _State()


class _PacedLoop:
    """A looping in-memory camera at a fixed frame rate (the demo's stand-in camera)."""

    def __init__(self, frames: list[np.ndarray], fps: float = 12.0) -> None:
        self.frames = frames
        self.interval = 1.0 / fps
        self._i = 0
        self._next = 0.0

    def read(self) -> np.ndarray | None:
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(now, self._next) + self.interval
        frame = self.frames[self._i % len(self.frames)]
        self._i += 1
        return frame

    def close(self) -> None:
        self.frames = []


def make_identity_flow(
    sections: Mapping[str, Mapping[str, Any]],
    *,
    demo: bool = False,
    reader: IdCardReader | None = None,
    audit: Callable[[dict[str, Any]], None] | None = None,
    kiosk_name: str = "kiosk",
    today: Callable[[], dt.date] | None = None,
) -> IdentityFlow:
    """Build the flow from kiosk.toml sections ``idcard``, ``camera``, ``face``, ``identity``.
    Loads the face models (1–3 s): call it once at start-up, off the UI thread.

    ``reader``: an already open ``hardware.idcard`` reader to share (one serial port cannot be
    opened twice — pass the one the swipe step uses). Otherwise the ``idcard`` section is used:
    ``url`` (``open_reader_url``) or ``driver`` + keys (``open_reader``).

    ``demo=True`` (``run_kiosk.py --demo``): a camera replaying the real head-turn clip (see
    docs/identity.md) with the challenge fixed to the one that clip answers, and — unless a
    reader is passed — a simulated reader whose card "photo" is ``assets/demo/lin-manuel-miranda.png``
    (``kiosk.demo.DEMO_ID_PHOTO``). A shared simulated reader should be opened with
    ``sim_photo`` set to that file so its cards carry the same demo photo. Demo data only —
    never in a release (``assets/demo/SOURCES.md``).
    """
    from hardware.camera import open_camera
    from hardware.idcard import SimCard, SimulatedReader, open_reader, open_reader_url
    from kiosk.face import FaceConfig, FaceVerifier

    face_cfg = dict(sections.get("face", {}))
    camera: Any
    if demo:
        from kiosk.demo import DEMO_CLIP, DEMO_ID_PHOTO
        from kiosk.face.testvideo import read_clip, real_turn

        if reader is None:
            sim = SimulatedReader(None, str(DEMO_ID_PHOTO))
            sim.insert(SimCard(name="林曼努", birth="19800116", id_number="110101198001160019"))
            reader = sim
        camera = _PacedLoop(real_turn(read_clip(DEMO_CLIP), "turn_left"))
        face_cfg["challenges"] = ["turn_left"]
    else:
        if reader is None:
            idcard = {k: v for k, v in sections.get("idcard", {}).items() if v != ""}
            if idcard.get("url"):
                reader = open_reader_url(str(idcard["url"]))
            elif idcard.get("driver"):
                reader = open_reader(idcard)
        cam_cfg = {k: v for k, v in sections.get("camera", {}).items() if v != ""}
        camera = open_camera(cam_cfg) if "source" in cam_cfg else None
    return IdentityFlow(
        reader, camera, FaceVerifier(FaceConfig.from_mapping(face_cfg)),
        IdentityConfig.from_mapping(sections.get("identity")),
        audit=audit, kiosk_name=kiosk_name, today=today,
    )


def attach_identity(kiosk: Any, *, demo: bool = False,
                    audit: Callable[[dict[str, Any]], None] | None = None) -> IdentityFlow | None:
    """Build the identity check for ``kiosk`` (a :class:`kiosk.flows.session.Kiosk`) and set
    ``kiosk.identity``; returns it, or None when this kiosk has none.

    The check is built when ``[identity] verify_face_for_priority`` is on, the kiosk has an
    ID-card reader and a camera (``[camera] source``; ``demo``: the replayed clip). It shares
    the swipe step's open reader (``kiosk.card_reader.device``). Loads the face models
    (1–3 s): call it off the UI thread; until it returns, priority tickets use the plain swipe.

    ``audit``: where the checks' audit records go; default ``kiosk.report_identity_check``
    (posted to the server's audit trail, never blocking the citizen).
    """
    sections = kiosk.config.sections()
    if not sections.get("identity", {}).get("verify_face_for_priority", True):
        return None
    device = getattr(kiosk.card_reader, "device", None)
    if device is None:  # no reader: nothing to compare a face with
        return None
    if not demo and sections.get("camera", {}).get("source", "") == "":
        return None
    flow = make_identity_flow(sections, demo=demo, reader=device,
                              audit=audit or getattr(kiosk, "report_identity_check", None),
                              kiosk_name=str(kiosk.config.get("kiosk", "name")),
                              today=kiosk.today)
    kiosk.identity = flow
    return flow
