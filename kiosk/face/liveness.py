"""Offline liveness (活体检测): a random challenge the five landmarks can check, plus a check
that what moved is a 3-D head and not a flat photo or screen.

A challenge is drawn at random per attempt — ``turn_left``, ``turn_right`` or ``nod`` — and
spoken and shown. Every good frame goes to a :class:`LivenessTracker` (its five landmarks, and
the frame for the planarity check):

* **Direction, from YuNet's five landmarks** — the nose tip in the affine frame of the face:
  ``nose − eye_mid = yaw·(left_eye − right_eye) + pitch·(mouth_mid − eye_mid)``. ``yaw`` is 0
  for a frontal face and grows when the person turns to their own left (the nose moves towards
  the image's right); ``pitch`` is ≈ 0.55 frontal and grows when the chin goes down. A turn
  needs ``yaw`` to move ``yaw_delta`` in the asked direction from the first frames; a nod needs
  ``pitch`` to grow ``pitch_delta``, more than ``yaw`` moved. Both are affine invariants, but
  YuNet's landmarks are coarse (±0.1 eye distances, and biased on a photo swung in
  perspective), so direction alone never passes.
* **Planarity, from points tracked on the face** — up to 100 corners inside the face box of
  the first good frame are followed frame to frame (pyramidal Lucas–Kanade, forward–backward
  checked). Any motion of a photo or a screen — shifted, scaled, rotated, swung in perspective
  — is a homography of its plane, so the best homography from the first frame's points to the
  current ones fits them all: the residual (RMS, in eye distances) stays at tracking noise,
  ≤ 0.03 measured. A real head turning or nodding has the nose, cheeks and face outline at
  different depths: 0.06–0.10 on the real clip. The challenge passes only when the direction
  and ``parallax`` ≥ ``min_parallax`` are seen together.

Both are the median of the last three frames, so one bad frame passes or fails nothing. The
tracker keeps the previous grey frame and the tracked points in memory for the attempt only;
:meth:`LivenessTracker.clear` drops them (the verifier calls it when the attempt ends).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from .config import FaceConfig

CHALLENGES: dict[str, tuple[str, str]] = {
    "turn_left": ("请缓慢向左转头，再转回来", "Slowly turn your head to your left, then back"),
    "turn_right": ("请缓慢向右转头，再转回来", "Slowly turn your head to your right, then back"),
    "nod": ("请缓慢点头，再抬起来", "Slowly nod your head down, then back up"),
}

FAIL_MESSAGES: dict[str, tuple[str, str]] = {
    "flat": ("检测到疑似照片或屏幕翻拍", "The face moved like a flat photo or screen"),
    "no_response": ("未完成动作提示", "The requested action was not seen"),
}

RIGHT_EYE, LEFT_EYE, NOSE, RIGHT_MOUTH, LEFT_MOUTH = range(5)
BASELINE_FRAMES = 3
SMOOTH_FRAMES = 3
#: A face that moved this far (eye distances) but never showed parallax moved like a photo.
MOVED = 0.10
#: Point tracking: corners sought in the first frame's face box, fewest kept before the
#: tracker starts again from the current frame, largest forward–backward error (pixels).
MAX_POINTS = 100
MIN_POINTS = 12
MAX_FB_ERROR = 1.0
LK_WINDOW = (21, 21)
LK_LEVELS = 3
LK_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)


def eye_distance(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[LEFT_EYE] - lm[RIGHT_EYE]))


def pose(lm: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) of the nose in the face's affine frame (see the module docstring)."""
    lm = np.asarray(lm, np.float64)
    eye_mid = (lm[RIGHT_EYE] + lm[LEFT_EYE]) / 2
    across = lm[LEFT_EYE] - lm[RIGHT_EYE]
    down = (lm[RIGHT_MOUTH] + lm[LEFT_MOUTH]) / 2 - eye_mid
    basis = np.column_stack([across, down])
    if abs(np.linalg.det(basis)) < 1e-9:
        return 0.0, 0.0
    a, b = np.linalg.solve(basis, lm[NOSE] - eye_mid)
    return float(a), float(b)


def yaw(lm: np.ndarray) -> float:
    return pose(lm)[0]


def planar_residual(base: np.ndarray, pts: np.ndarray) -> float:
    """RMS distance (pixels) between ``pts`` and ``base`` mapped by the least-squares homography
    ``base → pts``: ≈ 0 when the points lie on one moving plane."""
    base = np.asarray(base, np.float64).reshape(-1, 2)
    pts = np.asarray(pts, np.float64).reshape(-1, 2)
    if len(base) < 5:
        return 0.0
    h, _ = cv2.findHomography(base, pts, 0)
    if h is None:
        return 0.0
    proj = cv2.perspectiveTransform(base.reshape(-1, 1, 2), h).reshape(-1, 2)
    return float(np.sqrt(((proj - pts) ** 2).sum(axis=1).mean()))


def _grey(frame: np.ndarray) -> np.ndarray:
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


