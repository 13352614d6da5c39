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

A figure may carry ``"text"`` (the value as shown: ``62%``) and ``"drill"`` (a figure name
its provider's ``behind`` function understands); a part may carry ``"chart"``
(``{"type": "bar", "title", "title_en", "labels", "datasets": [{"label", "label_en",
"data"}]}``) that the page and the PDF draw. ``behind(src, from_day, to_day, figure, key)``
returns the records behind a figure — ``{"columns": [[key, zh, en, kind]], "rows": [...]}``,
numbers, codes and times, never personal data — for ``GET /api/stats/providers/<name>/behind``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server.admin.source import StatsSource, open_source

ProviderFn = Callable[[StatsSource, str, str], dict[str, Any]]
BehindFn = Callable[[StatsSource, str, str, str, str | None], dict[str, Any]]


@dataclass(frozen=True)
class StatProvider:
    name: str
    title: str
    title_en: str
    fn: ProviderFn
    behind: BehindFn | None = None


PROVIDERS: dict[str, StatProvider] = {}


def stat_provider(name: str, title: str, title_en: str, behind: BehindFn | None = None
                  ) -> Callable[[ProviderFn], ProviderFn]:
    """Register ``fn(src, from_day, to_day) -> {"figures": [...], "rows"?: [...], "columns"?: [...],
    "chart"?: {...}}`` (and ``behind`` for the drill-down)."""

    def deco(fn: ProviderFn) -> ProviderFn:
        PROVIDERS[name] = StatProvider(name, title, title_en, fn, behind)
        return fn

    return deco


def provider_behind(db: Database, name: str, from_day: str, to_day: str, figure: str,
                    key: str | None = None, *, now: float | None = None) -> dict[str, Any]:
    """The records behind one provider figure (404 ``stats_provider_not_found`` for an unknown
    provider or one without a drill-down; the provider refuses an unknown figure)."""
    from queue_server.errors import NotFound

    p = PROVIDERS.get(name)
    if p is None or p.behind is None:
        raise NotFound("stats_provider_not_found", name=name[:40])
    with open_source(db, from_day, to_day) as src:
        src.now = now
        got = p.behind(src, from_day, to_day, figure, key)
    rows = list(got.get("rows", []))
    return {"provider": name, "from": from_day, "to": to_day, "figure": figure, "key": key,
            "columns": list(got.get("columns", [])), "rows": rows, "count": len(rows)}


def provider_figures(db: Database, from_day: str, to_day: str, *, now: float | None = None
                     ) -> list[dict[str, Any]]:
    """Every provider's part for the range: ``{"name", "title", "title_en", "figures",
    "rows", "columns", "drill", "chart"?}`` or ``{"name", "title", "error"}``. ``now`` is
    the hall's clock (``src.now``: what "overdue" is judged against)."""
    out: list[dict[str, Any]] = []
    if not PROVIDERS:
        return out
    with open_source(db, from_day, to_day) as src:
        src.now = now
        for p in PROVIDERS.values():
            part: dict[str, Any] = {"name": p.name, "title": p.title, "title_en": p.title_en}
            try:
                got = p.fn(src, from_day, to_day) or {}
                part.update(figures=list(got.get("figures", [])), rows=list(got.get("rows", [])),
                            columns=list(got.get("columns", [])), drill=p.behind is not None)
                if got.get("chart"):
                    part["chart"] = got["chart"]
            except Exception as exc:  # one capability's figures never stop the page
                part["error"] = f"{type(exc).__name__}: {exc}"[:300]
            out.append(part)
    return out


#: The figures of a provider as a table (exports): label, value as shown, formula.
FIGURE_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("label", "指标", "Figure", "text"), ("label_en", "Figure", "Figure (English)", "text"),
    ("shown", "数值", "Value", "text"), ("formula", "口径", "Formula", "text"),
)


def provider_part(db: Database, name: str, from_day: str, to_day: str, *, now: float | None = None
                  ) -> dict[str, Any]:
    """One provider's part of :func:`provider_figures` (404 ``stats_provider_not_found``)."""
    from queue_server.errors import NotFound

    if name not in PROVIDERS:
        raise NotFound("stats_provider_not_found", name=name[:40])
    part = next(p for p in provider_figures(db, from_day, to_day, now=now) if p["name"] == name)
    if "error" in part:
        raise RuntimeError(part["error"])
    part["figure_rows"] = [
        {"label": f.get("label"), "label_en": f.get("label_en"), "formula": f.get("formula") or f.get("note"),
         "shown": f["text"] if f.get("text") is not None else ("—" if f.get("value") is None else f.get("value"))}
        for f in part.get("figures", [])]
    return part

