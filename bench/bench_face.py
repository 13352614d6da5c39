"""Face pipeline timing on this machine: per frame and per whole verification.

    .venv/bin/python bench/bench_face.py [--runs N]

Per frame = detect (HOG on a down-scaled grey copy) + 68 landmarks + quality gate + 128-d
descriptor + distance, on 640×480 frames of the real clip (tests/data/faces). Whole
verification = a VerificationSession fed the real head-turn clip until it decides (liveness
and match), computing as fast as it can (no camera pacing). Prints median and p99.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from kiosk.face import FaceConfig, FaceVerifier, distance  # noqa: E402
from kiosk.face.testvideo import kiosk_view, read_clip, real_turn  # noqa: E402

FACES = ROOT / "tests" / "data" / "faces"


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def row(name: str, ms: list[float], cpu: list[float]) -> str:
    return (f"| {name:<42} | {len(ms):>5} | {statistics.median(ms):>8.1f} | {pct(ms, 99):>8.1f} "
            f"| {statistics.median(cpu):>8.1f} | {pct(cpu, 99):>8.1f} |")


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10, help="verifications per challenge (default 10)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    verifier = FaceVerifier(FaceConfig())
    load_ms = (time.perf_counter() - t0) * 1000
    an = verifier.analyzer
    clip = read_clip(FACES / "short_hamilton_clip.mp4")
    frames = [kiosk_view(f) for f in clip[84:212]]
    portrait = cv2.imread(str(FACES / "lin-manuel-miranda.png"))
    assert portrait is not None
    id_desc = verifier.id_descriptor(portrait)

    wall: dict[str, list[float]] = {k: [] for k in ("observe", "desc", "total", "whole")}
    cpu: dict[str, list[float]] = {k: [] for k in wall}
    for _ in range(2):
        for f in frames:
            a, a_cpu = clocks()
            obs = an.observe(f)
            b, b_cpu = clocks()
            if obs.rect is None:
                continue
            d = an.descriptor(f, obs.rect)
            distance(d, id_desc)
            c, c_cpu = clocks()
            for key, w, p in (("observe", b - a, b_cpu - a_cpu), ("desc", c - b, c_cpu - b_cpu),
                              ("total", c - a, c_cpu - a_cpu)):
                wall[key].append(w * 1000)
                cpu[key].append(p * 1000)

    # the ID photo as it comes off the card: 102×126, upscaled ×2 before detection
    _, obs = an.describe_still(portrait)
    assert obs.box is not None
    x, y, w, h = obs.box
    cx, cy, side = x + w / 2, y + h / 2, w * 1.7
    crop = portrait[max(0, int(cy - side * 0.62)):int(cy + side * 0.62), max(0, int(cx - side / 2)):int(cx + side / 2)]
    id_photo = cv2.resize(crop, (102, 126), interpolation=cv2.INTER_AREA)
    wall["id_photo"], cpu["id_photo"] = [], []
    for _ in range(20):
        a, a_cpu = clocks()
        verifier.id_descriptor(id_photo)
        b, b_cpu = clocks()
        wall["id_photo"].append((b - a) * 1000)
        cpu["id_photo"].append((b_cpu - a_cpu) * 1000)

    frames_used = []
    for challenge in ("turn_left", "turn_right"):
        for _ in range(args.runs):
            clipf = real_turn(clip, challenge)
            a, a_cpu = clocks()
            s = verifier.start(id_desc, challenge)
            for f in clipf:
                s.feed(f)
                if s.result is not None:
                    break
            b, b_cpu = clocks()
            wall["whole"].append((b - a) * 1000)
            cpu["whole"].append((b_cpu - a_cpu) * 1000)
            assert s.result is not None and s.result.match, s.result
            frames_used.append(s.result.frames)

    load = os.getloadavg()[0]
    print(f"model load: {load_ms:.0f} ms; frames 640x480 from the real clip; frames per decision: "
          f"median {statistics.median(frames_used):.0f}; load average {load:.1f} on {os.cpu_count()} cores")
    print("| step (ms)                                  | runs  | median | p99 (wall) | median | p99 (CPU) |")
    print("|--------------------------------------------|-------|--------|------------|--------|-----------|")
    names = {"observe": "detect + landmarks + quality gate", "desc": "descriptor + compare",
             "total": "per frame: detect + descriptor + compare",
             "id_photo": "ID photo 102x126 descriptor (once)", "whole": "whole verification (liveness + match)"}
    for key, name in names.items():
        print(row(name, wall[key], cpu[key]))


if __name__ == "__main__":
    main()
