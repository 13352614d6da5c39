"""Face verification against the ID photo (人证比对) with liveness (活体检测), offline.

OpenCV's YuNet detector + SFace recognizer (int8 OpenCV Zoo builds, pinned by version and
sha256; see :mod:`kiosk.face.models`). ``FaceVerifier(FaceConfig.from_mapping(toml["face"]))``
loads the models once per process. See docs/identity.md for the pipeline, ``min_similarity``,
the liveness challenges, calibration and the models' licences.
"""

from __future__ import annotations

from .config import FaceConfig
from .errors import FaceError, ModelDigestMismatch, ModelsMissing, NoUsableFace, UnreadableImage
from .liveness import CHALLENGES, LivenessResult, LivenessTracker, random_challenge
from .pipeline import FaceAnalyzer, FaceObservation, Quality, similarity
from .verifier import (
    FaceVerifier,
    FrameFeedback,
    VerificationResult,
    VerificationSession,
    face_health,
)

__all__ = [
    "CHALLENGES", "FaceAnalyzer", "FaceConfig", "FaceError", "FaceObservation", "FaceVerifier",
    "FrameFeedback", "LivenessResult", "LivenessTracker", "ModelDigestMismatch", "ModelsMissing",
    "NoUsableFace", "Quality", "UnreadableImage", "VerificationResult", "VerificationSession",
    "face_health", "random_challenge", "similarity",
]
