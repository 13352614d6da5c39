"""身份核验 screens: place the card → consent (with a non-face way) → camera → result.

Four screens drawing :class:`kiosk.flows.identity.IdentityFlow`, found as ``kiosk.identity`` on
the facade. A caller starts them with::

    kiosk.identity.begin(on_done=..., next_screen="ticket")
    screen.go("identity_card")

Device work (card polling, camera frames, face analysis) runs in worker threads; the UI only
receives results through ``Clock.schedule_once``. The camera preview is mirrored (a selfie
view) and drawn from memory; no frame is kept after it is shown. The timings and the
decision that the camera failed are the flow's (``kiosk.flows.identity``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)

from kiosk.flows.identity import CARD_POLL_SECONDS, t
from kiosk.screens import load_kv, register
from kiosk.screens.base import KioskScreen

log = logging.getLogger(__name__)

#: Preview width in pixels (frames are downscaled for the texture).
PREVIEW_WIDTH = 640


class IdentityScreen(KioskScreen):
    """Shared parts: the flow, texts, leaving = cancelling."""

    def t(self, key: str, _lang: str | None = None, **fields: object) -> str:
        """Identity text in the current language; ``_lang`` makes .kv bindings update."""
        return t(key, self.kiosk.lang if self.kiosk else "zh", **fields)

    @property
    def flow(self) -> Any:
        return getattr(self.kiosk, "identity", None)

    def back(self) -> None:
        self._cancel()
        super().back()

    def home(self) -> None:
        self._cancel()
        super().home()

    def _cancel(self) -> None:
        if self.flow is not None and self.flow.step not in ("idle", "done"):
            self.flow.cancel()

    def reset(self) -> None:
        """Session wiped (idle timeout, 首页 anywhere): forget the card, photo and identity."""
        super().reset()
        if self.flow is not None:
            self.flow.wipe()

    def follow(self) -> None:
        """Show the screen for the flow's current step."""
        step = self.flow.step if self.flow is not None else "idle"
        target = {"card": "identity_card", "consent": "identity_consent", "face": "identity_face",
                  "result": "identity_result"}.get(step)
        if target is not None and target != self.name:
            self.go(target)


class _Worker:
    """A stoppable background loop bound to one screen visit."""

    def __init__(self, name: str, step: Any) -> None:
        self.stop = threading.Event()
        self._step = step
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                if self._step(self.stop) is False:
                    return
            except Exception:  # a device bug must not kill the kiosk; the screen shows a message
                log.exception("identity worker failed")
                return


@register("identity_card")
class IdentityCardScreen(IdentityScreen):
    back_target = "home"

    status_text = StringProperty("")
    """The last read problem (corrupted data, card pulled away), zh or en."""

    can_simulate = BooleanProperty(False)
    """The kiosk's reader is the simulator (demo): offer a button placing a synthetic card."""

    _worker: _Worker | None = None

    def refresh(self) -> None:
        self.status_text = ""
        self.can_simulate = self.kiosk.take_number.can_place_demo_card
        flow = self.flow
        if flow is None:
            return
        if flow.step == "idle":
            flow.begin()
        self._worker = _Worker("identity-card", self._poll)

    def _poll(self, stop: threading.Event) -> bool:
        flow = self.flow
        if flow is None or flow.step != "card":
            return False
        read = flow.poll_card()
        error = flow.state.error
        Clock.schedule_once(lambda _dt: self._update(error))
        if read or flow.step != "card":
            Clock.schedule_once(lambda _dt: self.follow())
            return False
        stop.wait(CARD_POLL_SECONDS)
        return True

    def place_demo_card(self) -> None:
        """Demo: a synthetic senior's card goes onto the simulated reader; the polling
        worker reads it through the real SAM protocol."""
        self.kiosk.take_number.place_demo_card()

    def _update(self, error: tuple[str, str, str] | None) -> None:
        self.status_text = "" if error is None else (error[2] if self.kiosk.lang == "en" else error[1])

    def on_leave(self, *args: Any) -> None:
        if self._worker is not None:
            self._worker.stop.set()
            self._worker = None
        # the simulated reader shared with the swipe step: the demo card leaves with the citizen
        remove = getattr(self.kiosk.card_reader, "remove_card", None)
        if remove is not None and self.flow is not None and \
                self.flow.reader is getattr(self.kiosk.card_reader, "device", None):
            remove()
        super().on_leave(*args)


@register("identity_consent")
class IdentityConsentScreen(IdentityScreen):
    card_text = StringProperty("")
    """Masked name and ID number of the card just read."""

    def refresh(self) -> None:
        card = self.flow.card if self.flow is not None else None
        self.card_text = "" if card is None else f"{card.name_masked}    {card.id_masked}"

    def agree(self) -> None:
        self.run(self.flow.agree_face, lambda _r: self.follow(), busy_key="common.working")

    def decline(self) -> None:
        self.flow.decline_face()
        self.follow()


