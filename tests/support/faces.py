"""The repo's test faces: who is who, ID-chip-like crops of them, and the pairs file.

``python -m tests.support.faces`` rewrites ``tests/data/faces/id/*.png`` and
``tests/data/faces/pairs.csv`` (see tests/data/faces/SOURCES.md); the tests read the committed
files, so a change of model cannot silently change the inputs.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import cv2
import numpy as np

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
ID_DIR = FACES / "id"
PAIRS = FACES / "pairs.csv"

#: The identity photos (two-face images and the video are not identity material).
PEOPLE: dict[str, list[str]] = {
    "obama": ["obama.jpg", "obama2.jpg", "obama3.jpg", "obama1_knn.jpg", "obama_small.jpg"],
    "biden": ["biden.jpg", "biden2.jpg"],
    "lacamoire": ["alex-lacamoire.png", "alex_lacamoire1.jpg"],
    "harington": ["kit_harington_john1.jpeg", "kit_harington_john2.jpeg", "kit_harington_johnsnow_test1.jpg"],
    "leslie": ["rose_leslie_img1.jpg", "rose_leslie_img2.jpg"],
    "miranda": ["lin-manuel-miranda.png"],
}
OWNER: dict[str, str] = {f: p for p, files in PEOPLE.items() for f in files}
ID_SIZE = (102, 126)  # width, height of the photo on a resident ID card's chip


def id_name(photo: str) -> str:
    return f"id/{Path(photo).stem}.png"


def id_like(image: np.ndarray, box: tuple[int, int, int, int], grey: bool = True,
            jpeg_quality: int = 60) -> np.ndarray:
    """An ID-chip-like photo of the face in ``box``: head and shoulders at 102:126, scaled to
    102×126, JPEG-degraded (the chip's photo is heavily compressed) and, by default, grey."""
    x, y, w, h = box
    side = w * 1.6
    cx, cy = x + w / 2, y + h / 2
    x0, x1 = int(round(cx - side / 2)), int(round(cx + side / 2))
    y0 = int(round(cy - side * 0.60))
    y1 = y0 + int(round(side * ID_SIZE[1] / ID_SIZE[0]))
    pad = max(0, -x0, -y0, x1 - image.shape[1], y1 - image.shape[0])
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = padded[y0 + pad:y1 + pad, x0 + pad:x1 + pad]
    small = cv2.resize(crop, ID_SIZE, interpolation=cv2.INTER_AREA)
    ok, jpg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    assert ok
    small = cv2.imdecode(jpg, cv2.IMREAD_COLOR)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if grey else small


def pair_rows() -> list[tuple[str, str, int]]:
    """Every photo against every other photo, and every ID-like crop against every photo of
    another file: (a, b, same)."""
    photos = list(OWNER)
    rows = [(a, b, int(OWNER[a] == OWNER[b])) for a, b in itertools.combinations(photos, 2)]
    rows += [(id_name(a), b, int(OWNER[a] == OWNER[b])) for a in photos for b in photos if a != b]
    return rows


def write_all() -> None:
    from kiosk.face import FaceAnalyzer, FaceConfig

    analyzer = FaceAnalyzer(FaceConfig())
    ID_DIR.mkdir(exist_ok=True)
    for photo in OWNER:
        image = cv2.imread(str(FACES / photo))
        _, obs = analyzer.describe_still(image)
        assert obs.box is not None
        cv2.imwrite(str(FACES / id_name(photo)), id_like(image, obs.box))
    with PAIRS.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["a", "b", "same"])
        w.writerows(pair_rows())


if __name__ == "__main__":
    write_all()
