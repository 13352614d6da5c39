"""秒批 items as data: inputs, sources, dated parameters, rules — and their content hash.

Each item is one TOML file in ``queue_server/approvals/items/`` (``<code>.toml``) beside its
cases file (``<code>.cases.toml``). ``docs/approvals.md`` describes every key; in short::

    code = "elderly_allowance"
    version = "2026.1"            # bump with every change of content (a test checks)
    service = "MZ01"              # the hall service a referral queues for
    [sources]                     # collection = whose key ("applicant" or "input.<name>")
    persons = "applicant"
    [parameters.min_age]          # OpenFisca's shape: dated values with a legal basis
    reference = "…"
    values = [{ since = "2012-01-01", value = 80 }]
    [[rules]]                     # one legal condition each
    id = "R2"
    text = "年满 80 周岁"
    facts = ["applicant.age"]
    when = "applicant.age >= param.min_age"
    code = "AGE_BELOW_MIN"

The **rule set** of an item is its whole definition in canonical JSON (keys sorted, no
spaces, UTF-8); its SHA-256 is the rule set's hash. A decision records version and hash,
and the rule set is stored once under its hash, so the decision can be re-run later from
exactly the rules it used. ``items/rulesets.lock.json`` holds the expected version and hash
of every item: content that changes without a new version fails the tests.

The items **in force** (:func:`registry`) are the package's, overridden by whatever
:data:`OVERLAYS` give: :mod:`queue_server.approvals.manifest` adds the rule sets the city
hub's signed ``rule_set`` manifests applied to the hall's database (new dated parameter
values, new or changed items), checked as ``queue-server approvals check`` checks.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from queue_server.approvals.datasets import COLLECTIONS, all_fact_names
from queue_server.approvals.expr import Compiled, ExprError, compile_expr

ITEMS_DIR = Path(__file__).resolve().parent / "items"
LOCK_FILE = ITEMS_DIR / "rulesets.lock.json"

#: Facts the engine itself provides (besides inputs and the collections' facts).
ENGINE_FACTS = {
    "applicant.verification": "applicant",  # face | card | staff, as the request says
    "applicant.age": "applicant",           # whole years on the application date, from the ID number
    "hall.region": "settings",              # setting approvals.region
    "application.date": "application",      # ISO date the rules are evaluated on
}

INPUT_TYPES = ("month", "integer", "text", "choice", "choices", "id_number", "uscc", "code")
IDENTITY_CODE = "IDENTITY_NOT_VERIFIED"
#: Why a rule is UNKNOWN: a missing fact or parameter, or an error inside the rule.
UNKNOWN_CODES = {"missing": "DATA_UNAVAILABLE", "error": "RULE_ERROR"}

_CODE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
_REASON = re.compile(r"^[A-Z][A-Z0-9_]{2,40}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ItemError(ValueError):
    """An item file that is not valid; ``problems`` lists every one found."""

    def __init__(self, code: str, problems: list[str]) -> None:
        super().__init__(f"{code}: " + "; ".join(problems))
        self.code = code
        self.problems = problems


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    reference: str
    values: tuple[tuple[str, Any], ...]
    """``(since, value)`` sorted by date; the value in force is the last one not after the day."""
    unit: str = ""

    def at(self, day: str) -> tuple[str, Any] | None:
        """``(since, value)`` in force on ``day`` (ISO), or None before the first date."""
        found = None
        for since, value in self.values:
            if since <= day:
                found = (since, value)
        return found


@dataclass(frozen=True)
class Input:
    name: str
    label: str
    label_en: str
    type: str
    required: bool = True
    options: tuple[tuple[str, str], ...] = ()
    """``(value, label)`` for choice inputs (or taken from ``options_param``)."""
    options_param: str = ""
    strict: bool = True
    """A choice outside ``options`` is refused (False: options are only suggestions)."""
    minimum: int | None = None
    maximum: int | None = None
    pattern: str = ""
    not_before: str = ""
    """Another input this one may not be less than (``to_month`` ≥ ``from_month``)."""
    help: str = ""
    help_en: str = ""


@dataclass(frozen=True)
class Rule:
    id: str
    text: str
    text_en: str
    basis: str
    facts: tuple[str, ...]
    when: Compiled
    code: str
    message: str
    message_en: str
    bring: tuple[str, ...] = ()
    bring_en: tuple[str, ...] = ()


@dataclass(frozen=True)
class Output:
    label: str
    label_en: str
    value: Compiled


@dataclass(frozen=True)
class LicenceSpec:
    """What an approved item issues into the licence register (亮证), when its result is a
    licence (the ``[licence]`` table of the item file).

    ``holder = "new_business"``: the approval registers a new market entity (a 个体工商户):
    a unified social credit code is assigned (``uscc_prefix`` + the hall's region + an
    organisation code), it is the licence's holder and number, and the applicant is its
    operator (listed under the applicant's ID number, like a company's legal
    representative). ``holder_name`` and ``fields`` are templates: ``{input.<name>}`` is
    replaced by what the citizen entered (choices by their labels)."""

    type_code: str
    type_name: str
    issuer_name: str
    issuer_uscc: str
    holder: str
    holder_name: str
    uscc_prefix: str = "92"
    fields: tuple[tuple[str, str], ...] = ()
    valid_years: int | None = None
    """None: 长期 (no end date)."""


LICENCE_HOLDERS = ("new_business",)
_TEMPLATE_FIELD = re.compile(r"\{([a-z_.]+)\}")


@dataclass(frozen=True)
class Item:
    code: str
    version: str
    name: str
    name_en: str
    category: str
    category_name: str
    category_name_en: str
    service: str
    summary: str
    summary_en: str
    result: str
    result_en: str
    sources: dict[str, str]
    inputs: tuple[Input, ...]
    parameters: dict[str, Parameter]
    rules: tuple[Rule, ...]
    outputs: tuple[Output, ...]
    bring: tuple[str, ...]
    bring_en: tuple[str, ...]
    definition: dict[str, Any] = field(repr=False, compare=False)
    licence: LicenceSpec | None = None
    """Set when the item's result is a licence: issued into the register on approval."""
    canonical: str = field(repr=False, compare=False, default="")
    hash: str = ""

    @property
    def ruleset(self) -> dict[str, str]:
        return {"version": self.version, "hash": self.hash}

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)

    def fact_source(self, fact: str) -> str:
        """Which source gives a fact: a collection, ``input``, ``applicant``, ``settings``…"""
        if fact in ENGINE_FACTS:
            return ENGINE_FACTS[fact]
        if fact.startswith("input."):
            return "input"
        return all_fact_names().get(fact, "unknown")


