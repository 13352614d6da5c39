"""Cases files and the checks generated over every item.

A cases file (``items/<code>.cases.toml``) names scenarios: the application date, the facts
as the sources would give them, the expected decision and reasons::

    item = "elderly_allowance"
    [base]                       # facts of an applicant who qualifies
    date = "2026-12-02"
    nulls = ["person.death_date"]          # facts present with no value (TOML has no null)
    [base.facts]
    "applicant.age" = 83
    [[cases]]
    name = "79: age below the minimum"
    facts = { "applicant.age" = 79 }       # changes to the base; `drop` removes facts
    expect = "referred"
    reasons = [["R2", "AGE_BELOW_MIN"]]    # (rule, code) in rule order, exactly

Besides the named cases, two checks are generated for every item:

* **dropping any single fact never approves** — from every approving case, each fact in turn
  is removed (an unreachable source, a missing record) and the decision must be ``referred``;
* **each rule's failure yields exactly its code** — every rule fails in at least one named
  case and there gives its own code; and with the rule forced to fail on an approving case,
  the reasons are exactly ``[(rule, code)]``.

``queue-server approvals check`` runs all of it; so does ``tests/test_approvals_items.py``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from queue_server.approvals.engine import FAIL, decide
from queue_server.approvals.expr import compile_expr
from queue_server.approvals.items import ITEMS_DIR, Item, read_lock


@dataclass(frozen=True)
class Case:
    name: str
    date: str
    facts: dict[str, Any]
    expect: str
    reasons: tuple[tuple[str, str], ...] = ()
    outputs: dict[str, Any] = field(default_factory=dict)


def cases_path(code: str, folder: Path = ITEMS_DIR) -> Path:
    return folder / f"{code}.cases.toml"


def load_cases(code: str, folder: Path = ITEMS_DIR) -> list[Case]:
    with open(cases_path(code, folder), "rb") as fh:
        data = tomllib.load(fh)
    return parse_cases(code, data, cases_path(code, folder).name)


def parse_cases(code: str, data: Any, where: str = "cases") -> list[Case]:
    """The cases of a cases file already parsed (a TOML file, or the same shape as JSON in a
    rule-set manifest); ValueError, KeyError or TypeError when it is not right."""
    if not isinstance(data, dict) or data.get("item") != code:
        raise ValueError(f"{where}: item must be {code!r}")
    base = data.get("base", {})
    base_facts = {**base.get("facts", {}), **{n: None for n in base.get("nulls", [])}}
    out = []
    for raw in data.get("cases", []):
        facts = {**base_facts, **raw.get("facts", {}), **{n: None for n in raw.get("nulls", [])}}
        for name in raw.get("drop", []):
            if name not in facts:
                raise ValueError(f"case {raw.get('name')!r}: cannot drop {name}, it is not there")
            facts.pop(name)
        expect = raw.get("expect")
        if expect not in ("approved", "referred"):
            raise ValueError(f"case {raw.get('name')!r}: expect is approved or referred")
        out.append(Case(str(raw["name"]), str(raw.get("date", base.get("date"))), facts, expect,
                        tuple((str(r[0]), str(r[1])) for r in raw.get("reasons", [])),
                        dict(raw.get("outputs", {}))))
    return out


def run_case(item: Item, case: Case) -> list[str]:
    """What differs from the case's expectation (empty when it holds)."""
    decision = decide(item, case.facts, case.date)
    got = tuple((r["rule"], r["code"]) for r in decision.reasons(item))
    problems = []
    if decision.decision != case.expect:
        problems.append(f"{case.name}: decision {decision.decision}, expected {case.expect} (reasons {got})")
    elif got != case.reasons:
        problems.append(f"{case.name}: reasons {list(got)}, expected {list(case.reasons)}")
    outputs = {label: value for label, _, value in decision.outputs}
    for label, value in case.outputs.items():
        if outputs.get(label) != value:
            problems.append(f"{case.name}: output {label} = {outputs.get(label)!r}, expected {value!r}")
    return problems


