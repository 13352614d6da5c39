"""Face pipeline timing on this machine (YuNet + SFace): per frame, per verification, per pair.

    .venv/bin/python bench/bench_face.py [--runs N] [--pairs N]

* **model load** — reading both files, checking their sha256 and creating the OpenCV objects,
  in a fresh process (and the whole ``import kiosk.face`` + load).
* **per frame** — detection (YuNet on a 320-px copy, quality gate) + embedding (``alignCrop`` +
  SFace feature) + compare, on 640×480 frames of the real clip (tests/data/faces); target
  ≤ 150 ms median. The liveness point tracking (Lucas–Kanade on the face) is shown apart.
* **whole verification** — a session fed the real head-turn clip until it decides.
* **compare-pairs** — ``python -m kiosk.face compare-pairs`` as a technician runs it, wall time
  per pair **including start-up** (Python, OpenCV, model load): on the repo's pairs.csv, and on
  ``--pairs`` pairs (default 376) where every image name is distinct (symlinks, so nothing is
  cached: two full stills per pair — an ID-like 102×126 crop and a photo); target < 400 ms.

Prints median and p99 (wall and CPU) and the machine's load average.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from kiosk.face import FaceConfig, FaceVerifier, similarity
from kiosk.face.liveness import PointTracker
from kiosk.face.testvideo import kiosk_view, read_clip, real_turn

ROOT = Path(__file__).resolve().parent.parent
FACES = ROOT / "tests" / "data" / "faces"


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def row(name: str, ms: list[float], cpu: list[float] | None = None) -> str:
    c = (f"{statistics.median(cpu):>8.1f} | {pct(cpu, 99):>8.1f}" if cpu else f"{'':>8} | {'':>8}")
    return f"| {name:<52} | {len(ms):>5} | {statistics.median(ms):>8.1f} | {pct(ms, 99):>8.1f} | {c} |"


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def fresh_load_ms(runs: int) -> dict[str, list[float]]:
    """Model load and import + load in fresh processes, wall and CPU ms."""
    code = ("import time; t0, c0 = time.perf_counter(), time.process_time(); "
            "from kiosk.face.models import load_models; t1, c1 = time.perf_counter(), time.process_time(); "
            "m = load_models(); t2, c2 = time.perf_counter(), time.process_time(); "
            "print((t2 - t1) * 1000, (c2 - c1) * 1000, (t2 - t0) * 1000, (c2 - c0) * 1000)")
    out: dict[str, list[float]] = {"load": [], "load_cpu": [], "all": [], "all_cpu": []}
    for _ in range(runs):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        for key, value in zip(out, r.stdout.split(), strict=True):
            out[key].append(float(value))
    return out


def compare_pairs_ms(pairs_csv: Path) -> tuple[float, float, int]:
    """Wall and CPU ms per pair of one compare-pairs run, start-up included; and the pairs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "kiosk.face", "compare-pairs", str(pairs_csv)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    wall = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)) * 1000
    pairs = max(1, len(out.stdout.splitlines()) - 1)
    return wall / pairs, cpu / pairs, pairs


