"""One face-verification attempt: live frames in, a decision out (人证比对 + 活体检测).

``session = FaceVerifier(config).start(id_feature, challenge)`` then ``session.feed(frame)`` for
each camera frame until ``session.result`` is set. Each call returns :class:`FrameFeedback`
for the screen (face box, the prompt to show/speak). The decision uses the highest cosine
similarity to the ID photo among up to ``decision_frames`` SFace features taken from good,
roughly frontal frames of the same attempt — a match when it is ≥ ``min_similarity`` — and is
only made once the liveness challenge passed.

Nothing here writes anything: frames are dropped after use; the result carries numbers only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import FaceConfig
from .errors import FaceError, NoUsableFace
from .liveness import (
    CHALLENGES,
    FAIL_MESSAGES,
    LivenessResult,
    LivenessTracker,
    random_challenge,
    yaw,
)
from .pipeline import FaceAnalyzer, Quality, similarity

#: Face-track continuity: frames without a face that break the track, the largest centre
#: jump between consecutive frames (× face width), the largest size change.
TRACK_GAP_FRAMES = 5
TRACK_MAX_JUMP = 0.6
TRACK_MAX_SCALE = 1.5
#: Decision frames are roughly frontal: |yaw| (the nose's offset in eye distances) below this.
FRONTAL_YAW = 0.35

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
    """One attempt's outcome. ``score``, ``threshold``, ``model`` and ``model_digest`` are what
    the kiosk sends to the server's audit (``identity.checked``)."""

    match: bool
    reason: str  # match | mismatch | liveness_failed | no_face
    score: float | None
    """Best cosine similarity to the ID photo among the attempt's features (higher = more
    alike); None when no feature was taken."""
    threshold: float
    """The ``min_similarity`` in force for this decision."""
    liveness: LivenessResult
    frames: int
    good_frames: int
    features: int
    seconds: float
    scores: list[float] = field(default_factory=list)
    """Every feature's similarity, best first."""
    model: str = ""
    """Short name of the recognizer that gave the score (``sface-2021dec-int8bq``)."""
    model_digest: str = ""
    """sha256 of the recognizer's model file."""

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
        """Numbers only — no image, no feature (DESIGN §11)."""
        return {
            "match": self.match, "reason": self.reason,
            "score": None if self.score is None else round(self.score, 4),
            "threshold": self.threshold, "model": self.model, "model_digest": self.model_digest,
            "liveness": self.liveness.as_audit(),
            "frames": self.frames, "good_frames": self.good_frames, "seconds": round(self.seconds, 2),
        }


