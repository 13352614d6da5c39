"""Detection, quality gate, five landmarks and the 128-d SFace feature, for live frames and stills.

Everything goes through OpenCV's own API (``cv2.FaceDetectorYN`` = YuNet,
``cv2.FaceRecognizerSF`` = SFace); no other runtime. Frames are BGR ``numpy`` arrays in memory.

* **Live frames**: YuNet runs on a copy ``detect_width`` wide (320 px: a 120 px face is 60 px
  there, well inside YuNet's 10–300 px range); the box and the five landmarks are scaled back
  to the frame, and ``alignCrop`` + ``feature`` use the full frame.
* **Stills** (an ID photo, a technician's photo): under 400 px they are upscaled ×2 with cubic
  interpolation first (a 102×126 ID photo becomes 204×252); over ``still_detect_side`` they are
  reduced to that size (area interpolation, which also spares ``alignCrop`` from aliasing a
  huge face down to 112 px), and used at full size only if the copy shows no face. The
  largest face is used (the largest confident one when YuNet is ≥ 0.9 sure of some).
* **Score**: cosine similarity of two features (``FaceRecognizerSF.match(..., FR_COSINE)``,
  here :func:`similarity`): −1…1, higher = more alike.

Landmarks (YuNet's order): the person's right eye, left eye, nose tip, right and left mouth
corner — the person's right eye is on the image's left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .config import FaceConfig
from .errors import NoUsableFace
from .models import FaceModels, load_models

#: A still smaller than this (longest side) is upscaled ×``id_photo_upscale`` before detection.
SMALL_STILL = 400
#: Another face counts in a live frame when YuNet is this sure of it and it is at least this
#: fraction of the largest face's width (a hand or a far-away face behind does not count).
OTHER_FACE_SCORE = 0.9
OTHER_FACE_RATIO = 0.5

QUALITY_MESSAGES: dict[str, tuple[str, str]] = {
    "ok": ("很好，请保持", "Good, hold still"),
    "no_face": ("请正对摄像头并靠近一些", "Please face the camera and come closer"),
    "many_faces": ("请确保镜头前只有您一人", "Only one person in front of the camera, please"),
    "too_small": ("请靠近一些", "Please come a little closer"),
    "too_dark": ("光线太暗，请靠近屏幕", "Too dark; please move closer to the screen"),
    "too_bright": ("光线太强，请避开强光", "Too bright; please avoid direct light"),
    "blurry": ("请保持不动", "Please hold still"),
}


@dataclass(frozen=True)
class Quality:
    reason: str  # key of QUALITY_MESSAGES
    size: int = 0
    brightness: float = 0.0
    sharpness: float = 0.0

    @property
    def ok(self) -> bool:
        return self.reason == "ok"

    @property
    def message_zh(self) -> str:
        return QUALITY_MESSAGES[self.reason][0]

    @property
    def message_en(self) -> str:
        return QUALITY_MESSAGES[self.reason][1]


@dataclass
class FaceObservation:
    """One image's view of its (largest) face, in full-image pixels."""

    faces: int
    box: tuple[int, int, int, int] | None  # x, y, w, h
    landmarks: np.ndarray | None  # (5, 2) float: right eye, left eye, nose, right/left mouth corner
    quality: Quality
    face: np.ndarray | None = None  # YuNet's 15 values (box, landmarks, score) for alignCrop
    score: float = 0.0  # detector confidence


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two features: 1 = same direction; ≥ ``min_similarity`` = match.
    Equal to ``FaceRecognizerSF.match(a, b, FR_COSINE)``."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(a @ b / (na * nb))


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A 3-channel BGR view of a grey, BGR or BGRA image (ID photos are often grey)."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return image


