"""秒批 rule sets from the city hub: the ``rule_set`` manifest's apply hook, and the items it
puts in force.

The hub signs a ``rule_set`` manifest (``city-hub manifest publish rule_set FILE``); the
hall's uplink verifies it (:mod:`queue_server.uplink.manifests`) and calls
:func:`apply_rule_set` with its content::

    {"format": 1,
     "items": [
       {"code": "elderly_allowance", "version": "2026.2",          # new dated parameter values
        "parameters": {"min_age": {"values": [{"since": "2027-01-01", "value": 79}],
                                   "reference": "…"}},            # reference: optional, replaces
        "cases": {…}},                                             # optional
       {"definition": {…}, "cases": {…}}                           # a whole item, new or changed
     ]}

A parameter entry adds its dated values to the item in force (a value for a date already
there replaces it) under the entry's new ``version``; a ``definition`` is a whole item as
its TOML file has it (``docs/approvals.md``). ``cases`` has the shape of the item's cases
file (``item``, ``base``, ``cases``); without it the cases in force for the item are used
(the package's cases file, or those a manifest brought). A new item needs its cases.

Every resulting item is checked **exactly as** ``queue-server approvals check`` checks the
package: the item builds (rules, facts, sources, parameters), its named cases give their
decisions and reasons, dropping any fact never approves, each rule's failure yields its
code — and content that changed keeps no old version (the lock file's rule). Anything
wrong refuses the whole manifest (:class:`RuleSetRefused`, with every problem): nothing is
written, the rules in force stay, and the uplink logs, audits and reports the refusal to the
hub. A good one is written in one transaction — ``approval_items_applied`` (the item in
force per code, with the cases it was checked with and what it replaced), the rule sets
under their hashes (``approval_rulesets``, so decisions re-run), and one audit record
(``approval.rule_set_applied``).

The items in force are the package's overridden by ``approval_items_applied``
(:data:`queue_server.approvals.items.OVERLAYS`): in a request, :func:`registry` reads the
database the app serves, through a per-process cache checked every :data:`RECHECK_S`
seconds (cleared at once in the process that applies). A manifest's item stays in force
until another manifest replaces it, also across software updates of the package's items.
"""

from __future__ import annotations

import copy
import json
import logging
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlite_utils import Database

from queue_server.approvals.checks import Case, cases_path, check_cases, load_cases, parse_cases
from queue_server.approvals.items import OVERLAYS, Item, ItemError, build_item, package_items
from queue_server.audit.chain import append
from queue_server.audit.records import AuditRecord, record_type
from queue_server.db import connect, write_tx
from queue_server.uplink.manifests import manifest_kind

log = logging.getLogger(__name__)

KIND = "rule_set"
#: Seconds a process trusts its cache of a database's applied items before looking again.
RECHECK_S = 2.0
_ENTRY_KEYS = {"code", "version", "parameters", "definition", "cases"}
_PARAM_KEYS = {"values", "reference", "description", "unit"}


class RuleSetRefused(Exception):
    """A rule-set manifest that does not pass the checks; ``problems`` lists every one."""

    code = "bad_rule_set"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@record_type
@dataclass(frozen=True)
class RuleSetApplied(AuditRecord):
    """A 秒批 rule-set manifest from the city hub put items in force: ``items`` lists each
    item's code, new version and hash and the version and hash it replaced (``None``: a new
    item)."""

    kind: ClassVar[str] = "approval.rule_set_applied"
    items: list[dict[str, Any]]


