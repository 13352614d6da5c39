"""Liveness on generated videos (how they are made: tests/data/faces/SOURCES.md) and on
landmark sequences for the blink, which the real clip does not contain."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.face import FaceConfig, FaceVerifier, LivenessTracker
from kiosk.face.liveness import aligned_ear, eye_aspect_ratio, planar_residual, yaw
from kiosk.face.testvideo import kiosk_view, photo_attack, read_clip, real_turn

FACES = Path(__file__).parent / "data" / "faces"


@pytest.fixture(scope="module")
def verifier() -> FaceVerifier:
    return FaceVerifier(FaceConfig())


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    return read_clip(FACES / "short_hamilton_clip.mp4")


@pytest.fixture(scope="module")
def id_desc(verifier):
    return verifier.id_descriptor(cv2.imread(str(FACES / "lin-manuel-miranda.png")))


def run(verifier, id_desc, challenge, frames):
    session = verifier.start(id_desc, challenge)
    for f in frames:
        session.feed(f)
        if session.result is not None:
            break
    if session.result is None:  # clip ended before the frame budget: time is up
        session.liveness.give_up()
        session._finish()
    assert session.result is not None
    return session.result


@pytest.mark.parametrize("challenge", ["turn_left", "turn_right"])
def test_real_clip_answering_the_turn_challenge_passes_and_matches(verifier, clip, id_desc, challenge):
    result = run(verifier, id_desc, challenge, real_turn(clip, challenge))
    assert result.liveness.passed, result.liveness.as_audit()
    assert result.liveness.parallax >= verifier.config.min_parallax
    assert result.match and result.reason == "match"
    assert result.distance is not None and result.distance <= verifier.config.threshold
    assert result.descriptors >= verifier.config.min_decision_frames


def test_real_clip_turning_the_wrong_way_fails(verifier, clip, id_desc):
    result = run(verifier, id_desc, "turn_left", real_turn(clip, "turn_right"))
    assert not result.match and result.reason == "liveness_failed"
    assert result.liveness.reason == "no_response"


@pytest.mark.parametrize("challenge", ["turn_left", "turn_right", "blink"])
@pytest.mark.parametrize("source", ["clip_frame", "portrait"])
def test_photo_moved_in_front_of_the_camera_fails(verifier, clip, id_desc, challenge, source):
    photo = kiosk_view(clip[148]) if source == "clip_frame" else cv2.imread(str(FACES / "lin-manuel-miranda.png"))
    result = run(verifier, id_desc, challenge, photo_attack(photo, frames=40))
    assert result.good_frames >= 30  # the photo is seen clearly: it is liveness that stops it
    assert not result.match and result.reason == "liveness_failed"
    assert result.liveness.reason == "flat"
    assert result.liveness.parallax < verifier.config.min_parallax
    # the identity would have matched: the attack uses the right person's photo
    assert result.distance is not None and result.distance <= verifier.config.threshold


def test_stranger_answering_the_challenge_is_a_mismatch(verifier, clip):
    obama = verifier.id_descriptor(cv2.imread(str(FACES / "obama.jpg")))
    result = run(verifier, obama, "turn_left", real_turn(clip, "turn_left"))
    assert result.liveness.passed
    assert not result.match and result.reason == "mismatch"
    assert result.distance is not None and result.distance > verifier.config.threshold


def test_audit_record_has_numbers_only(verifier, clip, id_desc):
    result = run(verifier, id_desc, "turn_left", real_turn(clip, "turn_left"))
    audit = result.as_audit()
    assert set(audit) == {"match", "reason", "distance", "threshold", "liveness", "frames", "good_frames", "seconds"}
    flat = repr(audit)
    assert "array" not in flat and len(flat) < 400


# --- blink on landmark sequences ------------------------------------------------------------

@pytest.fixture(scope="module")
def open_eyes(verifier, clip) -> np.ndarray:
    obs = verifier.analyzer.observe(kiosk_view(clip[148]))
    assert obs.landmarks is not None
    return obs.landmarks


def close_eyes(lm: np.ndarray, amount: float) -> np.ndarray:
    """Move the upper lids (37, 38, 43, 44) towards the lower lids (41, 40, 47, 46)."""
    out = lm.copy()
    for up, low in ((37, 41), (38, 40), (43, 47), (44, 46)):
        out[up] = lm[up] + amount * (lm[low] - lm[up])
    return out


def warp(lm: np.ndarray, m: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(lm.reshape(-1, 1, 2), m).reshape(-1, 2)


def test_blink_passes(open_eyes):
    t = LivenessTracker("blink", FaceConfig())
    seq = [open_eyes] * 4 + [close_eyes(open_eyes, 0.5), close_eyes(open_eyes, 0.85)] + [open_eyes] * 2
    for lm in seq:
        t.add(lm)
    assert t.result.passed and t.result.blink_ratio < 0.5


def test_tilted_photo_squashing_the_eyes_is_not_a_blink(open_eyes):
    """A photo tilted backwards halves the eye height in the image — and everything else's."""
    t = LivenessTracker("blink", FaceConfig())
    cx, cy = open_eyes.mean(axis=0)
    for k in range(30):
        squash = 1.0 - 0.6 * abs(np.sin(k / 5))
        m = np.array([[1, 0, 0], [0, squash, cy * (1 - squash)], [0, 0.0004 * (1 - squash), 1]], np.float64)
        lm = warp(open_eyes, m)
        assert eye_aspect_ratio(lm) < eye_aspect_ratio(open_eyes) or k % 16 == 0
        t.add(lm)
    assert not t.result.passed
    assert t.give_up().reason == "flat"
    assert aligned_ear(open_eyes, warp(open_eyes, np.diag([1.0, 0.5, 1.0]))) == pytest.approx(
        eye_aspect_ratio(open_eyes), rel=0.02
    )


def test_planar_residual_is_zero_for_any_homography(open_eyes):
    m = np.array([[0.9, 0.1, 20], [-0.05, 1.1, -10], [0.0003, -0.0002, 1]])
    assert planar_residual(open_eyes, warp(open_eyes, m)) < 1e-6
    assert abs(yaw(open_eyes)) < 0.2


def test_unknown_challenge_is_rejected():
    with pytest.raises(ValueError):
        LivenessTracker("smile")


def test_owner_photo_then_impostor_answering_the_challenge_does_not_match(verifier, clip):
    """Descriptors of the owner's photo must not be combined with someone else's liveness."""
    owner_photo = cv2.imread(str(FACES / "obama2.jpg"))
    owner = verifier.id_descriptor(cv2.imread(str(FACES / "obama.jpg")))
    frames = photo_attack(owner_photo, frames=12, max_angle_deg=5) + real_turn(clip, "turn_left")
    session = verifier.start(owner, "turn_left")
    for f in frames:
        session.feed(f)
        if session.result is not None:
            break
    if session.result is None:
        session.liveness.give_up()
        session._finish()
    assert session.resets >= 1
    assert session.result is not None and not session.result.match


def test_real_clip_is_one_continuous_track(verifier, clip, id_desc):
    session = verifier.start(id_desc, "turn_right")
    for f in real_turn(clip, "turn_right"):
        session.feed(f)
        if session.result is not None:
            break
    assert session.resets == 0 and session.result is not None and session.result.match
