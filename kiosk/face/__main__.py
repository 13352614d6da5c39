"""Technician commands for the face pipeline.

Example::

    python -m kiosk.face compare id_photo.bmp live.jpg
    {"match": true, "distance": 0.3412, "threshold": 0.55, ...}

Exit status: 0 compared (match or not), 2 either image has no usable face or cannot be read.
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
    args = parser.parse_args(argv)

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
