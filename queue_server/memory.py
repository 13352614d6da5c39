"""Giving freed heap back to the system.

glibc keeps what a burst freed (a storm of reconnecting screens, the end-of-day report's
CJK font) for the process's next allocations, so a server's RSS stays at its peak for good.
:func:`trim` asks glibc to return it; elsewhere (another C library) it does nothing.
"""

from __future__ import annotations

import gc
from typing import Any

_libc: Any = None


def trim(collect: bool = False) -> None:
    """Return freed heap to the system (``malloc_trim(0)``); ``collect``: run the cyclic
    garbage collector first, so that what only cycles held is freed too."""
    global _libc
    if collect:
        gc.collect()
    if _libc is None:
        try:
            import ctypes

            _libc = ctypes.CDLL("libc.so.6")
            _libc.malloc_trim  # noqa: B018 - not glibc: AttributeError
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)


__all__ = ["trim"]
