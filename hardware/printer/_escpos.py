"""The one place that imports python-escpos.

``escpos.capabilities`` evaluates ``environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR", mkdtemp())``
at import time — ``mkdtemp()`` runs even when the variable is set — so every process would
leave an empty ``/tmp/tmpXXXX`` behind (DESIGN §6). We give it a fixed pickle directory and,
for the duration of the import only, a scratch temp root that we empty afterwards.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    for candidate in (Path(base) / "yichuang" / "escpos",
                      Path(tempfile.gettempdir()) / f"yichuang-escpos-{os.getuid()}"):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            continue
    return Path(tempfile.gettempdir())


_cache = _cache_dir()
os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(_cache))
_scratch = Path(tempfile.mkdtemp(prefix="import-", dir=_cache))
_saved_tempdir = tempfile.tempdir
tempfile.tempdir = str(_scratch)
try:
    from escpos import printer as escpos_printer
    from escpos.escpos import Escpos
finally:
    tempfile.tempdir = _saved_tempdir
    for _leftover in _scratch.iterdir():
        try:
            _leftover.rmdir()  # the unused, empty mkdtemp() directory
        except OSError:
            pass
    try:
        _scratch.rmdir()
    except OSError:
        pass

__all__ = ["Escpos", "escpos_printer"]
