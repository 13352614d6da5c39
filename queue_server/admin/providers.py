"""Statistics other capabilities add to the admin's figures (好差评, 秒批, …), without the
admin capability importing them.

A capability registers a provider in its own module (imported when its blueprint is)::

    from queue_server.admin.providers import stat_provider

    @stat_provider("evaluations", "好差评", "Evaluations")
    def evaluation_figures(src, from_day, to_day):
        n = src.execute("SELECT COUNT(*) FROM main.evaluations WHERE day BETWEEN ? AND ?", ...)
        return {"figures": [{"key": "rated", "label": "评价数", "label_en": "Rated", "value": n,
                             "formula": "evaluations in the range"}],
                "rows": [...], "columns": [["level", "等级", "Level", "text"], ...]}

``src`` is the read-only :class:`~queue_server.admin.source.StatsSource` of the range (its
``schemas`` name the live file and the attached archives). The statistics page, the
exports and the end-of-day report show every registered provider's figures and table
under its title; a provider that fails shows its error instead of stopping the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server.admin.source import StatsSource, open_source

ProviderFn = Callable[[StatsSource, str, str], dict[str, Any]]


@dataclass(frozen=True)
class StatProvider:
    name: str
    title: str
    title_en: str
    fn: ProviderFn


PROVIDERS: dict[str, StatProvider] = {}


def stat_provider(name: str, title: str, title_en: str) -> Callable[[ProviderFn], ProviderFn]:
    """Register ``fn(src, from_day, to_day) -> {"figures": [...], "rows"?: [...], "columns"?: [...]}``."""

    def deco(fn: ProviderFn) -> ProviderFn:
        PROVIDERS[name] = StatProvider(name, title, title_en, fn)
        return fn

    return deco


def provider_figures(db: Database, from_day: str, to_day: str) -> list[dict[str, Any]]:
    """Every provider's part for the range: ``{"name", "title", "title_en", "figures",
    "rows", "columns"}`` or ``{"name", "title", "error"}``."""
    out: list[dict[str, Any]] = []
    if not PROVIDERS:
        return out
    with open_source(db, from_day, to_day) as src:
        for p in PROVIDERS.values():
            part: dict[str, Any] = {"name": p.name, "title": p.title, "title_en": p.title_en}
            try:
                got = p.fn(src, from_day, to_day) or {}
                part.update(figures=list(got.get("figures", [])), rows=list(got.get("rows", [])),
                            columns=list(got.get("columns", [])))
            except Exception as exc:  # one capability's figures never stop the page
                part["error"] = f"{type(exc).__name__}: {exc}"[:300]
            out.append(part)
    return out
