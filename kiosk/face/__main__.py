"""Technician commands for the face pipeline.

Examples::

    python -m kiosk.face compare id_photo.bmp live.jpg
    {"match": true, "distance": 0.3412, "threshold": 0.55, ...}
    python -m kiosk.face camera 0 --frames 60
    {"ok": true, "frames": 60, "width": 640, "height": 480, "fps_with_analysis": 14.2, ...}

``compare`` exits 0 when it compared (match or not), 2 when either image has no usable face or
cannot be read. ``camera`` exits 2 when the camera cannot be opened or gives no frame.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import cv2

from .config import FaceConfig
from .errors import FaceError


def _read(path: str) -> object:
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FaceError(f"cannot read image {path}")
    return img


def _camera(args: argparse.Namespace) -> int:
    import statistics
    import time
    from collections import Counter

    from hardware.camera import CameraError, open_camera

    from .pipeline import FaceAnalyzer

    try:
        camera = open_camera({"source": args.source, "width": args.width, "height": args.height})
    except CameraError as e:
        print(json.dumps({"ok": False, "code": e.code, "message": e.message_zh, "detail": e.detail},
                         ensure_ascii=False))
        return 2
    analyzer = FaceAnalyzer(FaceConfig())
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
    print(json.dumps({
        "ok": n > 0, "frames": n,
        "width": shape[1] if shape else 0, "height": shape[0] if shape else 0,
        "fps_with_analysis": round(n / seconds, 1) if seconds > 0 else 0.0,
        "quality": dict(reasons), "median_face_px": statistics.median(sizes) if sizes else 0,
    }))
    return 0 if n > 0 else 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.face",
        description="Face verification tools (人证比对). Images stay in memory; nothing is written.",
        epilog="example: python -m kiosk.face compare tests/data/faces/obama.jpg tests/data/faces/obama2.jpg",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmp_ = sub.add_parser(
        "compare",
        help="compare an ID photo with a live image; prints one JSON line",
        description="Compare the face in ID_PHOTO with the face in LIVE_IMAGE and print one JSON "
        'line {"match": bool, "distance": float, ...}. Exit 2 when either image has no usable face.',
        epilog="example: python -m kiosk.face compare id_photo.bmp live.jpg --threshold 0.5",
    )
    cmp_.add_argument("id_photo", metavar="ID_PHOTO")
    cmp_.add_argument("live_image", metavar="LIVE_IMAGE")
    cmp_.add_argument("--threshold", type=float, default=FaceConfig.threshold,
                      help=f"match when distance ≤ this (default {FaceConfig.threshold})")
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

    if args.command == "camera":
        return _camera(args)

    from .verifier import FaceVerifier

    verifier = FaceVerifier(FaceConfig(threshold=args.threshold))
    try:
        id_img = _read(args.id_photo)
        live = _read(args.live_image)
    except FaceError as e:
        print(f"error: {e.detail}", file=sys.stderr)
        return 2
    results = {}
    for name, img in (("ID_PHOTO", id_img), ("LIVE_IMAGE", live)):
        try:
            results[name] = verifier.analyzer.describe_still(img)  # type: ignore[arg-type]
        except FaceError as e:
            print(f"error: {name} has no usable face ({e.detail}) / 图像中没有可用的人脸", file=sys.stderr)
            return 2
    from .pipeline import distance

    d = distance(results["ID_PHOTO"][0], results["LIVE_IMAGE"][0])
    obs = results["LIVE_IMAGE"][1]
    print(json.dumps({
        "match": d <= args.threshold,
        "distance": round(d, 4),
        "threshold": args.threshold,
        "live_face_px": obs.box[2] if obs.box else 0,
        "live_quality": obs.quality.reason,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
