"""``python -m hardware camera``: camera diagnostics (no face analysis: ``python -m kiosk.face
camera`` does that)."""

from __future__ import annotations

import json
import sys
import time

import click

from hardware.camera import CameraError, open_camera


@click.group("camera")
def camera() -> None:
    """Cameras (摄像头): probe."""


@camera.command("probe")
@click.argument("source")
@click.option("--width", default=640, show_default=True, help="requested capture width")
@click.option("--height", default=480, show_default=True, help="requested capture height")
@click.option("--frames", default=30, show_default=True, help="frames to grab")
def probe(source: str, width: int, height: int, frames: int) -> None:
    """Open SOURCE (a device index, /dev/videoN, a video file or a folder of frames), grab
    frames and print one JSON line: frames read, their size, frames per second. Frames stay
    in memory. Exits 0 when frames came, 2 otherwise.

    \b
    Example:
        python -m hardware camera probe /dev/video0 --frames 60
        {"ok": true, "source": "/dev/video0", "frames": 60, "size": [640, 480], "fps": 29.8}
    """
    try:
        cam = open_camera({"source": source, "width": width, "height": height})
    except CameraError as e:
        click.echo(json.dumps({"ok": False, "code": e.code, "message": e.zh, "message_en": e.en,
                               "detail": e.detail}, ensure_ascii=False))
        sys.exit(2)
    n, size = 0, None
    start = time.perf_counter()
    try:
        while n < frames:
            frame = cam.read()
            if frame is None:
                break
            n += 1
            size = [int(frame.shape[1]), int(frame.shape[0])]
    finally:
        cam.close()
    seconds = time.perf_counter() - start
    click.echo(json.dumps({"ok": n > 0, "source": source, "frames": n, "size": size,
                           "fps": round(n / seconds, 1) if n and seconds > 0 else None}))
    sys.exit(0 if n else 2)
