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
    photo: np.ndarray, frames: int = 40, seed: int = 7, max_angle_deg: float = 35.0,
    max_pitch_deg: float = 10.0,
) -> list[np.ndarray]:
    """A flat photo held to the camera and moved: rotated about a vertical (±``max_angle_deg``)
    and a horizontal axis (±``max_pitch_deg``) in perspective, shifted and scaled, over a dark
    background with sensor noise."""
    return held_plane([photo], frames, seed, max_angle_deg, max_pitch_deg)


def tilted_photo_attack(photo: np.ndarray, frames: int = 40, seed: int = 11) -> list[np.ndarray]:
    """A photo tilted back and forth about a horizontal axis (±40°, twice), as if nodding it —
    the attack on the nod challenge — with a little sideways swing (±5°)."""
    return held_plane([photo], frames, seed, 5.0, 40.0)


def on_screen(image: np.ndarray, seed: int = 3) -> np.ndarray:
    """``image`` as a phone or tablet shows it to the camera: a black bezel, the backlight's
    raised blacks and lower contrast, a cold tint, the pixel grid (every third column darker,
    which moirés once warped) and a glare band across the glass."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    panel = image.astype(np.float64) * 0.78 + 38.0
    panel[:, :, 0] *= 1.06  # cold LCD white
    panel[:, ::3, :] *= 0.86  # sub-pixel stripes
    yy, xx = np.mgrid[0:h, 0:w]
    band = np.exp(-(((xx - 0.7 * w) + 0.6 * (yy - 0.3 * h)) / (0.12 * w)) ** 2)
    panel += 45.0 * band[:, :, None] + rng.normal(0, 1.5, panel.shape)
    bezel = max(8, w // 25)
    out = np.full((h + 2 * bezel, w + 2 * bezel, 3), 18.0)
    out[bezel:bezel + h, bezel:bezel + w] = panel
    return np.clip(out, 0, 255).astype(np.uint8)


def screen_replay(content: list[np.ndarray], frames: int | None = None, seed: int = 5,
                  max_angle_deg: float = 20.0, max_pitch_deg: float = 10.0) -> list[np.ndarray]:
    """A screen held to the camera and moved, showing ``content`` (one still, or a video's
    frames played one per camera frame)."""
    shown = [on_screen(c) for c in content]
    return held_plane(shown, frames or max(40, len(shown)), seed, max_angle_deg, max_pitch_deg)


def held_plane(
    content: list[np.ndarray], frames: int, seed: int, max_angle_deg: float, max_pitch_deg: float,
) -> list[np.ndarray]:
    """Frames of a flat surface showing ``content`` (cycled) moved in front of the camera."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(frames):
        photo = content[k % len(content)]
        h, w = photo.shape[:2]
        scale0 = min(SIZE[0] / w, SIZE[1] / h) * 0.9
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        t = k / max(1, frames - 1)
        yaw_a = np.deg2rad(max_angle_deg * np.sin(2 * np.pi * t))  # swing left and right
        pitch_a = np.deg2rad(max_pitch_deg * np.sin(4 * np.pi * t))
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


# --- landmark sequences of a head turning or nodding (the clip has no nod) ------------------

#: Depth of YuNet's five points in front of the eyes' plane, in eye distances (an adult face:
#: nose tip ≈ 0.5, mouth corners ≈ 0.15).
DEPTHS = np.array([0.0, 0.0, 0.5, 0.15, 0.15])


def rotate_points(pts: np.ndarray, depths: np.ndarray, centre: np.ndarray, iod: float,
                  yaw_deg: float = 0.0, pitch_deg: float = 0.0, focal: float = 840.0) -> np.ndarray:
    """2-D points of a frontal face, each ``depths`` eye distances in front of the eyes' plane,
    seen after the head turned ``yaw_deg`` (to the person's left > 0) and nodded ``pitch_deg``
    (chin down > 0) about ``centre``, in perspective. ``depths = 0``: a flat photo turned so."""
    pts = np.asarray(pts, np.float64).reshape(-1, 2)
    p = np.column_stack([pts - centre, -np.asarray(depths, np.float64) * iod])  # z < 0 = nearer
    a, b = np.deg2rad(yaw_deg), np.deg2rad(pitch_deg)
    # turning to one's own left moves the nose tip (in front) to the image's right
    ry = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    q = p @ (rx @ ry).T
    return q[:, :2] * focal / (focal + q[:, 2:3]) + centre


def face_surface(lm: np.ndarray, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """An n×n grid of points over the face around five landmarks ``lm`` and their depths on a
    half-ellipsoid (cheeks fall away, the middle stands out) — the corners a tracker follows."""
    lm = np.asarray(lm, np.float64)
    iod = float(np.linalg.norm(lm[1] - lm[0]))
    centre = (lm[0] + lm[1] + lm[3] + lm[4]) / 4
    rx, ry = 1.1 * iod, 1.5 * iod
    u, v = np.meshgrid(np.linspace(-0.85, 0.85, n), np.linspace(-0.85, 0.85, n))
    pts = np.column_stack([centre[0] + u.ravel() * rx, centre[1] + v.ravel() * ry])
    depth = 0.6 * np.sqrt(np.clip(1 - u.ravel() ** 2 - v.ravel() ** 2, 0, None))
    return pts, depth
