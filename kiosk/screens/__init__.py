"""Kiosk screens: one ``<name>.py`` + ``<name>.kv`` each, registered by name.

A screen module decorates its class with ``@register("name")`` and loads its .kv with
``load_kv(__file__)``. :func:`load_screens` imports every module of this package (so a
new screen, e.g. the identity screens, needs no edit here) and returns the registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

SCREENS: dict[str, Any] = {}

#: Order of the first screens in the manager (others follow in import order).
FIRST = ("home", "category", "service", "priority", "swipe", "ticket", "checkin", "progress")


def register(name: str) -> Callable[[type], type]:
    def deco(cls: type) -> type:
        SCREENS[name] = cls
        return cls
    return deco


def load_kv(module_file: str) -> None:
    """Load the .kv next to ``module_file`` once."""
    from pathlib import Path

    from kivy.lang import Builder

    path = str(Path(module_file).with_suffix(".kv"))
    if path not in Builder.files:
        Builder.load_file(path)


def load_screens() -> dict[str, Any]:
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name not in ("base",)]
    ordered = [n for n in FIRST if n in names] + sorted(n for n in names if n not in FIRST)
    for name in ordered:
        importlib.import_module(f"{__name__}.{name}")
    return SCREENS