def distinct_pairs(folder: Path, n: int) -> Path:
    """``n`` rows of (ID-like crop, photo of the same or another person), every name distinct."""
    rows = list(csv.DictReader((FACES / "pairs.csv").open()))
    id_rows = [r for r in rows if r["a"].startswith("id/")]
    out = folder / "pairs.csv"
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["a", "b"])
        for i in range(n):
            r = id_rows[i % len(id_rows)]
            a, b = folder / f"a{i:04d}.png", folder / f"b{i:04d}{Path(r['b']).suffix}"
            a.symlink_to(FACES / r["a"])
            b.symlink_to(FACES / r["b"])
            w.writerow([a.name, b.name])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10, help="verifications per challenge (default 10)")
    ap.add_argument("--pairs", type=int, default=376, help="distinct pairs for compare-pairs (default 376)")
    args = ap.parse_args()

    loads = fresh_load_ms(5)
    verifier = FaceVerifier(FaceConfig())
    an = verifier.analyzer
    clip = read_clip(FACES / "short_hamilton_clip.mp4")
    frames = [kiosk_view(f) for f in clip[84:212]]
    portrait = cv2.imread(str(FACES / "lin-manuel-miranda.png"))
    assert portrait is not None
    id_feat = verifier.id_feature(portrait)

    keys = ("detect", "embed", "frame", "track", "id_photo", "whole")
    wall: dict[str, list[float]] = {k: [] for k in keys}
    cpu: dict[str, list[float]] = {k: [] for k in keys}

    def add(key: str, a: tuple[float, float], b: tuple[float, float]) -> None:
        wall[key].append((b[0] - a[0]) * 1000)
        cpu[key].append((b[1] - a[1]) * 1000)

    for _ in range(2):
        tracker = PointTracker()
        for f in frames:
            a = clocks()
            obs = an.observe(f)
            b = clocks()
            if obs.face is None:
                continue
            similarity(an.feature(f, obs.face), id_feat)
            c = clocks()
            assert obs.box is not None
            tracker.update(f, obs.box)
            d = clocks()
            add("detect", a, b)
            add("embed", b, c)
            add("frame", a, c)
            add("track", c, d)

    id_photo = cv2.imread(str(FACES / "id" / "lin-manuel-miranda.png"), cv2.IMREAD_UNCHANGED)
    assert id_photo is not None and id_photo.shape == (126, 102)
    for _ in range(20):
        a = clocks()
        verifier.id_feature(id_photo)
        add("id_photo", a, clocks())

    frames_used = []
    for challenge in ("turn_left", "turn_right"):
        for _ in range(args.runs):
            clipf = real_turn(clip, challenge)
            a = clocks()
            s = verifier.start(id_feat, challenge)
            for f in clipf:
                s.feed(f)
                if s.result is not None:
                    break
            add("whole", a, clocks())
            assert s.result is not None and s.result.match, s.result
            frames_used.append(s.result.frames)

    repo_ms, repo_cpu, repo_pairs = compare_pairs_ms(FACES / "pairs.csv")
    with tempfile.TemporaryDirectory() as tmp:
        distinct_ms, distinct_cpu, distinct_n = compare_pairs_ms(distinct_pairs(Path(tmp), args.pairs))

    load = os.getloadavg()[0]
    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads; frames 640x480 from the real clip; "
          f"frames per decision: median {statistics.median(frames_used):.0f}; "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    print(f"| {'step (ms)':<52} | runs  |   median |      p99 | CPU med  | CPU p99  |")
    print(f"|{'-' * 54}|-------|----------|----------|----------|----------|")
    print(row("model load: sha256 check + create (fresh process)", loads["load"], loads["load_cpu"]))
    print(row("import kiosk.face + model load (fresh process)", loads["all"], loads["all_cpu"]))
    names = {"detect": "detection + landmarks + quality gate (320-px copy)",
             "embed": "embedding: alignCrop + SFace feature + compare",
             "frame": "per frame: detection + embedding  (target ≤ 150)",
             "track": "liveness point tracking (per frame)",
             "id_photo": "ID photo 102x126 grey: feature (once)",
             "whole": "whole verification (liveness + match)"}
    for key, name in names.items():
        print(row(name, wall[key], cpu[key]))
    print("compare-pairs per pair incl. start-up (target < 400 ms), wall / CPU:")
    print(f"  repo pairs.csv: {repo_ms:.1f} / {repo_cpu:.1f} ms ({repo_pairs} pairs, 30 images)")
    print(f"  every image distinct (ID-like crop + photo): {distinct_ms:.1f} / {distinct_cpu:.1f} ms "
          f"({distinct_n} pairs, {2 * distinct_n} images)")


if __name__ == "__main__":
    main()
