"""The kiosk's CJK font: Noto Sans CJK **SC** as Kivy's default font (never a tofu box).

Debian's fonts-noto-cjk (installed by scripts/setup.sh) ships one .ttc per weight whose
first face is the Japanese one; Kivy's SDL2 text provider cannot pick a face by index,
and Japanese glyph shapes differ from the mainland standard for a number of hanzi. So
the SC face (index 2) is extracted once with fontTools into a cache directory and that
.otf is registered. Lookup order: ``YICHUANG_FONT`` (a .otf/.ttf path), ``assets/fonts/``
(a hall may drop its own font there), the cache, extraction from the .ttc.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from kiosk.errors import KioskError

log = logging.getLogger(__name__)

ASSETS_FONTS = Path(__file__).resolve().parent.parent / "assets" / "fonts"
TTC_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/noto-cjk"),
            Path("/usr/share/fonts/google-noto-cjk"))
SC_INDEX = 2   # face order in NotoSansCJK-*.ttc: JP, KR, SC, TC, HK, Mono …
WEIGHTS = {"regular": "NotoSansCJK-Regular", "bold": "NotoSansCJK-Bold"}


class FontNotFound(KioskError, RuntimeError):
    """No usable Chinese font (``font_not_found``)."""

    code = "font_not_found"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "yichuang" / "fonts"


def _extract_sc(ttc: Path, out: Path) -> Path:
    from fontTools.ttLib import TTCollection

    out.parent.mkdir(parents=True, exist_ok=True)
    collection = TTCollection(str(ttc), lazy=True)
    font = collection.fonts[SC_INDEX]
    family = font["name"].getDebugName(1) or ""
    if "SC" not in family:
        raise FontNotFound(f"{ttc}: face {SC_INDEX} is {family!r}, not SC")
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".otf.part")
    os.close(fd)
    font.save(tmp)
    os.replace(tmp, out)  # atomic: concurrent kiosks/tests never see half a font
    return out


def find_font(weight: str = "regular") -> Path:
    """Path of an SC font file for ``weight`` (``regular`` or ``bold``)."""
    env = os.environ.get("YICHUANG_FONT" if weight == "regular" else "YICHUANG_FONT_BOLD")
    if env and Path(env).is_file():
        return Path(env)
    stem = WEIGHTS[weight].replace("CJK", "CJKsc")
    for candidate in (ASSETS_FONTS / f"{stem}.otf", cache_dir() / f"{stem}.otf"):
        if candidate.is_file():
            return candidate
    for d in TTC_DIRS:
        ttc = d / f"{WEIGHTS[weight]}.ttc"
        if ttc.is_file():
            try:
                return _extract_sc(ttc, cache_dir() / f"{stem}.otf")
            except ImportError:
                log.warning("fontTools missing: using the .ttc's first (JP) face")
                return ttc
    raise FontNotFound(
        "no Noto Sans CJK font: install fonts-noto-cjk (scripts/setup.sh) or set YICHUANG_FONT")


def register_default_font() -> tuple[Path, Path]:
    """Make the SC font Kivy's default (``Roboto`` is the name every widget uses)."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    regular = find_font("regular")
    try:
        bold = find_font("bold")
    except FontNotFound:
        bold = regular
    LabelBase.register(DEFAULT_FONT, str(regular), fn_bold=str(bold))
    return regular, bold