def canonical_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def ruleset_hash(definition: dict[str, Any]) -> tuple[str, str]:
    """``(canonical JSON, sha256 hex)`` of an item definition."""
    text = canonical_json(definition)
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value or ()))


def build_item(definition: dict[str, Any]) -> Item:
    """An :class:`Item` from its definition (a TOML file parsed, or a stored rule set);
    :class:`ItemError` with every problem found."""
    d = definition
    code = str(d.get("code", "?"))
    problems: list[str] = []

    def need(key: str) -> str:
        value = d.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key}: a non-empty string is required")
            return ""
        return value

    if not _CODE.match(code):
        problems.append("code: lower-case letters, digits and _ (2-41 characters)")
    version = need("version")
    for key in ("name", "name_en", "category", "service", "result"):
        need(key)

    inputs: list[Input] = []
    for i, raw in enumerate(d.get("inputs", []) or []):
        try:
            opts = tuple((str(o[0]), str(o[1])) for o in raw.get("options", []))
            inp = Input(name=str(raw["name"]), label=str(raw["label"]), label_en=str(raw.get("label_en", "")),
                        type=str(raw["type"]), required=bool(raw.get("required", True)), options=opts,
                        options_param=str(raw.get("options_param", "")), strict=bool(raw.get("strict", True)),
                        minimum=raw.get("min"), maximum=raw.get("max"), pattern=str(raw.get("pattern", "")),
                        not_before=str(raw.get("not_before", "")), help=str(raw.get("help", "")), help_en=str(raw.get("help_en", "")))
        except (KeyError, TypeError, IndexError) as exc:
            problems.append(f"inputs[{i}]: {exc!r}")
            continue
        if inp.type not in INPUT_TYPES:
            problems.append(f"input {inp.name}: type must be one of {', '.join(INPUT_TYPES)}")
        if inp.pattern:
            try:
                re.compile(inp.pattern)
            except re.error as exc:
                problems.append(f"input {inp.name}: bad pattern ({exc})")
        inputs.append(inp)
    input_names = {i.name for i in inputs}
    for inp in inputs:
        if inp.not_before and inp.not_before not in input_names:
            problems.append(f"input {inp.name}: not_before names no input")
    if len(input_names) != len(inputs):
        problems.append("inputs: names must be unique")

    sources: dict[str, str] = {}
    for name, key in (d.get("sources") or {}).items():
        coll = COLLECTIONS.get(name)
        if coll is None:
            problems.append(f"sources: unknown collection {name}")
            continue
        if key != "applicant" and not (isinstance(key, str) and key.startswith("input.")
                                       and key[6:] in input_names):
            problems.append(f"sources.{name}: 'applicant' or 'input.<a declared input>'")
        if key == "applicant" and coll.key_kind != "id_number":
            problems.append(f"sources.{name}: keyed by {coll.key}, not by a person")
        sources[name] = str(key)

    params: dict[str, Parameter] = {}
    for name, raw in (d.get("parameters") or {}).items():
        values = []
        for v in raw.get("values", []):
            since = v.get("since")
            if not isinstance(since, str) or not _DATE.match(since):
                problems.append(f"parameter {name}: since must be an ISO date string")
                continue
            if "value" not in v:
                problems.append(f"parameter {name}: a value is required for {since}")
                continue
            values.append((since, v["value"]))
        if [s for s, _ in values] != sorted({s for s, _ in values}):
            problems.append(f"parameter {name}: values must be in date order, one per date")
        if not str(raw.get("reference", "")).strip():
            problems.append(f"parameter {name}: a legal basis (reference) is required")
        params[name] = Parameter(name, str(raw.get("description", "")), str(raw.get("reference", "")),
                                 tuple(values), str(raw.get("unit", "")))

    known_facts = dict(ENGINE_FACTS)
    known_facts.update({f"input.{n}": "input" for n in input_names})
    for name in sources:
        known_facts.update({f: name for f in COLLECTIONS[name].fact_names()})

    rules: list[Rule] = []
    for i, raw in enumerate(d.get("rules", []) or []):
        rid = str(raw.get("id", f"#{i}"))
        try:
            when = compile_expr(str(raw.get("when", "")))
        except ExprError as exc:
            problems.append(f"rule {rid}: {exc}")
            continue
        facts = _strs(raw.get("facts"))
        if set(facts) != set(when.facts):
            problems.append(f"rule {rid}: facts {sorted(facts)} must be exactly those its condition uses "
                            f"{sorted(when.facts)}")
        for fact in facts:
            if fact not in known_facts:
                problems.append(f"rule {rid}: fact {fact} comes from no declared source or input")
        for p in when.params:
            if p not in params:
                problems.append(f"rule {rid}: parameter {p} is not declared")
        reason = str(raw.get("code", ""))
        if not _REASON.match(reason) or reason in UNKNOWN_CODES.values():
            problems.append(f"rule {rid}: code must be UPPER_CASE and not {'/'.join(UNKNOWN_CODES.values())}")
        for key in ("text", "basis", "message"):
            if not str(raw.get(key, "")).strip():
                problems.append(f"rule {rid}: {key} is required")
        rules.append(Rule(rid, str(raw.get("text", "")), str(raw.get("text_en", "")), str(raw.get("basis", "")),
                          facts, when, reason, str(raw.get("message", "")), str(raw.get("message_en", "")),
                          _strs(raw.get("bring")), _strs(raw.get("bring_en"))))
    if not rules:
        problems.append("rules: at least one")
    if len({r.id for r in rules}) != len(rules):
        problems.append("rules: ids must be unique")
    if not any(r.code == IDENTITY_CODE and r.facts == ("applicant.verification",) for r in rules):
        problems.append(f"rules: every item needs the verified-applicant rule ({IDENTITY_CODE})")

    outputs: list[Output] = []
    for raw in d.get("outputs", []) or []:
        try:
            value = compile_expr(str(raw.get("value", "")))
        except ExprError as exc:
            problems.append(f"output {raw.get('label')}: {exc}")
            continue
        unknown = [f for f in value.facts if f not in known_facts] + [p for p in value.params if p not in params]
        if unknown:
            problems.append(f"output {raw.get('label')}: unknown facts/parameters {unknown}")
        outputs.append(Output(str(raw.get("label", "")), str(raw.get("label_en", "")), value))
    for inp in inputs:
        if inp.options_param and inp.options_param not in params:
            problems.append(f"input {inp.name}: options_param {inp.options_param} is not a parameter")

    licence = _licence_spec(d.get("licence"), input_names, problems)

    if problems:
        raise ItemError(code, problems)
    canonical, digest = ruleset_hash(d)
    return Item(code=code, version=version, name=str(d["name"]), name_en=str(d["name_en"]),
                category=str(d["category"]), category_name=str(d.get("category_name", "")),
                category_name_en=str(d.get("category_name_en", "")), service=str(d["service"]),
                summary=str(d.get("summary", "")), summary_en=str(d.get("summary_en", "")),
                result=str(d["result"]), result_en=str(d.get("result_en", "")), sources=sources,
                inputs=tuple(inputs), parameters=params, rules=tuple(rules), outputs=tuple(outputs),
                bring=_strs(d.get("bring")), bring_en=_strs(d.get("bring_en")), definition=d,
                canonical=canonical, hash=digest, licence=licence)