class PointTracker:
    """Corners inside the face followed from frame to frame; :meth:`update` gives the planar
    residual of their motion since the first frame, in pixels (None while too few points)."""

    def __init__(self) -> None:
        self._prev: np.ndarray | None = None
        self._pts: np.ndarray | None = None
        self._base: np.ndarray | None = None

    @property
    def points(self) -> int:
        return 0 if self._pts is None else len(self._pts)

    def start(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> None:
        grey = _grey(frame)
        x, y, w, h = box
        mask = np.zeros_like(grey)
        # the inner face: forehead to chin, cheek to cheek, no background at the box edges
        cv2.rectangle(mask, (x + w // 8, y + h // 8), (x + w - w // 8, y + h - h // 10), 255, -1)
        pts = cv2.goodFeaturesToTrack(grey, MAX_POINTS, 0.01, max(3, w // 25), mask=mask)
        if pts is None or len(pts) < MIN_POINTS:
            self.clear()
            return
        self._prev, self._pts, self._base = grey, pts.astype(np.float32), pts.astype(np.float32)

    def update(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> float | None:
        if self._prev is None or self._pts is None or self._base is None:
            self.start(frame, box)
            return None
        grey = _grey(frame)
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(self._prev, grey, self._pts, None, winSize=LK_WINDOW,  # type: ignore[call-overload]
                                              maxLevel=LK_LEVELS, criteria=LK_CRITERIA)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(grey, self._prev, nxt, None, winSize=LK_WINDOW,  # type: ignore[call-overload]
                                                maxLevel=LK_LEVELS, criteria=LK_CRITERIA)
        fb = np.linalg.norm((back - self._pts).reshape(-1, 2), axis=1)
        ok = (st.ravel() == 1) & (st2.ravel() == 1) & (fb < MAX_FB_ERROR)
        if int(ok.sum()) < MIN_POINTS:  # lost the face: start again from here
            self.start(frame, box)
            return None
        self._pts, self._base, self._prev = nxt[ok], self._base[ok], grey
        return planar_residual(self._base, self._pts)

    def clear(self) -> None:
        self._prev = self._pts = self._base = None


def random_challenge(config: FaceConfig, rng: random.Random | None = None) -> str:
    return (rng or random.SystemRandom()).choice(list(config.challenges))


@dataclass
class LivenessResult:
    challenge: str
    state: str = "pending"  # pending | passed | failed
    reason: str = ""  # "" | flat | no_response
    yaw_delta: float = 0.0
    pitch_delta: float = 0.0
    parallax: float = 0.0
    frames: int = 0

    @property
    def passed(self) -> bool:
        return self.state == "passed"

    def as_audit(self) -> dict[str, object]:
        return {
            "challenge": self.challenge, "state": self.state, "reason": self.reason,
            "yaw_delta": round(self.yaw_delta, 3), "pitch_delta": round(self.pitch_delta, 3),
            "parallax": round(self.parallax, 3), "frames": self.frames,
        }


@dataclass
class LivenessTracker:
    """Feed each good frame's five landmarks (and the frame with its face box); read
    :attr:`result`."""

    challenge: str
    config: FaceConfig = field(default_factory=FaceConfig)

    def __post_init__(self) -> None:
        if self.challenge not in CHALLENGES:
            raise ValueError(f"unknown challenge {self.challenge!r}")
        self.result = LivenessResult(self.challenge)
        self._base: np.ndarray | None = None
        self._first: list[np.ndarray] = []
        self._base_pose = (0.0, 0.0)
        self._recent: deque[tuple[float, float, float]] = deque(maxlen=SMOOTH_FRAMES)
        self._max_motion = 0.0
        self._max_parallax = 0.0
        self._points = PointTracker()

    @property
    def done(self) -> bool:
        return self.result.state != "pending"

    def add(
        self,
        lm: np.ndarray,
        frame: np.ndarray | None = None,
        box: tuple[int, int, int, int] | None = None,
        *,
        parallax: float | None = None,
    ) -> LivenessResult:
        """One good frame. ``frame`` and ``box`` feed the planarity check; ``parallax`` gives
        its value directly instead (eye distances; for landmark sequences without images)."""
        r = self.result
        if self.done:
            return r
        lm = np.asarray(lm, np.float64).reshape(5, 2)
        r.frames += 1
        iod = eye_distance(lm) or 1.0
        if parallax is None and frame is not None and box is not None:
            px = self._points.update(frame, box)
            parallax = None if px is None else px / iod
        if len(self._first) < BASELINE_FRAMES:
            self._first.append(lm)
            if len(self._first) == BASELINE_FRAMES:
                self._base = self._first[len(self._first) // 2]
                poses = np.array([pose(x) for x in self._first])
                self._base_pose = (float(np.median(poses[:, 0])), float(np.median(poses[:, 1])))
            return r
        assert self._base is not None
        self._max_motion = max(self._max_motion, float(np.abs(lm - self._base).max()) / iod)
        y, p = pose(lm)
        self._recent.append((y - self._base_pose[0], p - self._base_pose[1], parallax or 0.0))
        if len(self._recent) < SMOOTH_FRAMES:
            return r
        dy, dp, par = (float(v) for v in np.median(np.array(self._recent), axis=0))
        self._max_parallax = max(self._max_parallax, par)
        r.parallax = max(r.parallax, par)
        cfg = self.config
        if self.challenge in ("turn_left", "turn_right"):
            turn = dy if self.challenge == "turn_left" else -dy
            r.yaw_delta = max(r.yaw_delta, turn)
            r.pitch_delta = max(r.pitch_delta, dp)
            if turn >= cfg.yaw_delta and par >= cfg.min_parallax:
                self._pass()
        else:  # nod: chin down, more than any turn
            r.yaw_delta = max(r.yaw_delta, abs(dy))
            r.pitch_delta = max(r.pitch_delta, dp)
            if dp >= cfg.pitch_delta and dp > abs(dy) and par >= cfg.min_parallax:
                self._pass()
        return r

    def _pass(self) -> None:
        self.result.state = "passed"
        self.clear()

    def give_up(self) -> LivenessResult:
        """Out of time/frames: fail, naming a flat (photo-like) motion when that is what was seen."""
        r = self.result
        if not self.done:
            r.state = "failed"
            moved = self._max_motion >= MOVED
            r.reason = "flat" if moved and self._max_parallax < self.config.min_parallax else "no_response"
        self.clear()
        return r

    def clear(self) -> None:
        """Drop the grey frame and the tracked points (memory only, end of the attempt)."""
        self._points.clear()
