"""Technician commands for the face pipeline (images stay in memory; nothing is written).

Examples::

    python -m kiosk.face compare id_photo.bmp live.jpg
    {"match": true, "score": 0.6512, "threshold": 0.363, ...}
    python -m kiosk.face compare-pairs pairs.csv
    {"a": "id/0001.bmp", "b": "live/0001.jpg", "score": 0.7123, "match": true, "threshold": 0.363}
    ...
    {"pairs": 376, "matched": 170, "errors": 2, "median_ms": 61.0}
    python -m kiosk.face calibrate pairs.csv --target-far 0.001
    python -m kiosk.face camera 0 --frames 60

Exit codes: ``compare`` 0 when it compared (match or not), 2 when an image cannot be read or
has no usable face. ``compare-pairs`` 0 once every row is reported (rows with errors
included), 2 only when the CSV cannot be read. ``calibrate`` 0 when it proposes a threshold,
1 when it refuses (too few pairs to show the target, or none meets it), 2 when the CSV cannot
be read. Any of them: 3 when the models cannot be used (a file missing or failing its sha256
digest) — nothing is compared then. ``camera`` 2 when the camera gives no frame.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import FaceConfig
from .errors import FaceError, NoUsableFace

DEFAULT = FaceConfig()


def _print(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


def _read_image(path: Path) -> Any:
    import cv2

    if not path.is_file():
        return None
    try:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    return None if img is None or img.size == 0 else img


def _verifier(min_similarity: float) -> Any:
    """The models, or None after telling why they cannot be used (exit 3)."""
    from .verifier import FaceVerifier

    try:
        return FaceVerifier(FaceConfig(min_similarity=min_similarity))
    except FaceError as e:
        print(f"error: {e.en} / {e.zh}" + (f" ({e.detail})" if e.detail else ""), file=sys.stderr)
        if e.advice_en:
            print(f"  {e.advice_en} / {e.advice_zh}", file=sys.stderr)
        return None


# --- compare ---------------------------------------------------------------------------------

def _compare(args: argparse.Namespace) -> int:
    if args.threshold is not None:
        print("error: --threshold was a dlib distance (lower = more alike) and is gone; use "
              "--min-similarity (cosine similarity, higher = more alike, default "
              f"{DEFAULT.min_similarity})", file=sys.stderr)
        return 2
    images = {}
    for name, path in (("ID_PHOTO", args.id_photo), ("LIVE_IMAGE", args.live_image)):
        images[name] = _read_image(Path(path))
        if images[name] is None:
            print(f"error: {name} cannot be read: {path} / 图像无法读取", file=sys.stderr)
            return 2
    verifier = _verifier(args.min_similarity)
    if verifier is None:
        return 3
    from .pipeline import similarity

    results = {}
    for name, img in images.items():
        try:
            results[name] = verifier.analyzer.describe_still(img)
        except NoUsableFace as e:
            print(f"error: {name} has no usable face ({e.detail}) / 图像中没有可用的人脸", file=sys.stderr)
            return 2
    score = round(similarity(results["ID_PHOTO"][0], results["LIVE_IMAGE"][0]), 4)
    obs = results["LIVE_IMAGE"][1]
    _print({
        "match": score >= args.min_similarity,
        "score": score,
        "threshold": args.min_similarity,
        "live_face_px": obs.box[2] if obs.box else 0,
        "live_quality": obs.quality.reason,
        "model": verifier.model,
    })
    return 0


# --- pairs: compare-pairs and calibrate -------------------------------------------------------

class _CsvUnreadable(Exception):
    pass


def _read_pairs(path: str, needed: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a pairs file: UTF-8 (with or without BOM), or GB18030 as Chinese Excel
    saves it; header names are stripped, values kept exactly as written."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise _CsvUnreadable(f"{path}: {e.strerror or e}") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _CsvUnreadable(f"{path}: neither UTF-8 nor GB18030 text")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        fields = [(f or "").strip() for f in (reader.fieldnames or [])]
        missing = [c for c in needed if c not in fields]
        if missing:
            raise _CsvUnreadable(f"{path}: no column {', '.join(missing)} (columns: {', '.join(fields) or 'none'})")
        reader.fieldnames = fields
        return [row for row in reader]
    except csv.Error as e:
        raise _CsvUnreadable(f"{path}: {e}") from None


class _Features:
    """Features of the images of a pairs file, each computed once (in memory only)."""

    def __init__(self, verifier: Any, folder: Path) -> None:
        self.verifier = verifier
        self.folder = folder
        self._cache: dict[str, tuple[Any, str | None]] = {}
        self.cost_ms: dict[str, float] = {}  # what reading and describing each image took, once

    def get(self, name: str) -> tuple[Any, str | None]:
        """(feature, None) or (None, "unreadable" | "no_face")."""
        if name not in self._cache:
            t0 = time.perf_counter()
            self._load(name)
            self.cost_ms[name] = (time.perf_counter() - t0) * 1000
        return self._cache[name]

    def pair_ms(self, a: str, b: str, compare_ms: float) -> float:
        """A comparison's time as if neither image had been seen before: both described, then compared."""
        return self.cost_ms.get(a, 0.0) + (self.cost_ms.get(b, 0.0) if b != a else 0.0) + compare_ms

    def _load(self, name: str) -> None:
        if name not in self._cache:
            img = _read_image(self.folder / name) if name else None
            if img is None:
                self._cache[name] = (None, "unreadable")
            else:
                try:
                    self._cache[name] = (self.verifier.analyzer.describe_still(img)[0], None)
                except NoUsableFace:
                    self._cache[name] = (None, "no_face")
                except Exception:  # an image OpenCV decodes but cannot process: report the row
                    self._cache[name] = (None, "unreadable")

    def score(self, a: str, b: str) -> tuple[float | None, str | None]:
        from .pipeline import similarity

        fa, err = self.get(a)
        if err:
            return None, err
        fb, err = self.get(b)
        if err:
            return None, err
        return similarity(fa, fb), None


