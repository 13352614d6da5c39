"""Face verification settings: the ``[face]`` table of kiosk.toml, declared as data with help."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class FaceConfig:
    threshold: float = 0.55
    """Match when the best descriptor distance to the ID photo is ≤ this. Calibrated on the test
    photos (same person ≤ 0.53, different ≥ 0.67 with this pipeline); dlib's model is weaker on
    East Asian faces, so each deployment calibrates its own value (DESIGN §7)."""
    detect_width: int = 320
    """Detection runs on a copy this wide; landmarks and descriptors use the full frame."""
    min_face_px: int = 120
    """Quality gate: face box width in full-frame pixels."""
    min_brightness: float = 40.0
    """Quality gate: mean grey level inside the face box."""
    max_brightness: float = 220.0
    """Quality gate: above this mean grey level the face is washed out (backlight, glare)."""
    min_sharpness: float = 15.0
    """Quality gate: variance of the Laplacian of the face resized to 160×160 (blur)."""
    id_photo_upscale: int = 2
    """ID photos (~102×126) are upscaled by this factor before detection."""
    decision_frames: int = 5
    """Descriptors from this many good live frames; the decision uses the best of them."""
    min_decision_frames: int = 3
    """The decision waits for at least this many descriptors."""
    challenge_frames: int = 150
    """Frames allowed to answer the liveness challenge (≈10 s at 15 fps)."""
    challenge_seconds: float = 12.0
    """Seconds allowed to answer the challenge, whichever of frames or seconds runs out first."""
    yaw_delta: float = 0.20
    """Head turn: change of the nose-between-jaw ratio needed in the asked direction."""
    min_parallax: float = 0.05
    """Head turn: homography residual of rigid landmarks / eye distance that a real 3-D head
    shows when turned (measured 0.08–0.13 on the real clip; a flat photo ≤ 0.02)."""
    blink_ratio: float = 0.70
    """Blink: aligned eye aspect ratio must fall below this fraction of the open-eye baseline."""
    consistency: float = 0.6
    """Largest descriptor distance between two frames of one attempt: the face that answers the
    challenge must be the face that is matched (a larger gap restarts the challenge)."""
    max_attempts: int = 3
    """Face attempts before the kiosk refers the citizen to a window (转人工)."""
    challenges: tuple[str, ...] = ("turn_left", "turn_right", "blink")
    """Challenges drawn at random."""
    landmarks68_path: str = ""
    """Replacement 68-point landmark model (dlib format); empty = face_recognition_models' file,
    which is licensed for non-commercial use only (see docs/identity.md)."""
    models_dir: str = ""
    """Directory with the dlib model files; empty = the face_recognition_models package."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> FaceConfig:
        data = dict(data or {})
        known = {f.name: f for f in fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"unknown [face] settings: {', '.join(sorted(unknown))}")
        if "challenges" in data:
            data["challenges"] = tuple(data["challenges"])
        return cls(**data)
