"""A camera frame in the terminal, as a brightness check for the technician: characters (or
ANSI grey blocks) by brightness, and the numbers that matter. Nothing is saved: the frame
stays in memory and is dropped by the caller."""

from __future__ import annotations

from typing import Any

#: Dark to light.
RAMP = " .:-=+*#%@"


def _grey(frame: Any) -> Any:
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame


def frame_art(frame: Any, width: int = 64, ansi: bool = False) -> list[str]:
    """``frame`` as lines ``width`` characters wide (a character cell is about twice as tall
    as wide, so rows are halved). ``ansi``: 24-step grey backgrounds instead of characters."""
    import cv2

    grey = _grey(frame)
    h, w = grey.shape[:2]
    rows = max(1, round(width * h / w / 2))
    small = cv2.resize(grey, (width, rows), interpolation=cv2.INTER_AREA)
    lines = []
    for row in small:
        if ansi:
            cells = "".join(f"\x1b[48;5;{232 + min(23, int(v) * 24 // 256)}m " for v in row)
            lines.append(cells + "\x1b[0m")
        else:
            lines.append("".join(RAMP[min(len(RAMP) - 1, int(v) * len(RAMP) // 256)] for v in row))
    return lines


def histogram_line(frame: Any, bins: int = 16) -> str:
    """Where the grey levels are, dark to light, as one line of block heights."""
    import numpy as np

    counts, _ = np.histogram(_grey(frame), bins=bins, range=(0, 256))
    top = max(1, int(counts.max()))
    blocks = " ▁▂▃▄▅▆▇█"
    return "".join(blocks[min(8, int(c) * 8 // top)] for c in counts)
