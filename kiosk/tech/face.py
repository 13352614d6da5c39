"""The one place the technician's camera check meets the face pipeline (``kiosk.face``).

:func:`face_in_frame` asks the pipeline's analyzer (``FaceAnalyzer(FaceConfig).observe``)
whether a frame holds a face of usable size for the face check (``[face] min_face_px``).
The pipeline's model may change without this check changing: it only reads the observation's
face count and box, and names the model files in use (YuNet + SFace with their sha256
prefixes, ``FaceModels.summary``) so the technician sees which model judged the frame. When the pipeline cannot run
(models missing, a config the pipeline refuses) the answer says so instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FaceCheck:
    """``state``: ``ok`` (a face of at least ``min_size`` px), ``too_small``, ``no_face`` or
    ``unavailable`` (``detail`` says why)."""

    state: str
    size: int = 0
    min_size: int = 0
    faces: int = 0
    brightness: float | None = None
    """Mean grey level of the face (what the face check's quality gate judges)."""
    detail: str = ""
    model: str = ""
    """The face model in use: YuNet + SFace files with their sha256 prefixes."""


def face_in_frame(frame: Any, face_section: Mapping[str, Any] | None = None) -> FaceCheck:
    """Is there a face of usable size in ``frame`` (a BGR array)? Nothing is kept."""
    try:
        from kiosk.face import FaceAnalyzer, FaceConfig

        config = FaceConfig.from_mapping({k: v for k, v in (face_section or {}).items() if v != ""})
        analyzer = FaceAnalyzer(config)
        observation = analyzer.observe(frame)
    except Exception as exc:  # models missing, a refused [face] key, a broken install
        return FaceCheck("unavailable", detail=f"{type(exc).__name__}: {exc}"[:300])
    summary = getattr(getattr(analyzer, "models", None), "summary", None)
    model = str(summary()) if callable(summary) else ""
    min_size = int(getattr(config, "min_face_px", 0) or 0)
    box = getattr(observation, "box", None)
    faces = int(getattr(observation, "faces", 0) or 0)
    if not faces or box is None:
        return FaceCheck("no_face", min_size=min_size, model=model)
    size = int(box[2])
    level = getattr(getattr(observation, "quality", None), "brightness", None)
    return FaceCheck("ok" if size >= min_size else "too_small", size, min_size, faces,
                     float(level) if isinstance(level, (int, float)) else None, model=model)
