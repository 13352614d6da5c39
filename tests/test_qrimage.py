"""Reading QR codes back from pictures (yichuang/qrimage.py): the kiosk's 亮证 screen, as the
independent verifier (`python -m queue_server.licences verify --image`) and the tests read it."""

from __future__ import annotations

from pathlib import Path

import cv2

from yichuang import qrimage

DATA = Path(__file__).parent / "data" / "qr"


def test_a_qr_the_classic_detector_misses_is_still_read():
    img = cv2.imread(str(DATA / "licence-qr-classic-miss.png"))
    assert cv2.QRCodeDetector().detectAndDecode(img)[0] == ""  # why the fallback exists
    assert qrimage.decode(img).startswith("ZW1:")


def test_a_picture_without_a_qr_reads_as_nothing():
    img = cv2.imread(str(DATA / "licence-qr-classic-miss.png"))
    assert qrimage.decode(img[:300]) == ""  # the screen's title and licence name only


def test_the_independent_verifier_reads_that_picture_too():
    import argparse

    from queue_server.licences.__main__ import _read_qr

    assert _read_qr(argparse.Namespace(image=str(DATA / "licence-qr-classic-miss.png"), qr=None)).startswith("ZW1:")
