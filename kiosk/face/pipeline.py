"""Detection, quality gate, landmarks and the 128-d descriptor for live frames and ID photos.

Frames are BGR ``numpy`` arrays in memory. Detection (dlib HOG) runs on a down-scaled grey
copy — 320 px wide by default, but never so small that a face of ``min_face_px`` falls under the
HOG window — and landmarks and descriptors use the full frame (DESIGN §7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .config import FaceConfig
from .errors import NoUsableFace
from .models import FaceModels, load_models

HOG_MIN_FACE = 84  # px: dlib's frontal detector finds faces from ~80 px without upsampling

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
    """One frame's view of the face: box in full-frame pixels, 68 landmarks, quality."""

    faces: int
    box: tuple[int, int, int, int] | None  # x, y, w, h
    landmarks: np.ndarray | None  # (68, 2) float, full-frame pixels
    quality: Quality
    rect: Any = None  # dlib.rectangle in full-frame pixels


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two 128-d descriptors (0 = identical)."""
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


class FaceAnalyzer:
    """All model calls. Thread-compatible (one analyzer per thread); models are shared."""

    def __init__(self, config: FaceConfig | None = None, models: FaceModels | None = None) -> None:
        self.config = config or FaceConfig()
        self.models = models or load_models(self.config.models_dir, self.config.landmarks68_path)

    # --- detection ---------------------------------------------------------------------------
    def _detect(self, gray: np.ndarray, width: int, upsample: int = 0) -> list[Any]:
        import dlib

        h, w = gray.shape[:2]
        scale = min(1.0, max(width / w, HOG_MIN_FACE / max(1, self.config.min_face_px)))
        small = gray if scale >= 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rects = self.models.detector(small, upsample)
        out = []
        for r in rects:
            out.append(
                dlib.rectangle(
                    int(r.left() / scale), int(r.top() / scale), int(r.right() / scale), int(r.bottom() / scale)
                )
            )
        out.sort(key=lambda r: r.width() * r.height(), reverse=True)
        return out

    def observe(self, frame: np.ndarray) -> FaceObservation:
        """Detect, gate on quality and find the 68 landmarks of the one face in a live frame."""
        cfg = self.config
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        rects = self._detect(gray, cfg.detect_width)
        if not rects:
            return FaceObservation(0, None, None, Quality("no_face"))
        r = rects[0]
        box = (r.left(), r.top(), r.width(), r.height())
        landmarks = self.landmarks(gray, r)
        quality = self._quality(gray, r, len(rects))
        return FaceObservation(len(rects), box, landmarks, quality, r)

    def landmarks(self, gray: np.ndarray, rect: Any) -> np.ndarray:
        shape = self.models.sp68(gray, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def _quality(self, gray: np.ndarray, r: Any, faces: int) -> Quality:
        cfg = self.config
        h, w = gray.shape[:2]
        x0, y0 = max(0, r.left()), max(0, r.top())
        x1, y1 = min(w, r.right()), min(h, r.bottom())
        crop = gray[y0:y1, x0:x1]
        size = r.width()
        if crop.size == 0:
            return Quality("no_face")
        brightness = float(crop.mean())
        sharp = float(cv2.Laplacian(cv2.resize(crop, (160, 160), interpolation=cv2.INTER_AREA), cv2.CV_64F).var())
        if faces > 1:
            reason = "many_faces"
        elif size < cfg.min_face_px:
            reason = "too_small"
        elif brightness < cfg.min_brightness:
            reason = "too_dark"
        elif brightness > cfg.max_brightness:
            reason = "too_bright"
        elif sharp < cfg.min_sharpness:
            reason = "blurry"
        else:
            reason = "ok"
        return Quality(reason, size, brightness, sharp)

    # --- descriptors -------------------------------------------------------------------------
    def descriptor(self, frame: np.ndarray, rect: Any) -> np.ndarray:
        """The 128-d ResNet descriptor of the face in ``rect`` (full-frame coordinates)."""
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
        shape = self.models.sp5(rgb, rect)
        return np.array(self.models.resnet.compute_face_descriptor(rgb, shape), dtype=np.float64)

    def describe_still(self, image: np.ndarray) -> tuple[np.ndarray, FaceObservation]:
        """Descriptor of the single face in a still image (an ID photo or a technician's photo).

        Small images (an ID photo is ~102×126) are upscaled ×``id_photo_upscale`` first; large
        ones are detected on a ≤800 px copy with one upsampling step. Raises
        :class:`NoUsableFace` for no face or several faces.
        """
        if image is None or image.size == 0:
            raise NoUsableFace("empty image")
        img = image
        if max(img.shape[:2]) < 400 and self.config.id_photo_upscale > 1:
            f = self.config.id_photo_upscale
            img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
        rects = self._detect(gray, min(800, gray.shape[1]), upsample=1)
        if not rects:
            raise NoUsableFace("no face found")
        if len(rects) > 1 and rects[1].width() > 0.5 * rects[0].width():
            raise NoUsableFace(f"{len(rects)} faces found")
        r = rects[0]
        obs = FaceObservation(len(rects), (r.left(), r.top(), r.width(), r.height()),
                              self.landmarks(gray, r), self._quality(gray, r, 1), r)
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        return self.descriptor(img, r), obs