def _licence_spec(raw: Any, input_names: set[str], problems: list[str]) -> LicenceSpec | None:
    """The ``[licence]`` table checked (type code, issuer USCC, holder kind, templates)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append("licence: a table is required")
        return None
    from hardware.idnumber import is_valid_uscc
    from queue_server.licences import identifier

    for key in ("type_code", "type_name", "issuer_name", "issuer_uscc", "holder", "holder_name"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            problems.append(f"licence.{key}: a non-empty string is required")
    if problems:
        return None
    if identifier.type_code_problem(raw["type_code"]):
        problems.append("licence.type_code: letters A-Z and digits, at most 40")
    if not is_valid_uscc(raw["issuer_uscc"]):
        problems.append("licence.issuer_uscc: not a valid unified social credit code (GB 32100)")
    if raw["holder"] not in LICENCE_HOLDERS:
        problems.append(f"licence.holder: one of {', '.join(LICENCE_HOLDERS)}")
    prefix = str(raw.get("uscc_prefix", "92"))
    if not re.fullmatch(r"[1-9A-HJ-NPQRTUWXY][1-9]", prefix):
        problems.append("licence.uscc_prefix: registration authority and entity kind (two characters, e.g. 92)")
    fields_raw = raw.get("fields") or {}
    if not isinstance(fields_raw, dict) or not all(isinstance(v, str) for v in fields_raw.values()):
        problems.append("licence.fields: a table of text templates")
        fields_raw = {}
    for where, text in [("holder_name", raw["holder_name"]), *((f"fields.{k}", v) for k, v in fields_raw.items())]:
        for name in _TEMPLATE_FIELD.findall(text):
            if not name.startswith("input.") or name[6:] not in input_names:
                problems.append(f"licence.{where}: {{{name}}} names no input")
    years = raw.get("valid_years")
    if years is not None and (not isinstance(years, int) or isinstance(years, bool) or not 1 <= years <= 100):
        problems.append("licence.valid_years: 1-100, or leave out for 长期")
        years = None
    return LicenceSpec(raw["type_code"].strip().upper(), raw["type_name"].strip(), raw["issuer_name"].strip(),
                       raw["issuer_uscc"].strip().upper(), raw["holder"], raw["holder_name"].strip(), prefix,
                       tuple((str(k), str(v)) for k, v in fields_raw.items()), years)


def load_item_file(path: Path) -> Item:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    item = build_item(data)
    if item.code != path.name.removesuffix(".toml"):
        raise ItemError(item.code, [f"file name {path.name} must be {item.code}.toml"])
    return item


def item_files(folder: Path = ITEMS_DIR) -> list[Path]:
    return sorted(p for p in folder.glob("*.toml") if not p.name.endswith(".cases.toml"))


_registry: dict[str, Item] | None = None
_registry_lock = threading.Lock()

#: Items that override the package's: callables returning ``{code: Item}`` (empty when they
#: have none), asked at every :func:`registry` call; ``approvals.manifest`` adds one.
OVERLAYS: list[Callable[[], dict[str, Item]]] = []


def package_items() -> dict[str, Item]:
    """Every item shipped in the package, by code (loaded once per process)."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = {i.code: i for i in (load_item_file(p) for p in item_files())}
        return _registry


def registry() -> dict[str, Item]:
    """Every item in force, by code: the package's, overridden by the :data:`OVERLAYS`
    (in a request: the rule sets applied to that hall's database)."""
    base = package_items()
    extra: dict[str, Item] = {}
    for overlay in OVERLAYS:
        extra.update(overlay())
    return {**base, **extra} if extra else base


def get_item(code: str) -> Item | None:
    return registry().get(code)


def item_from_ruleset(canonical: str) -> Item:
    """The item a stored rule set describes (for re-runs)."""
    return build_item(json.loads(canonical))


def read_lock(path: Path = LOCK_FILE) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    data: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_lock(items: dict[str, Item], path: Path = LOCK_FILE) -> None:
    data = {code: item.ruleset for code, item in sorted(items.items())}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