def _compare_pairs(args: argparse.Namespace) -> int:
    try:
        rows = _read_pairs(args.pairs, ("a", "b"))
    except _CsvUnreadable as e:
        print(f"error: cannot read the pairs file: {e}", file=sys.stderr)
        return 2
    verifier = _verifier(args.min_similarity)
    if verifier is None:
        return 3
    feats = _Features(verifier, Path(args.pairs).resolve().parent)
    times: list[float] = []
    matched = errors = 0
    for row in rows:
        a, b = row.get("a") or "", row.get("b") or ""
        feats.get(a)
        feats.get(b)
        t0 = time.perf_counter()
        score, err = feats.score(a, b)
        if err is not None:
            errors += 1
            _print({"a": a, "b": b, "error": err})
            continue
        # Each image is described once and reused, so a row's own time is mostly a lookup; the
        # median is of what a comparison costs from scratch (both images described, then compared).
        times.append(feats.pair_ms(a, b, (time.perf_counter() - t0) * 1000))
        assert score is not None
        score = round(score, 4)  # the decision is the one the printed score shows
        match = score >= args.min_similarity
        matched += match
        _print({"a": a, "b": b, "score": score, "match": match, "threshold": args.min_similarity})
    _print({"pairs": len(rows), "matched": matched, "errors": errors,
            "median_ms": round(statistics.median(times), 1) if times else 0.0})
    return 0


_TRUE = {"1", "true", "yes", "y", "same", "是"}
_FALSE = {"0", "false", "no", "n", "different", "否"}


