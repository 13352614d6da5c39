"""Deciding an item: every rule PASS, FAIL or UNKNOWN on the application date; approved only
when every rule passes, otherwise referred to a person with the reasons.

There is no refusal in the type (PIPL art. 24: a person decides every "no"). A rule is
UNKNOWN — never a pass — when a fact it declares is missing (no record, an unreachable
source, a timeout), when a parameter has no value in force on the application date, when
its condition comes out unknown, or when evaluating it raises::

    decision = decide(item, facts, "2026-12-02")
    decision.decision      # "approved" | "referred"
    decision.reasons()     # [{"rule": "R2", "code": "AGE_BELOW_MIN", "message": …}, …]

Plain Python, no database: the cases files, the generated checks, re-runs and the API all
call :func:`decide` with a facts dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from queue_server.approvals.expr import UNKNOWN, evaluate, truth
from queue_server.approvals.expr import Scope as _Scope
from queue_server.approvals.items import UNKNOWN_CODES, Item, Rule

#: The engine's version: decisions are made by ``engine@<ENGINE_VERSION>``.
ENGINE_VERSION = "1.0"
DECIDED_BY = f"engine@{ENGINE_VERSION}"

PASS, FAIL, UNKNOWN_RESULT = "pass", "fail", "unknown"


@dataclass(frozen=True)
class RuleResult:
    rule: str
    result: str
    """``pass``, ``fail`` or ``unknown``."""
    code: str | None
    """None for a pass; the rule's code for a fail; ``DATA_UNAVAILABLE`` or ``RULE_ERROR``."""
    facts: dict[str, str]
    """Each fact the rule used → its source."""
    missing: tuple[str, ...] = ()
    """Facts and ``param.<name>``s that were not known."""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"rule": self.rule, "result": self.result, "code": self.code, "facts": self.facts}
        if self.missing:
            d["missing"] = list(self.missing)
        if self.error:
            d["error"] = self.error
        return d


@dataclass(frozen=True)
class Decision:
    item: str
    version: str
    hash: str
    application_date: str
    decision: str
    """``approved`` or ``referred`` — nothing else."""
    rules: tuple[RuleResult, ...]
    parameters: dict[str, dict[str, Any]]
    """Every parameter in force on the application date: ``{name: {"value", "since"}}``."""
    outputs: tuple[tuple[str, str, Any], ...] = field(default=())
    """``(label, label_en, value)`` of the item's outputs (approved decisions only)."""

    @property
    def approved(self) -> bool:
        return self.decision == "approved"

    def reasons(self, item: Item) -> list[dict[str, Any]]:
        """What did not pass, in the item's rule order, in plain Chinese (and English)."""
        return reasons_of(item, [r.as_dict() for r in self.rules])


def reasons_of(item: Item, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reasons of rule results (``RuleResult.as_dict()``, as decisions store them): every
    rule that did not pass, in order, with its code and plain-language message."""
    out = []
    for r in rules:
        if r["result"] == PASS:
            continue
        rule = item.rule(r["rule"])
        zh, en = reason_text(rule, RuleResult(r["rule"], r["result"], r["code"], r.get("facts", {})))
        out.append({"rule": r["rule"], "code": r["code"], "message": zh, "message_en": en,
                    "result": r["result"], "text": rule.text})
    return out


def reason_text(rule: Rule, result: RuleResult) -> tuple[str, str]:
    if result.result == FAIL:
        return rule.message, rule.message_en or rule.message
    if result.code == UNKNOWN_CODES["error"]:
        return (f"{rule.text}：系统未能判断，需工作人员人工核实",
                f"{rule.text_en or rule.text}: the system could not decide; a member of staff will check")
    return (f"{rule.text}：所需数据暂未取得，需工作人员人工核实",
            f"{rule.text_en or rule.text}: the data needed could not be obtained; a member of staff will check")


def parameters_on(item: Item, day: str) -> dict[str, dict[str, Any]]:
    out = {}
    for name, p in item.parameters.items():
        found = p.at(day)
        if found is not None:
            out[name] = {"value": found[1], "since": found[0]}
    return out


def evaluate_rule(item: Item, rule: Rule, facts: Mapping[str, Any], params: Mapping[str, Any]) -> RuleResult:
    used = {f: item.fact_source(f) for f in rule.facts}
    missing = tuple([f for f in rule.facts if f not in facts]
                    + [f"param.{p}" for p in sorted(rule.when.params) if p not in params])
    if missing:
        return RuleResult(rule.id, UNKNOWN_RESULT, UNKNOWN_CODES["missing"], used, missing)
    try:
        value = truth(rule.when, facts, params)
    except Exception as exc:  # an error inside a rule is UNKNOWN, never a pass
        return RuleResult(rule.id, UNKNOWN_RESULT, UNKNOWN_CODES["error"], used,
                          error=f"{type(exc).__name__}: {exc}"[:300])
    if value is UNKNOWN:
        return RuleResult(rule.id, UNKNOWN_RESULT, UNKNOWN_CODES["missing"], used, ("(a field of a record)",))
    if value:
        return RuleResult(rule.id, PASS, None, used)
    return RuleResult(rule.id, FAIL, rule.code, used)


def decide(item: Item, facts: Mapping[str, Any], application_date: str) -> Decision:
    """Evaluate every rule of ``item`` on ``application_date`` with ``facts``."""
    in_force = parameters_on(item, application_date)
    params = {name: v["value"] for name, v in in_force.items()}
    facts = {**facts, "application.date": application_date} if "application.date" not in facts else facts
    results = tuple(evaluate_rule(item, rule, facts, params) for rule in item.rules)
    approved = all(r.result == PASS for r in results)
    outputs: list[tuple[str, str, Any]] = []
    if approved:
        for out in item.outputs:
            try:
                value = evaluate(out.value.tree, _Scope(facts, params))
            except Exception:  # an output that cannot be computed is left off the certificate
                continue
            if value is not UNKNOWN and value is not None:
                outputs.append((out.label, out.label_en, value))
    return Decision(item.code, item.version, item.hash, application_date,
                    "approved" if approved else "referred", results, in_force, tuple(outputs))