@register("identity_face")
class IdentityFaceScreen(IdentityScreen):
    preview = ObjectProperty(None, allownone=True)
    """Texture of the last camera frame (mirrored)."""

    challenge_text = StringProperty("")
    """The liveness challenge, e.g. 请缓慢向左转头，再转回来."""

    prompt_text = StringProperty("")
    """Live guidance from the quality gate (请靠近一些, 请保持不动 …)."""

    attempt_text = StringProperty("")

    box = ListProperty([0, 0, 0, 0])
    """Face box in preview-texture pixels (x, y from the bottom-left, w, h); w = 0: none."""

    box_ok = BooleanProperty(False)
    """The face passes the quality gate (box drawn green, else orange)."""

    frame_w = NumericProperty(640)
    frame_h = NumericProperty(480)

    _worker: _Worker | None = None

    def refresh(self) -> None:
        flow = self.flow
        if flow is None or flow.step != "face":
            return
        zh, en = flow.prompt
        self.challenge_text = en if self.kiosk.lang == "en" else zh
        self.prompt_text = ""
        self.attempt_text = self.t("face.attempt", n=flow.state.attempts, max=flow.config.max_attempts)
        self.box = [0, 0, 0, 0]
        self.kiosk.speaker.say(self.challenge_text, self.kiosk.lang)
        self._worker = _Worker("identity-face", self._step)

    def _step(self, stop: threading.Event) -> bool:
        flow = self.flow
        if flow is None or flow.step != "face":
            return False
        step = flow.face_step()
        frame, fb = step.frame, step.feedback
        if frame is None or fb is None:
            if flow.step == "face":  # a dropped frame: try again shortly
                stop.wait(step.wait)
                return True
            Clock.schedule_once(lambda _dt: self.follow())  # the camera failed: the flow moved on
            return False
        preview = self._preview_bytes(frame)
        Clock.schedule_once(lambda _dt: self._show(preview, fb))
        if fb.done:
            Clock.schedule_once(lambda _dt: self.follow(), 0.4)
            return False
        return True

    @staticmethod
    def _preview_bytes(frame: np.ndarray) -> tuple[bytes, int, int, float]:
        import cv2

        h, w = frame.shape[:2]
        scale = PREVIEW_WIDTH / w if w > PREVIEW_WIDTH else 1.0
        small = cv2.resize(frame, None, fx=scale, fy=scale) if scale != 1.0 else frame
        # mirror (selfie view) and flip vertically (Kivy textures start at the bottom row)
        small = np.ascontiguousarray(small[::-1, ::-1])
        return small.tobytes(), small.shape[1], small.shape[0], scale

    def _show(self, preview: tuple[bytes, int, int, float], fb: Any) -> None:
        data, w, h, scale = preview
        tex = self.preview
        if tex is None or tex.size != (w, h):
            tex = Texture.create(size=(w, h), colorfmt="bgr")
        tex.blit_buffer(data, colorfmt="bgr", bufferfmt="ubyte")
        self.preview = None
        self.preview = tex
        self.frame_w, self.frame_h = w, h
        if fb.box is None:
            self.box = [0, 0, 0, 0]
        else:
            x, y, bw, bh = (v * scale for v in fb.box)
            self.box = [w - x - bw, h - y - bh, bw, bh]  # mirrored, bottom-left origin
        self.box_ok = fb.quality == "ok"
        text = fb.prompt_en if self.kiosk.lang == "en" else fb.prompt_zh
        if text != self.challenge_text:
            self.prompt_text = text
        else:
            self.prompt_text = ""

    def box_on_screen(self, image: Any, box: list[float], fw: float, fh: float) -> list[float]:
        """Map the box from texture pixels to window coordinates of ``image`` (keep_ratio)."""
        if not box[2] or not fw or not fh:
            return [0, 0, 0, 0]
        iw, ih = image.norm_image_size
        s = iw / fw
        x0 = image.center_x - iw / 2
        y0 = image.center_y - ih / 2
        return [x0 + box[0] * s, y0 + box[1] * s, box[2] * s, box[3] * s]

    def on_leave(self, *args: Any) -> None:
        if self._worker is not None:
            self._worker.stop.set()
            self._worker = None
        self.preview = None
        super().on_leave(*args)


@register("identity_result")
class IdentityResultScreen(IdentityScreen):
    ok = BooleanProperty(False)
    """Verified by face (green) — otherwise orange."""

    title_text = StringProperty("")
    detail_text = StringProperty("")
    can_retry = BooleanProperty(False)

    def refresh(self) -> None:
        flow = self.flow
        if flow is None:
            return
        lang = self.kiosk.lang
        ident = flow.identity
        last = flow.state.last_result
        referral = flow.referral
        self.can_retry = flow.can_retry
        if ident is not None and ident.method == "face":
            self.ok = True
            self.title_text = self.t("result.face")
            self.detail_text = f"{ident.name_masked}    {ident.id_masked}"
        elif ident is not None and ident.method == "card_only":
            self.ok = False
            self.title_text = self.t("result.card_only")
            self.detail_text = f"{ident.name_masked}    {ident.id_masked}"
        elif referral is not None:
            self.ok = False
            self.title_text = self.t("result.manual")
            self.detail_text = referral.en if lang == "en" else referral.zh
        elif last is not None:
            self.ok = False
            self.title_text = last.message_en if lang == "en" else last.message_zh
            self.detail_text = self.t("face.attempt", n=flow.state.attempts, max=flow.config.max_attempts)
        else:
            self.ok = False
            self.title_text = self.detail_text = ""
        if ident is not None or referral is not None:
            self.kiosk.speaker.say(self.title_text, lang)

    def retry(self) -> None:
        self.flow.retry()
        self.follow()

    def decline(self) -> None:
        """After a failed attempt: stop trying the face (card-only or a referral)."""
        self.flow.decline_face()
        self.refresh()

    def proceed(self) -> None:
        flow = self.flow
        target = flow.next_screen
        flow.finish()
        if target == "home":
            flow.wipe()
            super().home()
        else:
            self.go(target)


load_kv(__file__)
