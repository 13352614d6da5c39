"""Camera drivers: video file, folder of frames, configured resolution, missing sources."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hardware.camera import (
    CameraError,
    FrameFolderCamera,
    MemoryCamera,
    VideoFileCamera,
    open_camera,
)

CLIP = Path(__file__).parent / "data" / "faces" / "short_hamilton_clip.mp4"


def test_video_file_camera_reads_every_frame_scaled_to_fit_keeping_aspect():
    cam = open_camera({"source": str(CLIP), "width": 320, "height": 240})
    assert isinstance(cam, VideoFileCamera)
    n = 0
    while (frame := cam.read()) is not None:
        assert frame.shape == (180, 320, 3)  # 640×360 (16:9) fitted into 320×240
        n += 1
    cam.close()
    assert n == 275


def test_video_file_camera_loops_when_asked():
    cam = VideoFileCamera(CLIP, loop=True)
    frames = [cam.read() for _ in range(280)]
    cam.close()
    assert all(f is not None for f in frames)
    assert frames[0].shape == (360, 640, 3)


def test_folder_of_frames_in_name_order(tmp_path: Path):
    for i, shade in enumerate((30, 120, 220)):
        cv2.imwrite(str(tmp_path / f"f{i:02d}.png"), np.full((48, 64, 3), shade, np.uint8))
    (tmp_path / "notes.txt").write_text("not a frame")
    cam = open_camera({"source": str(tmp_path), "width": 32, "height": 24})
    assert isinstance(cam, FrameFolderCamera)
    shades = []
    while (frame := cam.read()) is not None:
        assert frame.shape == (24, 32, 3)
        shades.append(int(frame.mean()))
    assert shades == [30, 120, 220]


def test_memory_camera_ends_with_none():
    cam = MemoryCamera([np.zeros((2, 2, 3), np.uint8)])
    assert cam.read() is not None
    assert cam.read() is None


def test_missing_source_is_a_typed_error(tmp_path: Path):
    with pytest.raises(CameraError) as e:
        open_camera({"source": str(tmp_path / "nope.mp4")})
    assert e.value.code == "camera_unavailable"
    with pytest.raises(CameraError):
        FrameFolderCamera(tmp_path)
