"""Builders of the liveness test videos (in memory; used by tests/ and bench/).

See tests/data/faces/SOURCES.md for what each clip shows and why it is built this way.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

#: Frames of short_hamilton_clip.mp4 where Lin-Manuel Miranda turns his head (measured yaw).
TURN_LEFT_FRAMES = (141, 162)  # yaw −0.26 → +0.33: turns to his own left
TURN_RIGHT_FRAMES = (180, 211)  # yaw +0.01 → −0.57: turns to his own right
FRONTAL_FRAME = 148
CROP = (60, 0, 380, 240)  # x0, y0, x1, y1 in the 640×360 clip
SIZE = (640, 480)


def read_clip(path: str | Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def kiosk_view(frame: np.ndarray) -> np.ndarray:
    """Crop the performer and scale ×2 to 640×480: the framing of a kiosk camera at arm's length."""
    x0, y0, x1, y1 = CROP
    return cv2.resize(frame[y0:y1, x0:x1], SIZE, interpolation=cv2.INTER_CUBIC)


def real_turn(clip: list[np.ndarray], direction: str) -> list[np.ndarray]:
    """A real head turn ('turn_left' or 'turn_right'), followed by the turn back when the clip has it."""
    a, b = TURN_LEFT_FRAMES if direction == "turn_left" else TURN_RIGHT_FRAMES
    return [kiosk_view(f) for f in clip[a:b]]


def photo_attack(
    photo: np.ndarray, frames: int = 40, seed: int = 7, max_angle_deg: float = 35.0
) -> list[np.ndarray]:
    """A flat photo held to the camera and moved: rotated about a vertical and a horizontal axis
    (perspective), shifted and scaled, over a dark background with sensor noise."""
    rng = np.random.default_rng(seed)
    h, w = photo.shape[:2]
    scale0 = min(SIZE[0] / w, SIZE[1] / h) * 0.9
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    out = []
    for k in range(frames):
        t = k / max(1, frames - 1)
        yaw_a = np.deg2rad(max_angle_deg * np.sin(2 * np.pi * t))  # swing left and right
        pitch_a = np.deg2rad(10 * np.sin(4 * np.pi * t))
        s = scale0 * (1.0 + 0.12 * np.sin(2 * np.pi * t))
        corners = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]]) * s
        ry = np.array([[np.cos(yaw_a), 0, np.sin(yaw_a)], [0, 1, 0], [-np.sin(yaw_a), 0, np.cos(yaw_a)]])
        rx = np.array([[1, 0, 0], [0, np.cos(pitch_a), -np.sin(pitch_a)], [0, np.sin(pitch_a), np.cos(pitch_a)]])
        pts = corners @ (rx @ ry).T
        focal, depth = 700.0, 700.0
        pts[:, 2] += depth
        centre = np.array([SIZE[0] / 2 + 40 * np.sin(3 * np.pi * t), SIZE[1] / 2 + 20 * np.cos(2 * np.pi * t)])
        dst = (pts[:, :2] * focal / pts[:, 2:3] + centre).astype(np.float32)
        m = cv2.getPerspectiveTransform(src, dst)
        bg = np.full((SIZE[1], SIZE[0], 3), 25, np.uint8)
        frame = cv2.warpPerspective(photo, m, SIZE, dst=bg, borderMode=cv2.BORDER_TRANSPARENT)
        noise = rng.normal(0, 3, frame.shape)
        out.append(np.clip(frame.astype(np.float64) + noise, 0, 255).astype(np.uint8))
    return out