class VerificationSession:
    def __init__(
        self,
        analyzer: FaceAnalyzer,
        id_feature: np.ndarray,
        challenge: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.analyzer = analyzer
        self.config = analyzer.config
        self._id = id_feature
        self.challenge = challenge
        self.liveness = LivenessTracker(challenge, self.config)
        self._clock = clock
        self._t0 = clock()
        self.frames = 0
        self.good = 0
        self._last_feat_at = -10
        self.scores: list[float] = []
        self.result: VerificationResult | None = None
        self._last_box: tuple[int, int, int, int] | None = None
        self._gap = 0
        self.resets = 0
        self._feats: list[np.ndarray] = []  # this attempt's live features (memory only)

    def _track(self, obs: Any) -> None:
        """Keep liveness and features on one continuous face track.

        A different face must not answer the challenge for the face that is matched (e.g. the
        owner's photo shown first, then an impostor turning his head). When the face vanishes
        for a few frames, several faces appear, or the box jumps or changes size abruptly, the
        evidence gathered so far is discarded and the challenge starts again. A swap the box
        does not reveal is caught by the features (``_add_feature``): every feature of an
        attempt, including one of the frame that answered the challenge, must have a cosine
        similarity ≥ ``min_track_similarity`` with the mean of the attempt's earlier ones (one
        person's live frames: ≥ 0.66 on the real clip; another person: ≤ 0.33).
        """
        box = obs.box if obs.faces == 1 else None
        if box is None:
            self._gap += 1
            if obs.faces > 1 or self._gap >= TRACK_GAP_FRAMES:
                self._last_box = None
            return
        last, self._last_box, self._gap = self._last_box, box, 0
        if last is None:
            if self.good or self.scores:
                self._reset_track()
            return
        (x0, y0, w0, h0), (x1, y1, w1, h1) = last, box
        jump = np.hypot((x1 + w1 / 2) - (x0 + w0 / 2), (y1 + h1 / 2) - (y0 + h0 / 2))
        ratio = w1 / max(1, w0)
        if jump > TRACK_MAX_JUMP * max(w0, w1) or not (1 / TRACK_MAX_SCALE <= ratio <= TRACK_MAX_SCALE):
            self._reset_track()

    def _add_feature(self, frame: np.ndarray, obs: Any) -> None:
        f = self.analyzer.feature(frame, obs.face)
        self._last_feat_at = self.frames
        if self._feats and similarity(f, np.mean(self._feats, axis=0)) < self.config.min_track_similarity:
            # another person than the one seen so far: start the challenge again from this face
            self._reset_track()
            self.liveness.add(obs.landmarks, frame, obs.box)
        self._feats.append(f / (float(np.linalg.norm(f)) or 1.0))
        self.scores.append(similarity(f, self._id))

    def _reset_track(self) -> None:
        self.resets += 1
        self.liveness.clear()
        self.liveness = LivenessTracker(self.challenge, self.config)
        self.scores.clear()
        self._feats.clear()
        self._last_feat_at = -10

    @property
    def prompt(self) -> tuple[str, str]:
        return CHALLENGES[self.challenge]

    def feed(self, frame: np.ndarray) -> FrameFeedback:
        cfg = self.config
        if self.result is not None:
            return FrameFeedback(None, Quality("ok"), *self._done_prompt(), "done")
        self.frames += 1
        obs = self.analyzer.observe(frame)
        self._track(obs)
        stage = "challenge" if not self.liveness.done else "collecting"
        if obs.quality.ok and obs.landmarks is not None:
            self.good += 1
            was_done = self.liveness.done
            self.liveness.add(obs.landmarks, frame, obs.box)
            if not was_done and self.liveness.result.passed:
                # the frame that answered the challenge must show the face being matched
                self._add_feature(frame, obs)
            elif (
                abs(yaw(obs.landmarks)) < FRONTAL_YAW
                and len(self.scores) < cfg.decision_frames
                and self.frames - self._last_feat_at >= 2
            ):
                self._add_feature(frame, obs)
        if self.liveness.result.passed and len(self.scores) >= cfg.min_decision_frames:
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
        best = max(self.scores) if self.scores else None
        live = self.liveness.result
        if not live.passed:
            reason, match = "liveness_failed", False
        elif best is None:
            reason, match = "no_face", False
        elif best >= cfg.min_similarity:
            reason, match = "match", True
        else:
            reason, match = "mismatch", False
        models = self.analyzer.models
        self.result = VerificationResult(
            match=match, reason=reason, score=best, threshold=cfg.min_similarity, liveness=live,
            frames=self.frames, good_frames=self.good, features=len(self.scores),
            seconds=self._clock() - self._t0, scores=sorted(self.scores, reverse=True),
            model=models.model, model_digest=models.model_digest,
        )
        self._id = np.zeros_like(self._id)
        self._feats.clear()
        self.liveness.clear()


class FaceVerifier:
    """Holds the models and the configuration; starts one :class:`VerificationSession` per attempt."""

    def __init__(self, config: FaceConfig | None = None, analyzer: FaceAnalyzer | None = None) -> None:
        self.config = config or FaceConfig()
        self.analyzer = analyzer or FaceAnalyzer(self.config)

    def id_feature(self, id_photo: np.ndarray) -> np.ndarray:
        """SFace feature of the ID photo (102×126, often grey: upscaled ×2 before detection);
        raises :class:`NoUsableFace` when it has no usable face."""
        if id_photo is None:
            raise NoUsableFace(detail="no ID photo")
        return self.analyzer.describe_still(id_photo)[0]

    id_descriptor = id_feature  # the name the identity flow calls

    def start(
        self,
        id_feature: np.ndarray,
        challenge: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> VerificationSession:
        return VerificationSession(self.analyzer, id_feature, challenge or random_challenge(self.config), clock)

    @property
    def model(self) -> str:
        """Short name of the recognizer (for audit records)."""
        return self.analyzer.models.model

    @property
    def model_digest(self) -> str:
        """sha256 of the recognizer's file (for audit records)."""
        return self.analyzer.models.model_digest

    def health(self) -> dict[str, Any]:
        """The camera's device health record as far as face verification knows it: ``kind``
        ``camera``, ``state``, ``detail`` naming the loaded models and whether their digests
        were verified (plus ``model``, ``model_digest``, ``digests_verified``)."""
        return self.analyzer.health()


def face_health(config: FaceConfig | None = None) -> dict[str, Any]:
    """The face check's part of the camera's health record, loading the models if needed:
    ``state`` ``ok`` with the loaded models and "sha256 verified" in ``detail``, or ``error``
    naming the missing or altered file (face checks cannot run; the kiosk falls back to the
    card-only way or a window)."""
    from .models import MODEL_NAME

    try:
        return FaceAnalyzer(config or FaceConfig()).health()
    except FaceError as e:
        return {"kind": "camera", "state": "error",
                "detail": f"face models unusable: {e.en}" + (f" ({e.detail})" if e.detail else ""),
                "model": MODEL_NAME, "model_digest": None, "digests_verified": False, "code": e.code}
