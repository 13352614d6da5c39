"""Categories and services as the kiosk offers them, in pages of large buttons."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from kiosk.client import QueueClient, Service

T = TypeVar("T")

#: Buttons per page: standard mode and 适老化 elder mode. Elder mode has larger text but as
#: many choices per page: fewer would mean more page turns, and an elder must never need
#: more taps than anyone else to reach a ticket (tests/test_kiosk_checkin.py counts them).
PAGE_SIZE = {"categories": (8, 8), "services": (6, 6)}


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    name_en: str
    prefix: str
    services: tuple[Service, ...]

    def label(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    page: int   # 1-based
    pages: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(items: Sequence[T], page: int, size: int) -> Page[T]:
    pages = max(1, math.ceil(len(items) / size))
    page = min(max(1, page), pages)
    start = (page - 1) * size
    return Page(tuple(items[start:start + size]), page, pages)


class Catalog:
    """The server's services grouped by category; cached for ``ttl`` seconds."""

    def __init__(self, client: QueueClient, ttl: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._categories: list[Category] | None = None
        self._loaded_at = 0.0

    def categories(self, refresh: bool = False) -> list[Category]:
        """All categories with at least one service (raises ServerUnavailable & co.)."""
        fresh = self._categories is not None and self.clock() - self._loaded_at < self.ttl
        if fresh and not refresh:
            assert self._categories is not None
            return self._categories
        services = self.client.services()
        names: dict[str, tuple[str, str]] = {}
        try:
            for c in self.client.categories():
                names[str(c["code"])] = (str(c.get("name") or c["code"]),
                                         str(c.get("name_en") or ""))
        except Exception:  # category names are a nicety; services alone are enough
            names = {}
        groups: dict[str, list[Service]] = {}
        for s in services:
            groups.setdefault(s.category, []).append(s)
        cats = []
        for code, items in groups.items():
            first = items[0]
            name, name_en = names.get(code, (first.category_name or code,
                                             first.category_name_en or ""))
            cats.append(Category(code, name, name_en, first.prefix, tuple(items)))
        self._categories = cats
        self._loaded_at = self.clock()
        return cats

    def category(self, code: str) -> Category:
        for c in self.categories():
            if c.code == code:
                return c
        raise KeyError(code)

    def cached_service(self, code: str) -> Service | None:
        """The service ``code`` from the cached list (no request); None if unknown."""
        for cat in self._categories or []:
            for svc in cat.services:
                if svc.code == code:
                    return svc
        return None

    def invalidate(self) -> None:
        """Forget the cached list: the next ``categories()`` asks the server."""
        self._categories = None

    def prefixes(self) -> list[str]:
        """Ticket-number letters in use (for the progress keypad); cached data only."""
        cats = self._categories or []
        letters = sorted({c.prefix for c in cats} | {s.prefix for c in cats for s in c.services})
        return [p for p in letters if p]
