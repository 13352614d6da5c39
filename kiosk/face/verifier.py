"""One face-verification attempt: live frames in, a decision out (人证比对 + 活体检测).

``session = FaceVerifier(config).start(id_photo, challenge)`` then ``session.feed(frame)`` for
each camera frame until ``session.result`` is set. Each call returns :class:`FrameFeedback`
for the screen (face box, the prompt to show/speak). The decision uses the smallest distance
among up to ``decision_frames`` descriptors taken from good, roughly frontal frames of the same
attempt, and is only made once the liveness challenge passed.

Nothing here writes anything: frames are dropped after use; the result carries numbers only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import FaceConfig
from .errors import NoUsableFace
from .liveness import (
    CHALLENGES,
    FAIL_MESSAGES,
    LivenessResult,
    LivenessTracker,
    random_challenge,
    yaw,
)
from .pipeline import FaceAnalyzer, Quality, distance

RESULT_MESSAGES: dict[str, tuple[str, str]] = {
    "match": ("人证比对通过", "Face matches the ID photo"),
    "mismatch": ("人脸与身份证照片不一致", "Face does not match the ID photo"),
    "liveness_failed": ("活体检测未通过", "Liveness check failed"),
    "no_face": ("未能采集到清晰人脸", "No clear face was captured"),
}


@dataclass
class FrameFeedback:
    box: tuple[int, int, int, int] | None
    quality: Quality
    prompt_zh: str
    prompt_en: str
    stage: str  # challenge | collecting | done


@dataclass
class VerificationResult:
    match: bool
    reason: str  # match | mismatch | liveness_failed | no_face
    distance: float | None
    threshold: float
    liveness: LivenessResult
    frames: int
    good_frames: int
    descriptors: int
    seconds: float
    distances: list[float] = field(default_factory=list)

    @property
    def message_zh(self) -> str:
        if self.reason == "liveness_failed" and self.liveness.reason in FAIL_MESSAGES:
            return f"{RESULT_MESSAGES[self.reason][0]}：{FAIL_MESSAGES[self.liveness.reason][0]}"
        return RESULT_MESSAGES[self.reason][0]

    @property
    def message_en(self) -> str:
        if self.reason == "liveness_failed" and self.liveness.reason in FAIL_MESSAGES:
            return f"{RESULT_MESSAGES[self.reason][1]}: {FAIL_MESSAGES[self.liveness.reason][1]}"
        return RESULT_MESSAGES[self.reason][1]

    def as_audit(self) -> dict[str, Any]:
        """Numbers only — no image, no descriptor (DESIGN §11)."""
        return {
            "match": self.match, "reason": self.reason,
            "distance": None if self.distance is None else round(self.distance, 4),
            "threshold": self.threshold, "liveness": self.liveness.as_audit(),
            "frames": self.frames, "good_frames": self.good_frames, "seconds": round(self.seconds, 2),
        }


class VerificationSession:
    def __init__(
        self,
        analyzer: FaceAnalyzer,
        id_descriptor: np.ndarray,
        challenge: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.analyzer = analyzer
        self.config = analyzer.config
        self._id = id_descriptor
        self.challenge = challenge
        self.liveness = LivenessTracker(challenge, self.config)
        self._clock = clock
        self._t0 = clock()
        self.frames = 0
        self.good = 0
        self._last_desc_at = -10
        self.distances: list[float] = []
        self.result: VerificationResult | None = None

    @property
    def prompt(self) -> tuple[str, str]:
        return CHALLENGES[self.challenge]

    def feed(self, frame: np.ndarray) -> FrameFeedback:
        cfg = self.config
        if self.result is not None:
            return FrameFeedback(None, Quality("ok"), *self._done_prompt(), "done")
        self.frames += 1
        obs = self.analyzer.observe(frame)
        stage = "challenge" if not self.liveness.done else "collecting"
        if obs.quality.ok and obs.landmarks is not None:
            self.good += 1
            self.liveness.add(obs.landmarks)
            frontal = abs(yaw(obs.landmarks)) < 0.35
            if (
                frontal
                and len(self.distances) < cfg.decision_frames
                and self.frames - self._last_desc_at >= 2
            ):
                d = self.analyzer.descriptor(frame, obs.rect)
                self.distances.append(distance(d, self._id))
                self._last_desc_at = self.frames
        if self.liveness.result.passed and len(self.distances) >= cfg.min_decision_frames:
            self._finish()
        elif self.frames >= cfg.challenge_frames or self._clock() - self._t0 >= cfg.challenge_seconds:
            self.liveness.give_up()
            self._finish()
        if self.result is not None:
            return FrameFeedback(obs.box, obs.quality, *self._done_prompt(), "done")
        if not obs.quality.ok:
            zh, en = obs.quality.message_zh, obs.quality.message_en
        elif stage == "challenge" and not self.liveness.done:
            zh, en = self.prompt
        else:
            zh, en = ("请正视摄像头", "Please look at the camera")
        return FrameFeedback(obs.box, obs.quality, zh, en, stage)

    def _done_prompt(self) -> tuple[str, str]:
        assert self.result is not None
        return self.result.message_zh, self.result.message_en

    def _finish(self) -> None:
        cfg = self.config
        best = min(self.distances) if self.distances else None
        live = self.liveness.result
        if not live.passed:
            reason, match = "liveness_failed", False
        elif best is None:
            reason, match = "no_face", False
        elif best <= cfg.threshold:
            reason, match = "match", True
        else:
            reason, match = "mismatch", False
        self.result = VerificationResult(
            match=match, reason=reason, distance=best, threshold=cfg.threshold, liveness=live,
            frames=self.frames, good_frames=self.good, descriptors=len(self.distances),
            seconds=self._clock() - self._t0, distances=sorted(self.distances),
        )
        self._id = np.zeros_like(self._id)


class FaceVerifier:
    """Holds the models and the configuration; starts one :class:`VerificationSession` per attempt."""

    def __init__(self, config: FaceConfig | None = None, analyzer: FaceAnalyzer | None = None) -> None:
        self.config = config or FaceConfig()
        self.analyzer = analyzer or FaceAnalyzer(self.config)

    def id_descriptor(self, id_photo: np.ndarray) -> np.ndarray:
        """Descriptor of the ID photo; raises :class:`NoUsableFace` when it has no usable face."""
        if id_photo is None:
            raise NoUsableFace("no ID photo")
        return self.analyzer.describe_still(id_photo)[0]

    def start(
        self,
        id_descriptor: np.ndarray,
        challenge: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> VerificationSession:
        return VerificationSession(self.analyzer, id_descriptor, challenge or random_challenge(self.config), clock)
