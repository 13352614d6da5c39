"""dlib models: located on disk without importing ``face_recognition_models``, loaded once.

``face_recognition_models/__init__.py`` imports ``pkg_resources``, which new setuptools no longer
ships (DESIGN §7), so the package directory is found with ``importlib.util.find_spec`` (which
does not execute the package) and the four model files are read from ``models/`` inside it.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelsMissing

DETECTOR_FILE = "mmod_human_face_detector.dat"  # CNN detector: not used (too slow on 2 cores)
SP5_FILE = "shape_predictor_5_face_landmarks.dat"
SP68_FILE = "shape_predictor_68_face_landmarks.dat"
RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def models_dir(override: str = "") -> Path:
    """``override``, else ``$YICHUANG_FACE_MODELS``, else face_recognition_models/models."""
    if override:
        return Path(override)
    env = os.environ.get("YICHUANG_FACE_MODELS")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelsMissing("package face-recognition-models is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


@dataclass
class FaceModels:
    detector: Any
    sp5: Any
    sp68: Any
    resnet: Any
    directory: Path


_cache: dict[tuple[str, str], FaceModels] = {}
_lock = threading.Lock()


def load_models(directory: str = "", landmarks68_path: str = "") -> FaceModels:
    """Load (once per process) the HOG detector, both shape predictors and the ResNet."""
    key = (directory, landmarks68_path)
    with _lock:
        if key in _cache:
            return _cache[key]
        import dlib

        d = models_dir(directory)
        sp68 = Path(landmarks68_path) if landmarks68_path else d / SP68_FILE
        for p in (d / SP5_FILE, d / RESNET_FILE, sp68):
            if not p.is_file():
                raise ModelsMissing(str(p))
        models = FaceModels(
            detector=dlib.get_frontal_face_detector(),
            sp5=dlib.shape_predictor(str(d / SP5_FILE)),
            sp68=dlib.shape_predictor(str(sp68)),
            resnet=dlib.face_recognition_model_v1(str(d / RESNET_FILE)),
            directory=d,
        )
        _cache[key] = models
        return models