def check_cases_cover_the_facts(item: Item, cases: list[Case]) -> list[str]:
    """Cases may only use facts some rule declares (else dropping them would prove nothing)."""
    declared = {f for r in item.rules for f in r.facts} | {"application.date"}
    problems = []
    for case in cases:
        extra = sorted(set(case.facts) - declared)
        if extra:
            problems.append(f"{case.name}: facts no rule uses: {extra}")
    return problems


def check_dropping_any_fact_never_approves(item: Item, cases: list[Case]) -> list[str]:
    problems = []
    approving = [c for c in cases if c.expect == "approved"]
    if not approving:
        problems.append("no approving case: the item is never shown to approve")
    for case in approving:
        for name in case.facts:
            facts = {k: v for k, v in case.facts.items() if k != name}
            decision = decide(item, facts, case.date)
            if decision.decision != "referred":
                problems.append(f"{case.name}: approved without the fact {name}")
            elif not any(r.result == "unknown" and name in r.missing for r in decision.rules):
                problems.append(f"{case.name}: without {name} no rule was unknown for it")
    return problems


def check_each_rule_failure_yields_its_code(item: Item, cases: list[Case]) -> list[str]:
    problems = []
    decisions = [(c, decide(item, c.facts, c.date)) for c in cases]
    for rule in item.rules:
        failing = [(c, next(r for r in d.rules if r.rule == rule.id)) for c, d in decisions]
        failing = [(c, r) for c, r in failing if r.result == FAIL]
        if not failing:
            problems.append(f"rule {rule.id}: no case makes it fail")
        for case, result in failing:
            if result.code != rule.code:
                problems.append(f"rule {rule.id} in {case.name}: code {result.code}, not {rule.code}")
    approving = next((c for c in cases if c.expect == "approved"), None)
    if approving is not None:
        for rule in item.rules:
            forced = replace(item, rules=tuple(replace(r, when=compile_expr("1 == 2"), facts=r.facts)
                                               if r.id == rule.id else r for r in item.rules))
            got = [(r["rule"], r["code"]) for r in decide(forced, approving.facts, approving.date).reasons(forced)]
            if got != [(rule.id, rule.code)]:
                problems.append(f"rule {rule.id} forced to fail: reasons {got}, expected {[(rule.id, rule.code)]}")
    return problems


@dataclass
class ItemReport:
    item: Item
    cases: int = 0
    problems: list[str] = field(default_factory=list)
    lock: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def check_item(item: Item, folder: Path = ITEMS_DIR, lock: dict[str, dict[str, str]] | None = None) -> ItemReport:
    """Everything ``approvals check`` says about one item."""
    report = ItemReport(item)
    lock = read_lock() if lock is None else lock
    report.lock = lock.get(item.code)
    if report.lock is None:
        report.problems.append("not in rulesets.lock.json (add it: queue-server approvals check --write-lock)")
    elif report.lock["hash"] != item.hash:
        if report.lock["version"] == item.version:
            report.problems.append(f"content changed without a new version (still {item.version}): "
                                   "bump `version`, then update rulesets.lock.json")
        else:
            report.problems.append(f"new version {item.version}: update rulesets.lock.json")
    if not cases_path(item.code, folder).exists():
        report.problems.append(f"no cases file {cases_path(item.code, folder).name}")
        return report
    try:
        cases = load_cases(item.code, folder)
    except (ValueError, KeyError, tomllib.TOMLDecodeError) as exc:
        report.problems.append(f"cases file: {exc}")
        return report
    report.cases = len(cases)
    report.problems.extend(check_cases(item, cases))
    return report


def check_cases(item: Item, cases: list[Case]) -> list[str]:
    """The named cases and the generated checks of one item (what ``approvals check`` runs
    once the item and its cases file are read)."""
    problems: list[str] = []
    for case in cases:
        problems.extend(run_case(item, case))
    problems.extend(check_cases_cover_the_facts(item, cases))
    problems.extend(check_dropping_any_fact_never_approves(item, cases))
    problems.extend(check_each_rule_failure_yields_its_code(item, cases))
    return problems
