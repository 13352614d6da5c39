"""Reading a QR code back from a picture (a photo or screenshot of the kiosk's 亮证 screen, a
rendered receipt) with OpenCV.

OpenCV's classic ``QRCodeDetector`` misses some symbols that are perfectly readable — it
depends on the pattern, so a rotating 亮证 token scans one time in a few hundred and not the
next — while the ArUco-based ``QRCodeDetectorAruco`` reads them. :func:`decode` tries the
classic one first (faster) and the other when it finds nothing.
"""

from __future__ import annotations

from typing import Any


def decode(image: Any) -> str:
    """The text of the QR code in ``image`` (an OpenCV BGR or grey array); "" if none is read."""
    import cv2

    text, _points, _straight = cv2.QRCodeDetector().detectAndDecode(image)
    if not text:
        text, _points, _straight = cv2.QRCodeDetectorAruco().detectAndDecode(image)
    return str(text or "")