# -- what is in force --------------------------------------------------------------------------
def _applied_rows(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    return {r["code"]: r for r in conn.execute("SELECT * FROM approval_items_applied ORDER BY code")}


def _items_of(rows: dict[str, sqlite3.Row]) -> dict[str, Item]:
    out = {}
    for code, r in rows.items():
        try:
            out[code] = build_item(json.loads(r["canonical"]))
        except (ItemError, ValueError):  # checked when applied; never expected
            log.exception("approvals: the applied rule set of %s no longer builds; the package's stays", code)
    return out


def in_force(db: Database | sqlite3.Connection) -> dict[str, Item]:
    """Every item in force in this hall: the package's, overridden by the applied ones."""
    conn = db.conn if isinstance(db, Database) else db
    return {**package_items(), **_items_of(_applied_rows(conn))}


def applied_summary(db: Database) -> list[dict[str, Any]]:
    """The rule sets manifests put in force in this hall: ``code``, ``version``, ``hash``,
    ``applied_at``, ``replaces`` (the package's or an earlier manifest's hash, None for a new item)."""
    return [{"code": code, "version": r["version"], "hash": r["hash"], "applied_at": r["applied_at"],
             "replaces": r["previous_hash"]} for code, r in _applied_rows(db.conn).items()]


_cache: dict[str, tuple[float, tuple[Any, ...], dict[str, Item]]] = {}
_cache_lock = threading.Lock()


def applied_items(path: str) -> dict[str, Item]:
    """The items rule-set manifests put in force in the database at ``path`` (cached)."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(path)
    if hit is not None and now - hit[0] < RECHECK_S:
        return hit[2]
    db = connect(path)
    try:
        stamp = tuple(db.conn.execute(
            "SELECT COUNT(*), COALESCE(MAX(applied_at), 0) FROM approval_items_applied").fetchone())
        items = hit[2] if hit is not None and hit[1] == stamp else _items_of(_applied_rows(db.conn))
    except sqlite3.Error:  # storage trouble: the package's items, and look again soon
        log.exception("approvals: cannot read the applied rule sets of %s", path)
        return hit[2] if hit is not None else {}
    finally:
        db.conn.close()
    with _cache_lock:
        _cache[path] = (now, stamp, items)
    return items


def _serving() -> dict[str, Item]:
    """The overlay: in a request, the applied items of the database the app serves (Flask is
    not imported here — outside a server it is not there, and nothing is added)."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_app_context():
        return {}
    path = flask.current_app.config.get("DB_PATH")
    return applied_items(str(path)) if path else {}


OVERLAYS.append(_serving)


# -- checking a manifest -----------------------------------------------------------------------
@dataclass
class _Change:
    item: Item
    cases: Any  # the cases document it was checked with (None: the package's cases file)
    previous: Item | None


def _cases_for(code: str, given: Any, rows: dict[str, sqlite3.Row], problems: list[str]) -> tuple[list[Case], Any]:
    """The cases to check ``code`` with, and the document to keep (None: the package's file)."""
    where = f"{code}: cases"
    try:
        if given is not None:
            return parse_cases(code, given, where), given
        row = rows.get(code)
        if row is not None and row["cases"] is not None:
            doc = json.loads(row["cases"])
            return parse_cases(code, doc, where), doc
        if cases_path(code).exists():
            return load_cases(code), None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        problems.append(f"{where}: {exc}")
        return [], given
    problems.append(f"{code}: no cases (a new item needs its cases)")
    return [], given


def _merged_definition(entry: dict[str, Any], current: Item, problems: list[str]) -> dict[str, Any] | None:
    """``current``'s definition with the entry's new dated values (and references)."""
    code = current.code
    version = entry.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append(f"{code}: version: the new version is required (a non-empty string)")
        return None
    params = entry.get("parameters")
    if not isinstance(params, dict) or not params:
        problems.append(f"{code}: parameters: an object of parameters with new values is required")
        return None
    d = copy.deepcopy(current.definition)
    d["version"] = version
    have = d.setdefault("parameters", {})
    for name, change in params.items():
        if name not in have:
            problems.append(f"{code}: parameter {name} is not declared by the item (send its whole definition)")
            continue
        if not isinstance(change, dict) or not isinstance(change.get("values"), list) or not change["values"] \
                or set(change) - _PARAM_KEYS:
            problems.append(f"{code}: parameter {name}: {{\"values\": [{{\"since\", \"value\"}}, …], "
                            "\"reference\"?} is required")
            continue
        values = {v["since"]: v for v in have[name].get("values", [])}
        for v in change["values"]:
            if not isinstance(v, dict) or set(v) != {"since", "value"} or not isinstance(v["since"], str):
                problems.append(f"{code}: parameter {name}: each value is {{\"since\": \"YYYY-MM-DD\", \"value\"}}")
                continue
            values[v["since"]] = {"since": v["since"], "value": v["value"]}
        have[name] = {**have[name], "values": [values[s] for s in sorted(values)]}
        for key in ("reference", "description", "unit"):
            if key in change:
                have[name][key] = change[key]
    return d


def check_rule_set(db: Database, content: Any) -> list[_Change]:
    """What a rule-set manifest changes, checked as ``approvals check`` checks; raises
    :class:`RuleSetRefused` with every problem."""
    problems: list[str] = []
    if not isinstance(content, dict) or not isinstance(content.get("items"), list) or not content["items"]:
        raise RuleSetRefused(["content: {\"items\": [ … ]} with at least one item is required"])
    if content.get("format", 1) != 1:
        raise RuleSetRefused([f"format {content.get('format')!r}: this hall reads format 1"])
    rows = _applied_rows(db.conn)
    force = {**package_items(), **_items_of(rows)}
    changes: list[_Change] = []
    seen: set[str] = set()
    for i, entry in enumerate(content["items"]):
        if not isinstance(entry, dict) or set(entry) - _ENTRY_KEYS:
            problems.append(f"items[{i}]: an object with {', '.join(sorted(_ENTRY_KEYS))}")
            continue
        if "definition" in entry:
            definition = entry["definition"]
            if not isinstance(definition, dict) or set(entry) - {"definition", "cases"}:
                problems.append(f"items[{i}]: definition is an item (as its TOML file), with cases beside it")
                continue
        else:
            current = force.get(str(entry.get("code")))
            if current is None:
                problems.append(f"items[{i}]: no item {entry.get('code')!r} is in force (send its whole definition)")
                continue
            merged = _merged_definition(entry, current, problems)
            if merged is None:
                continue
            definition = merged
        code = str(definition.get("code"))
        if code in seen:
            problems.append(f"{code}: named twice")
            continue
        seen.add(code)
        try:
            item = build_item(definition)
        except ItemError as exc:
            problems.extend(f"{code}: {p}" for p in exc.problems)
            continue
        previous = force.get(code)
        if previous is not None and previous.hash == item.hash:
            continue  # the same rules: nothing to do
        if previous is not None and previous.version == item.version:
            problems.append(f"{code}: content changed without a new version (still {item.version})")
        cases, doc = _cases_for(code, entry.get("cases"), rows, problems)
        if cases:
            problems.extend(f"{code}: {p}" for p in check_cases(item, cases))
        changes.append(_Change(item, doc, previous))
    if problems:
        raise RuleSetRefused(problems)
    return changes


# -- applying it -------------------------------------------------------------------------------
@manifest_kind(KIND)
def apply_rule_set(db: Database, content: Any) -> dict[str, Any]:
    """The ``rule_set`` hook: check, then write every change in one transaction (audited)."""
    try:
        changes = check_rule_set(db, content)
    except RuleSetRefused as exc:
        log.warning("rule set refused: %s", "; ".join(exc.problems))
        raise
    if not changes:
        return {"items": []}
    now = time.time()
    record = RuleSetApplied(items=[{"code": c.item.code, "version": c.item.version, "hash": c.item.hash,
                                    "previous_version": c.previous.version if c.previous else None,
                                    "previous_hash": c.previous.hash if c.previous else None} for c in changes])
    with write_tx(db) as conn:
        for c in changes:
            it = c.item
            conn.execute(
                "INSERT INTO approval_items_applied (code, version, hash, canonical, cases, previous_hash, "
                "applied_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET "
                "version = excluded.version, hash = excluded.hash, canonical = excluded.canonical, "
                "cases = excluded.cases, previous_hash = excluded.previous_hash, applied_at = excluded.applied_at",
                (it.code, it.version, it.hash, it.canonical,
                 None if c.cases is None else json.dumps(c.cases, ensure_ascii=False),
                 c.previous.hash if c.previous else None, now))
            conn.execute("INSERT OR IGNORE INTO approval_rulesets (hash, item, version, canonical, stored_at) "
                         "VALUES (?, ?, ?, ?, ?)", (it.hash, it.code, it.version, it.canonical, now))
        append(conn, record, actor="uplink")
    with _cache_lock:
        _cache.clear()  # this process sees the new rules at once; the others within RECHECK_S
    return {"items": record.items}
