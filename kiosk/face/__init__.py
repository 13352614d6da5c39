"""Face verification against the ID photo (人证比对) with liveness (活体检测), offline, dlib-based.

``FaceVerifier(FaceConfig.from_mapping(toml["face"]))`` loads the models once per process.
See docs/identity.md for the pipeline, thresholds and the licence of the 68-point model.
"""

from __future__ import annotations

from .config import FaceConfig
from .errors import FaceError, ModelsMissing, NoUsableFace
from .liveness import CHALLENGES, LivenessResult, LivenessTracker, random_challenge
from .pipeline import FaceAnalyzer, FaceObservation, Quality, distance
from .verifier import FaceVerifier, FrameFeedback, VerificationResult, VerificationSession

__all__ = [
    "CHALLENGES", "FaceAnalyzer", "FaceConfig", "FaceError", "FaceObservation", "FaceVerifier",
    "FrameFeedback", "LivenessResult", "LivenessTracker", "ModelsMissing", "NoUsableFace",
    "Quality", "VerificationResult", "VerificationSession", "distance", "random_challenge",
]
