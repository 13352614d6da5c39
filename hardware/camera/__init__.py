"""Cameras: one interface, drivers for a live device, a video file and a folder of frames.

``open_camera(config)`` reads the kiosk's ``[camera]`` table:

==============  ================================================================
``source``      device index (``0``), device path (``/dev/video0``), a video file
                (``clip.mp4``) or a folder of frames (``frames/``, sorted by name)
``width``       requested capture width, default 640 (files/folders: frames are scaled to
                fit inside width × height, aspect ratio kept)
``height``      requested capture height, default 480
``loop``        video file / folder: start again at the end (demo), default false
``fps``         video file / folder: pace frames at this rate (0 = as fast as read)
==============  ================================================================

Frames are BGR ``numpy`` arrays and stay in memory (DESIGN §11): nothing here writes to disk.

:func:`health` grabs one frame for the device health record (``python -m hardware camera
probe SOURCE`` and ``python -m hardware health``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from hardware.errors import DeviceError
from hardware.health import DeviceHealth

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


class CameraError(DeviceError):
    """No frames can come from the configured source (``camera_unavailable``)."""

    code = "camera_unavailable"


class Camera(Protocol):
    """``read()`` returns the next BGR frame, or None when no frame is available (yet/any more)."""

    def read(self) -> np.ndarray | None: ...
    def close(self) -> None: ...


class _Paced:
    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps if fps > 0 else 0.0
        self._next = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(now, self._next) + self.interval


class DeviceCamera:
    """A V4L2/DirectShow device by index or path, at the configured resolution."""

    def __init__(self, source: int | str, width: int = 640, height: int = 480) -> None:
        self.cap = cv2.VideoCapture(source)
        if not self.cap.isOpened():
            raise CameraError(f"cannot open {source!r}")
        self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self.size = (int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def read(self) -> np.ndarray | None:
        ok, frame = self.cap.read()
        return frame if ok else None

    def close(self) -> None:
        self.cap.release()


class VideoFileCamera:
    """A video file played as a camera; frames are scaled to fit the configured resolution."""

    def __init__(
        self, path: str | Path, width: int | None = None, height: int | None = None,
        loop: bool = False, fps: float = 0.0,
    ) -> None:
        self.path = str(path)
        self.cap = cv2.VideoCapture(self.path)
        if not self.cap.isOpened():
            raise CameraError(f"cannot open video {self.path}")
        self.size = (width, height) if width and height else None
        self.loop = loop
        self._pace = _Paced(fps)

    def read(self) -> np.ndarray | None:
        self._pace.wait()
        ok, frame = self.cap.read()
        if not ok and self.loop:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        if not ok:
            return None
        return _resize(frame, self.size)

    def close(self) -> None:
        self.cap.release()


class FrameFolderCamera:
    """A folder of still images, in file-name order."""

    def __init__(
        self, folder: str | Path, width: int | None = None, height: int | None = None,
        loop: bool = False, fps: float = 0.0,
    ) -> None:
        self.files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise CameraError(f"no images in {folder}")
        self.size = (width, height) if width and height else None
        self.loop = loop
        self._i = 0
        self._pace = _Paced(fps)

    def read(self) -> np.ndarray | None:
        if self._i >= len(self.files):
            if not self.loop:
                return None
            self._i = 0
        self._pace.wait()
        frame = cv2.imread(str(self.files[self._i]), cv2.IMREAD_COLOR)
        self._i += 1
        return None if frame is None else _resize(frame, self.size)

    def close(self) -> None:
        self._i = len(self.files)


class MemoryCamera:
    """Frames already in memory (generated test videos, replays in the bench)."""

    def __init__(self, frames: Sequence[np.ndarray], loop: bool = False) -> None:
        self.frames = list(frames)
        self.loop = loop
        self._i = 0

    def read(self) -> np.ndarray | None:
        if self._i >= len(self.frames):
            if not self.loop or not self.frames:
                return None
            self._i = 0
        frame = self.frames[self._i]
        self._i += 1
        return frame

    def close(self) -> None:
        self.frames = []


def _resize(frame: np.ndarray, size: tuple[int, int] | tuple[None, None] | None) -> np.ndarray:
    """Scale to fit inside ``size`` keeping the aspect ratio (a stretched face matches worse)."""
    if not size or size[0] is None or size[1] is None:
        return frame
    w, h = int(size[0]), int(size[1])
    fh, fw = frame.shape[:2]
    if (fw, fh) == (w, h):
        return frame
    scale = min(w / fw, h / fh)
    out = (max(1, round(fw * scale)), max(1, round(fh * scale)))
    if out == (fw, fh):
        return frame
    return cv2.resize(frame, out, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def open_camera(config: Mapping[str, Any]) -> Camera:
    """A camera for the ``[camera]`` table of kiosk.toml (see the module docstring)."""
    source: Any = config.get("source", 0)
    width = int(config.get("width", 640))
    height = int(config.get("height", 480))
    loop = bool(config.get("loop", False))
    fps = float(config.get("fps", 0))
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return DeviceCamera(int(source), width, height)
    path = Path(str(source))
    if str(source).startswith("/dev/"):
        return DeviceCamera(str(source), width, height)
    if path.is_dir():
        return FrameFolderCamera(path, width, height, loop, fps)
    if path.is_file():
        return VideoFileCamera(path, width, height, loop, fps)
    raise CameraError(f"no such camera source {source!r}")


def health(config: Mapping[str, Any], timeout: float = 3.0) -> DeviceHealth:
    """The camera's health record: it opens and gives a frame within ``timeout`` seconds
    (``ok``, with the frame size), opens but stays dark (``error``) or cannot be opened
    (``error``). The frame is dropped at once (DESIGN §11)."""
    name = str(config.get("source", 0))
    try:
        camera = open_camera(config)
    except CameraError as exc:
        return DeviceHealth("camera", name, "error", f"{exc.zh} / {exc.en}: {exc.detail}")
    try:
        deadline = time.monotonic() + timeout
        while True:
            frame = camera.read()
            if frame is not None:
                h, w = frame.shape[:2]
                return DeviceHealth("camera", name, "ok", f"{w}×{h} frame")
            if time.monotonic() >= deadline:
                return DeviceHealth("camera", name, "error", f"opened, but no frame within {timeout:g} s")
            time.sleep(0.05)
    finally:
        camera.close()
