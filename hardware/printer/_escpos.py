"""The one place that imports python-escpos.

``escpos.capabilities`` evaluates ``environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR", mkdtemp())``
at import time — ``mkdtemp()`` runs even when the variable is set — so every process would
leave an empty ``/tmp/tmpXXXX`` behind (DESIGN §6). We give it a fixed pickle directory and,
for the duration of the import only, a scratch temp root that we empty afterwards.

It also writes its pickle in place (``open(path, "wb")`` then ``pickle.dump``), so two
processes importing it at once — ``queue-server serve --workers 2`` forks and both workers
import the printer driver — can read a file the other has just truncated (``EOFError``), and a
process killed while writing leaves an empty pickle that every later start reads and dies on:
the server then never starts again. So the import runs under an exclusive lock on a file in
the cache directory, and a pickle that does not load is removed first (python-escpos then
rebuilds it from its JSON).
"""

from __future__ import annotations

import fcntl
import os
import pickle
import platform
import shutil
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


def _drop_unreadable_pickle(directory: Path) -> None:
    """Remove python-escpos's capabilities pickle when it does not load (empty, cut short)."""
    path = directory / f"{platform.python_version()}.capabilities.pickle"
    try:
        with open(path, "rb") as f:
            pickle.load(f)
    except FileNotFoundError:
        return
    except Exception:  # noqa: BLE001 - any unreadable pickle is rebuilt by python-escpos
        path.unlink(missing_ok=True)


def _drop_stale_scratch(directory: Path) -> None:
    """Scratch roots left by processes killed during the import (we hold the lock: none is live)."""
    for stale in directory.glob("escpos-import-*"):
        shutil.rmtree(stale, ignore_errors=True)


_cache = _cache_dir()
os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(_cache))
_pickle_dir = Path(os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"])
with open(_cache / "import.lock", "a+b") as _lock:
    fcntl.flock(_lock, fcntl.LOCK_EX)  # released when the file closes
    _drop_unreadable_pickle(_pickle_dir)
    _drop_stale_scratch(_cache)
    _scratch = Path(tempfile.mkdtemp(prefix="escpos-import-", dir=_cache))
    _saved_tempdir = tempfile.tempdir
    tempfile.tempdir = str(_scratch)
    try:
        from escpos import printer as escpos_printer
        from escpos.escpos import Escpos
    finally:
        tempfile.tempdir = _saved_tempdir
        shutil.rmtree(_scratch, ignore_errors=True)  # the unused, empty mkdtemp() directory

__all__ = ["Escpos", "escpos_printer"]