class FaceAnalyzer:
    """All model calls. Models are shared and loaded once per process (see :mod:`.models`)."""

    def __init__(self, config: FaceConfig | None = None, models: FaceModels | None = None) -> None:
        self.config = config or FaceConfig()
        self.models = models or load_models(self.config.models_dir, self.config.detector_score)

    # --- detection ---------------------------------------------------------------------------
    def _detect(self, image: np.ndarray, scale: float = 1.0) -> list[np.ndarray]:
        """YuNet rows (15 floats) in ``image`` pixels, detected on a copy scaled by ``scale``;
        largest face first."""
        small = image if scale >= 1.0 else cv2.resize(
            image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = small.shape[:2]
        with self.models.lock:
            self.models.detector.setInputSize((w, h))
            _, faces = self.models.detector.detect(small)
        if faces is None:
            return []
        rows = []
        for f in faces:
            r = np.array(f, np.float64)
            if scale < 1.0:
                r[:14] /= (small.shape[1] / image.shape[1])
            rows.append(r)
        # the largest face, preferring faces YuNet is sure of over a larger doubtful detection
        rows.sort(key=lambda r: (r[14] >= OTHER_FACE_SCORE, r[2] * r[3]), reverse=True)
        return rows

    def _observation(self, gray: np.ndarray, rows: list[np.ndarray], faces: int) -> FaceObservation:
        r = rows[0]
        box = (int(round(r[0])), int(round(r[1])), int(round(r[2])), int(round(r[3])))
        return FaceObservation(faces, box, r[4:14].reshape(5, 2).copy(), self._quality(gray, box, faces),
                               r.copy(), float(r[14]))

    def observe(self, frame: np.ndarray) -> FaceObservation:
        """Detect, gate on quality and find the five landmarks of the face in a live frame."""
        frame = as_bgr(frame)
        rows = self._detect(frame, min(1.0, self.config.detect_width / max(1, frame.shape[1])))
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if not rows:
            return FaceObservation(0, None, None, Quality("no_face"))
        main_w = rows[0][2]
        others = sum(1 for r in rows[1:] if r[14] >= OTHER_FACE_SCORE and r[2] >= OTHER_FACE_RATIO * main_w)
        return self._observation(gray, rows, 1 + others)

    def _quality(self, gray: np.ndarray, box: tuple[int, int, int, int], faces: int) -> Quality:
        cfg = self.config
        h, w = gray.shape[:2]
        x, y, bw, bh = box
        crop = gray[max(0, y):min(h, y + bh), max(0, x):min(w, x + bw)]
        if crop.size == 0:
            return Quality("no_face")
        brightness = float(crop.mean())
        sharp = float(cv2.Laplacian(cv2.resize(crop, (160, 160), interpolation=cv2.INTER_AREA), cv2.CV_64F).var())
        if faces > 1:
            reason = "many_faces"
        elif bw < cfg.min_face_px:
            reason = "too_small"
        elif brightness < cfg.min_brightness:
            reason = "too_dark"
        elif brightness > cfg.max_brightness:
            reason = "too_bright"
        elif sharp < cfg.min_sharpness:
            reason = "blurry"
        else:
            reason = "ok"
        return Quality(reason, bw, brightness, sharp)

    # --- features ----------------------------------------------------------------------------
    def feature(self, image: np.ndarray, face: np.ndarray) -> np.ndarray:
        """The 128-d SFace feature of ``face`` (a YuNet row in ``image`` pixels): the face is
        aligned on its five landmarks to 112×112 (``alignCrop``) first."""
        image = as_bgr(image)
        with self.models.lock:
            aligned = self.models.recognizer.alignCrop(image, np.asarray(face, np.float32).reshape(1, -1))
            feat = self.models.recognizer.feature(aligned)
        return np.array(feat, np.float32).ravel()

    def describe_still(self, image: np.ndarray) -> tuple[np.ndarray, FaceObservation]:
        """Feature of the face in a still image (an ID photo or a technician's photo).

        Raises :class:`NoUsableFace` for an empty image or no face. The quality gate of live
        frames is not applied (an ID photo is small by nature); the observation, in the
        caller's pixels, carries its reasons for information.
        """
        if image is None or getattr(image, "size", 0) == 0:
            raise NoUsableFace(detail="empty image")
        img = as_bgr(image)
        cfg = self.config
        longest = max(img.shape[:2])
        up = 1
        if longest < SMALL_STILL and cfg.id_photo_upscale > 1:
            up = cfg.id_photo_upscale
            img = cv2.resize(img, None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
            longest *= up
        rows: list[np.ndarray] = []
        scale = float(up)
        if longest > cfg.still_detect_side:
            f = cfg.still_detect_side / longest
            small = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            rows = self._detect(small)
            if rows:
                img, scale = small, f
        if not rows:
            rows = self._detect(img)
        if not rows:
            raise NoUsableFace(detail="no face found")
        feature = self.feature(img, rows[0])
        row = rows[0].copy()
        row[:14] /= scale  # the observation in the caller's pixels
        gray = cv2.cvtColor(as_bgr(image), cv2.COLOR_BGR2GRAY)
        return feature, self._observation(gray, [row], 1)

    # --- health ------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """The camera's device health record as far as the face pipeline knows it."""
        m = self.models
        return {
            "kind": "camera",
            "state": "ok" if m.digests_verified else "warning",
            "detail": f"face models loaded: {m.describe()}",
            "model": m.model,
            "model_digest": m.model_digest,
            "digests_verified": m.digests_verified,
        }