def far_upper_bound(false_accepts: int, pairs: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound of a false-accept rate seen as ``false_accepts`` in
    ``pairs`` (Clopper–Pearson); with none seen it is 1 − (1 − confidence)^(1/n) ≈ 3/n (the
    rule of three)."""
    import numpy as np

    n, k = pairs, false_accepts
    if n <= 0 or k >= n:
        return 1.0
    alpha = 1.0 - confidence
    steps = np.log(np.arange(n, n - k, -1, dtype=np.float64)) - np.log(np.arange(1, k + 1, dtype=np.float64))

    def cdf(p: float) -> float:  # P(X ≤ k) for X ~ Binomial(n, p), in log space
        logs = n * math.log1p(-p) + np.concatenate(([0.0], np.cumsum(steps + math.log(p / (1 - p)))))
        top = float(logs.max())
        return math.exp(top) * float(np.exp(logs - top).sum())

    lo, hi = k / n, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if mid <= 0.0 or cdf(mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


def _calibrate(args: argparse.Namespace) -> int:
    if not 0 < args.target_far < 1:
        print("error: --target-far must be between 0 and 1 (e.g. 0.001)", file=sys.stderr)
        return 2
    try:
        rows = _read_pairs(args.pairs, ("a", "b", "same"))
    except _CsvUnreadable as e:
        print(f"error: cannot read the pairs file: {e}", file=sys.stderr)
        return 2
    verifier = _verifier(DEFAULT.min_similarity)
    if verifier is None:
        return 3
    feats = _Features(verifier, Path(args.pairs).resolve().parent)
    same: list[float | None] = []  # None = an unusable image: a false reject at any threshold
    diff: list[float] = []
    errors = bad_label = 0
    for row in rows:
        label = (row.get("same") or "").strip().lower()
        if label not in _TRUE | _FALSE:
            bad_label += 1
            continue
        score, err = feats.score(row.get("a") or "", row.get("b") or "")
        errors += err is not None
        if label in _TRUE:
            same.append(score)
        elif score is not None:
            diff.append(score)
    n_same, n_diff = len(same), len(diff)

    def rates(t: float) -> tuple[int, int]:
        fa = sum(1 for s in diff if s >= t)
        fr = sum(1 for s in same if s is None or s < t)
        return fa, fr

    for i in range(args.low_pct, args.high_pct + 1, args.step_pct):
        t = i / 100
        fa, fr = rates(t)
        _print({"threshold": t, "false_accepts": fa, "different_pairs": n_diff,
                "false_rejects": fr, "same_pairs": n_same,
                "far": round(fa / n_diff, 5) if n_diff else None,
                "frr": round(fr / n_same, 5) if n_same else None,
                "far_upper_95": round(far_upper_bound(fa, n_diff), 5)})
    needed = math.ceil(3 / args.target_far)
    summary: dict[str, Any] = {
        "same_pairs": n_same, "different_pairs": n_diff, "errors": errors, "bad_labels": bad_label,
        "target_far": args.target_far, "different_pairs_needed": needed,
        "current_min_similarity": DEFAULT.min_similarity,
        "frr_at_current": round(rates(DEFAULT.min_similarity)[1] / n_same, 5) if n_same else None,
        "proposed_min_similarity": None, "frr_at_proposed": None, "far_upper_95_at_proposed": None,
        "refused": None,
    }
    if n_diff < needed:
        summary["refused"] = (
            f"too few different-person pairs: {n_diff}; zero false accepts in n pairs only shows "
            f"a rate below 3/n, so showing {args.target_far} needs at least {needed}")
    elif n_same == 0:
        summary["refused"] = "no same-person pairs: false rejects cannot be measured"
    else:
        proposed = None
        for i in range(-1000, 1001):  # the lowest threshold (0.001 steps) whose bound meets the target
            t = i / 1000
            fa, _ = rates(t)
            if fa <= args.target_far * n_diff and far_upper_bound(fa, n_diff) <= args.target_far:
                proposed = t
                break
        if proposed is None:
            summary["refused"] = "no threshold meets the target on these pairs"
        else:
            fa, fr = rates(proposed)
            summary.update(proposed_min_similarity=proposed, frr_at_proposed=round(fr / n_same, 5),
                           false_accepts_at_proposed=fa,
                           far_upper_95_at_proposed=round(far_upper_bound(fa, n_diff), 6),
                           lowers_security=proposed < DEFAULT.min_similarity)
    _print(summary)
    if summary["refused"]:
        print(f"calibrate: no threshold proposed — {summary['refused']} / 样本不足或无法达到目标，未给出阈值",
              file=sys.stderr)
        return 1
    print(f"calibrate: set [face] min_similarity = {summary['proposed_min_similarity']} "
          f"(false rejects on these pairs: {summary['frr_at_proposed']:.1%}) / 建议阈值",
          file=sys.stderr)
    if summary["lowers_security"]:
        print(f"calibrate: warning — {summary['proposed_min_similarity']} is below the default "
              f"{DEFAULT.min_similarity}: more different people would be accepted than with the default; "
              f"lower it only with a target the hall has decided on / 警告：建议阈值低于默认值 "
              f"{DEFAULT.min_similarity}，会接受更多非本人，请确认目标误识率后再设置",
              file=sys.stderr)
    return 0


# --- camera ----------------------------------------------------------------------------------

def _camera(args: argparse.Namespace) -> int:
    from collections import Counter

    from hardware.camera import CameraError, open_camera

    try:
        camera = open_camera({"source": args.source, "width": args.width, "height": args.height})
    except CameraError as e:
        _print({"ok": False, "code": e.code, "message": e.zh, "detail": e.detail})
        return 2
    verifier = _verifier(DEFAULT.min_similarity)
    if verifier is None:
        camera.close()
        return 3
    analyzer = verifier.analyzer
    reasons: Counter[str] = Counter()
    sizes: list[int] = []
    shape = None
    n = 0
    start = time.perf_counter()
    try:
        while n < args.frames:
            frame = camera.read()
            if frame is None:
                break
            n += 1
            shape = frame.shape
            obs = analyzer.observe(frame)
            reasons[obs.quality.reason] += 1
            if obs.box:
                sizes.append(obs.box[2])
    finally:
        camera.close()
    seconds = time.perf_counter() - start
    _print({
        "ok": n > 0, "frames": n,
        "width": shape[1] if shape else 0, "height": shape[0] if shape else 0,
        "fps_with_analysis": round(n / seconds, 1) if seconds > 0 else 0.0,
        "quality": dict(reasons), "median_face_px": statistics.median(sizes) if sizes else 0,
        "model": verifier.model,
    })
    return 0 if n > 0 else 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.face",
        description="Face verification tools (人证比对): YuNet + SFace. Images stay in memory; "
        "nothing is written. Score = cosine similarity, higher = more alike; match when ≥ "
        f"min_similarity (default {DEFAULT.min_similarity}).",
        epilog="example: python -m kiosk.face compare tests/data/faces/obama.jpg tests/data/faces/obama2.jpg",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sim_help = f"match when score ≥ this (default {DEFAULT.min_similarity})"

    cmp_ = sub.add_parser(
        "compare",
        help="compare an ID photo with a live image; prints one JSON line",
        description="Compare the face in ID_PHOTO with the face in LIVE_IMAGE and print one JSON "
        'line {"match": bool, "score": float, "threshold": float, ...}. Exit 2 when an image '
        "cannot be read or has no usable face.",
        epilog="example: python -m kiosk.face compare id_photo.bmp live.jpg --min-similarity 0.4",
    )
    cmp_.add_argument("id_photo", metavar="ID_PHOTO")
    cmp_.add_argument("live_image", metavar="LIVE_IMAGE")
    cmp_.add_argument("--min-similarity", type=float, default=DEFAULT.min_similarity, help=sim_help)
    cmp_.add_argument("--threshold", type=float, default=None, help=argparse.SUPPRESS)

    pairs = sub.add_parser(
        "compare-pairs",
        help="compare every row of a CSV (columns a, b); one JSON line per row and a summary",
        description="Load the models once and compare every row of PAIRS.csv: columns a and b "
        "are image paths relative to the CSV's folder (other columns are ignored). Prints one "
        'JSON line per row — {"a", "b", "score", "match", "threshold"}, or {"a", "b", "error": '
        '"no_face"|"unreadable"} — then {"pairs", "matched", "errors", "median_ms"}. Exit 0 once '
        "every row is reported, 2 when the CSV cannot be read.",
        epilog="example: python -m kiosk.face compare-pairs tests/data/faces/pairs.csv",
    )
    pairs.add_argument("pairs", metavar="PAIRS.csv")
    pairs.add_argument("--min-similarity", type=float, default=DEFAULT.min_similarity, help=sim_help)

    cal = sub.add_parser(
        "calibrate",
        help="false accepts / rejects over thresholds on a hall's own labelled pairs",
        description="Read PAIRS.csv with columns a, b and same (1 = same person, 0 = different) — "
        "a hall's own consented pairs from its own camera — and print, one JSON line per "
        "threshold, the false accepts and false rejects (an unusable image counts as a false "
        "reject), then a summary with the lowest threshold whose false-accept rate is shown "
        "below --target-far at 95% confidence, and its false-reject rate. Refuses (exit 1) "
        "when the different-person pairs are too few to show the target: zero false accepts in "
        "n pairs only shows a rate below 3/n (the rule of three).",
        epilog="example: python -m kiosk.face calibrate hall_pairs.csv --target-far 0.001",
    )
    cal.add_argument("pairs", metavar="PAIRS.csv")
    cal.add_argument("--target-far", type=float, default=0.001,
                     help="false-accept rate to show (default 0.001 = 1 in 1000)")
    cal.add_argument("--low-pct", type=int, default=20, help="table from this threshold × 100 (default 20)")
    cal.add_argument("--high-pct", type=int, default=70, help="table up to this threshold × 100 (default 70)")
    cal.add_argument("--step-pct", type=int, default=2, help="table step × 100 (default 2)")

    cam = sub.add_parser(
        "camera",
        help="check a camera: resolution, frame rate, how often a usable face is seen",
        description="Read frames from SOURCE (device index, /dev/video*, video file or folder) and "
        "print one JSON line: frames read, resolution, frames per second, and per quality "
        "reason how many frames had it. Frames stay in memory.",
        epilog="example: python -m kiosk.face camera 0 --frames 60",
    )
    cam.add_argument("source", metavar="SOURCE")
    cam.add_argument("--frames", type=int, default=60, help="frames to read (default 60)")
    cam.add_argument("--width", type=int, default=640)
    cam.add_argument("--height", type=int, default=480)
    args = parser.parse_args(argv)

    commands = {"compare": _compare, "compare-pairs": _compare_pairs, "calibrate": _calibrate,
                "camera": _camera}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
