"""Face matching on the real photos at the configured threshold, quality gate, ID-photo size."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.face import FaceAnalyzer, FaceConfig, distance
from kiosk.face.models import models_dir

ROOT = Path(__file__).resolve().parent.parent
FACES = Path(__file__).parent / "data" / "faces"

PEOPLE = {
    "obama": ["obama.jpg", "obama2.jpg", "obama3.jpg", "obama1_knn.jpg", "obama_small.jpg"],
    "biden": ["biden.jpg", "biden2.jpg"],
    "lacamoire": ["alex-lacamoire.png", "alex_lacamoire1.jpg"],
    "harington": ["kit_harington_john1.jpeg", "kit_harington_john2.jpeg", "kit_harington_johnsnow_test1.jpg"],
    "leslie": ["rose_leslie_img1.jpg", "rose_leslie_img2.jpg"],
    "miranda": ["lin-manuel-miranda.png"],
}
OWNER = {f: p for p, files in PEOPLE.items() for f in files}


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(FaceConfig())


@pytest.fixture(scope="module")
def descriptors(analyzer) -> dict[str, np.ndarray]:
    return {f: analyzer.describe_still(cv2.imread(str(FACES / f)))[0] for f in OWNER}


def test_models_are_found_without_importing_face_recognition_models():
    d = models_dir()
    assert (d / "dlib_face_recognition_resnet_model_v1.dat").is_file()
    assert "face_recognition_models" not in sys.modules


def test_every_same_person_pair_matches(descriptors):
    threshold = FaceConfig().threshold
    pairs = [(a, b) for a, b in itertools.combinations(descriptors, 2) if OWNER[a] == OWNER[b]]
    assert len(pairs) == 10 + 1 + 1 + 3 + 1
    worst = max(distance(descriptors[a], descriptors[b]) for a, b in pairs)
    for a, b in pairs:
        assert distance(descriptors[a], descriptors[b]) <= threshold, (a, b)
    assert worst > 0.3  # the set contains genuinely hard pairs, not near-duplicates only


def test_every_different_person_pair_does_not_match(descriptors):
    threshold = FaceConfig().threshold
    pairs = [(a, b) for a, b in itertools.combinations(descriptors, 2) if OWNER[a] != OWNER[b]]
    assert len(pairs) > 80
    for a, b in pairs:
        assert distance(descriptors[a], descriptors[b]) > threshold, (a, b)


def _id_photo(analyzer: FaceAnalyzer, image: np.ndarray) -> np.ndarray:
    """Crop like an ID photo (head and shoulders, 102:126) and scale to 102×126 pixels."""
    _, obs = analyzer.describe_still(image)
    assert obs.box is not None
    x, y, w, h = obs.box
    cx, cy, side = x + w / 2, y + h / 2, w * 1.7
    y0, y1 = max(0, int(cy - side * 0.62)), int(cy + side * 0.62)
    x0, x1 = max(0, int(cx - side * 0.5)), int(cx + side * 0.5)
    return cv2.resize(image[y0:y1, x0:x1], (102, 126), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("photo", ["obama.jpg", "biden2.jpg", "rose_leslie_img1.jpg", "lin-manuel-miranda.png"])
def test_id_photo_scaled_to_102x126_still_matches_its_owner(analyzer, descriptors, photo):
    small = _id_photo(analyzer, cv2.imread(str(FACES / photo)))
    assert small.shape[:2] == (126, 102)
    d_small = analyzer.describe_still(small)[0]
    owner = OWNER[photo]
    threshold = analyzer.config.threshold
    for other, desc in descriptors.items():
        if other == photo:
            continue
        if OWNER[other] == owner:
            assert distance(d_small, desc) <= threshold, other
        else:
            assert distance(d_small, desc) > threshold, other


def test_quality_gate_reasons(analyzer):
    frame = cv2.resize(cv2.imread(str(FACES / "obama2.jpg")), None, fx=0.6, fy=0.6)
    assert analyzer.observe(frame).quality.ok
    assert analyzer.observe(np.full((480, 640, 3), 128, np.uint8)).quality.reason == "no_face"
    assert analyzer.observe(cv2.imread(str(FACES / "two_people.jpg"))).quality.reason == "many_faces"
    strict = FaceAnalyzer(FaceConfig(min_face_px=400))
    assert strict.observe(frame).quality.reason == "too_small"
    assert analyzer.observe((frame * 0.2).astype(np.uint8)).quality.reason == "too_dark"
    blurred = cv2.GaussianBlur(frame, (0, 0), 5)
    q = analyzer.observe(blurred).quality
    assert q.reason in ("blurry", "no_face")
    assert q.message_zh


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk.face", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_cli_compare_prints_one_json_line():
    r = _cli("compare", str(FACES / "biden.jpg"), str(FACES / "biden2.jpg"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert out["match"] is True and 0 < out["distance"] < 0.55

    r = _cli("compare", str(FACES / "biden.jpg"), str(FACES / "obama.jpg"))
    assert json.loads(r.stdout)["match"] is False


def test_cli_compare_exits_2_without_a_usable_face(tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 90, np.uint8))
    r = _cli("compare", str(FACES / "obama.jpg"), str(blank))
    assert r.returncode == 2
    assert "LIVE_IMAGE" in r.stderr and r.stdout == ""
    r = _cli("compare", str(FACES / "two_people.jpg"), str(FACES / "obama.jpg"))
    assert r.returncode == 2 and "ID_PHOTO" in r.stderr


def test_cli_help_has_an_example():
    r = _cli("compare", "--help")
    assert r.returncode == 0 and "example:" in r.stdout


def test_face_config_from_mapping_rejects_unknown_keys_and_documents_every_setting():
    cfg = FaceConfig.from_mapping({"threshold": 0.5, "challenges": ["blink"]})
    assert cfg.threshold == 0.5 and cfg.challenges == ("blink",)
    with pytest.raises(ValueError, match="treshold"):
        FaceConfig.from_mapping({"treshold": 0.5})
    import ast

    tree = ast.parse((ROOT / "kiosk" / "face" / "config.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "FaceConfig")
    body = cls.body
    undocumented = [
        stmt.target.id for i, stmt in enumerate(body)
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
        and not (i + 1 < len(body) and isinstance(body[i + 1], ast.Expr)
                 and isinstance(body[i + 1].value, ast.Constant))
    ]
    assert undocumented == []


def test_cli_camera_check_reports_frames_and_quality():
    r = _cli("camera", str(FACES / "short_hamilton_clip.mp4"), "--frames", "30")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["frames"] == 30 and (out["width"], out["height"]) == (640, 360)
    assert sum(out["quality"].values()) == 30
    r = _cli("camera", str(FACES / "no-such-video.mp4"))
    assert r.returncode == 2 and json.loads(r.stdout)["code"] == "camera_unavailable"
