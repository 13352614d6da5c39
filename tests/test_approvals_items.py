"""秒批 items as data: every item's cases file, the checks generated over every item, the
rule-set lock, the two fixed items' exact rules, dated parameters and the rule language."""

from __future__ import annotations

from dataclasses import replace

import pytest

from queue_server.approvals.checks import (
    check_dropping_any_fact_never_approves,
    check_each_rule_failure_yields_its_code,
    check_item,
    load_cases,
    run_case,
)
from queue_server.approvals.engine import decide
from queue_server.approvals.expr import UNKNOWN, ExprError, compile_expr, truth
from queue_server.approvals.items import ItemError, Parameter, build_item, read_lock, registry

ITEMS = sorted(registry())
CASES = [(code, case) for code in ITEMS for case in load_cases(code)]


def test_at_least_six_real_items_each_with_a_cases_file():
    assert len(ITEMS) >= 6
    assert {"elderly_allowance", "insurance_certificate"} <= set(ITEMS)
    for code in ITEMS:
        assert len(load_cases(code)) >= 5, code


@pytest.mark.parametrize("code, case", CASES, ids=[f"{c}: {k.name}" for c, k in CASES])
def test_named_case(code, case):
    assert run_case(registry()[code], case) == []


@pytest.mark.parametrize("code", ITEMS)
def test_dropping_any_single_fact_never_approves(code):
    item = registry()[code]
    cases = load_cases(code)
    assert any(c.expect == "approved" for c in cases)
    assert check_dropping_any_fact_never_approves(item, cases) == []


@pytest.mark.parametrize("code", ITEMS)
def test_each_rule_failure_yields_exactly_its_code(code):
    item = registry()[code]
    assert check_each_rule_failure_yields_its_code(item, load_cases(code)) == []


@pytest.mark.parametrize("code", ITEMS)
def test_content_never_changes_without_its_version(code):
    """rulesets.lock.json holds each item's version and hash: editing an item without a new
    version fails here (and in `queue-server approvals check`)."""
    item = registry()[code]
    locked = read_lock()[code]
    assert (locked["version"], locked["hash"]) == (item.version, item.hash), (
        "content changed: bump `version` in the item file, then run "
        "`queue-server approvals check --write-lock`")


def test_the_lock_check_notices_a_silent_edit():
    item = registry()["elderly_allowance"]
    edited = dict(item.definition)
    edited["parameters"] = {**edited["parameters"],
                            "min_age": {**edited["parameters"]["min_age"],
                                        "values": [{"since": "2013-07-01", "value": 70}]}}
    changed = build_item(edited)
    assert changed.version == item.version and changed.hash != item.hash
    report = check_item(changed)
    assert any("without a new version" in p for p in report.problems)
    bumped = build_item({**edited, "version": "2026.2"})
    assert not any("without a new version" in p for p in check_item(bumped).problems)


def test_every_item_checks_clean():
    for code in ITEMS:
        report = check_item(registry()[code])
        assert report.ok, (code, report.problems)


def test_the_two_fixed_items_have_exactly_the_rules_inputs_and_codes_of_the_issue():
    elderly = registry()["elderly_allowance"]
    assert [(r.id, r.code) for r in elderly.rules] == [
        ("R0", "IDENTITY_NOT_VERIFIED"), ("R1", "NOT_LOCAL_HUKOU"), ("R2", "AGE_BELOW_MIN"),
        ("R3", "DECEASED"), ("R4", "ALREADY_RECEIVING")]
    assert elderly.inputs == ()
    assert elderly.parameters["min_age"].at("2026-12-02") == ("2013-07-01", 80)
    insurance = registry()["insurance_certificate"]
    assert [(r.id, r.code) for r in insurance.rules] == [
        ("R0", "IDENTITY_NOT_VERIFIED"), ("R1", "NO_LOCAL_RECORD"), ("R2", "PERIOD_BEFORE_ELECTRONIC"),
        ("R3", "ACCOUNT_FLAG")]
    assert [(i.name, i.required) for i in insurance.inputs] == [
        ("from_month", True), ("to_month", True), ("kind", False)]
    assert insurance.parameters["electronic_since"].at("2026-12-02")[1] == "2019-01"
    for code in ITEMS:  # every item requires a verified applicant
        rule = registry()[code].rules[0]
        assert (rule.code, rule.when.text) == ("IDENTITY_NOT_VERIFIED", "applicant.verification in ('face', 'staff')")


def test_a_decision_uses_the_parameter_value_in_force_on_the_application_date():
    item = registry()["elderly_allowance"]
    dated = replace(item, parameters={**item.parameters, "min_age": Parameter(
        "min_age", "", "test basis", (("2013-07-01", 80), ("2027-01-01", 75)))})
    facts = dict(load_cases("elderly_allowance")[0].facts, **{"applicant.age": 77})
    before = decide(dated, facts, "2026-12-31")
    after = decide(dated, facts, "2027-01-01")
    assert (before.decision, [r["code"] for r in before.reasons(dated)]) == ("referred", ["AGE_BELOW_MIN"])
    assert before.parameters["min_age"] == {"value": 80, "since": "2013-07-01"}
    assert after.decision == "approved" and after.parameters["min_age"] == {"value": 75, "since": "2027-01-01"}


def test_an_exception_inside_a_rule_is_unknown_never_a_pass():
    item = registry()["elderly_allowance"]
    broken = replace(item, rules=tuple(replace(r, when=compile_expr("applicant.age >= 'eighty'")) if r.id == "R2"
                                       else r for r in item.rules))
    d = decide(broken, load_cases("elderly_allowance")[0].facts, "2026-12-02")
    r2 = next(r for r in d.rules if r.rule == "R2")
    assert (d.decision, r2.result, r2.code) == ("referred", "unknown", "RULE_ERROR")
    assert "TypeError" in (r2.error or "")


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "applicant.age.__class__", "(lambda: True)()", "open('x')",
    "person", "facts[0].x", "applicant.age if True else 1", "{1: 2}", "x[1:2]", "f'{person.x}'",
])
def test_the_rule_language_refuses_anything_outside_it(text):
    with pytest.raises(ExprError):
        compile_expr(text)


def test_three_valued_logic():
    def t(text, **facts):
        return truth(compile_expr(text), {k.replace("_", "."): v for k, v in facts.items()}, {})

    assert t("a.x == 1", a_x=1) is True
    assert t("a.x == 1") is UNKNOWN
    assert t("a.x == 1 and b.y == 2", b_y=3) is False  # False and UNKNOWN
    assert t("a.x == 1 or b.y == 2", b_y=2) is True    # UNKNOWN or True
    assert t("a.x == 1 or b.y == 2", b_y=3) is UNKNOWN
    assert t("not a.x") is UNKNOWN
    assert t("any(r.k == 1 for r in a.rs)", a_rs=[{"k": 2}, {}]) is UNKNOWN  # a record lacking a field
    assert t("any(r.k == 1 for r in a.rs)", a_rs=[{"k": 1}, {}]) is True
    assert t("all(r.k == 1 for r in a.rs)", a_rs=[{"k": 2}, {}]) is False
    assert t("a.d is None", a_d=None) is True and t("a.d is None") is UNKNOWN


def test_a_bad_item_file_is_refused_with_every_problem():
    item = registry()["elderly_allowance"]
    bad = dict(item.definition)
    bad["rules"] = [dict(r) for r in bad["rules"]]
    bad["rules"][1]["facts"] = ["person.hukou_region"]        # the condition also uses hall.region
    bad["rules"][2]["when"] = "applicant.age >= param.nope"   # no such parameter
    bad["rules"][3]["code"] = "DATA_UNAVAILABLE"              # reserved for unknowns
    with pytest.raises(ItemError) as err:
        build_item(bad)
    text = "; ".join(err.value.problems)
    assert "hall.region" in text and "param" in text and "DATA_UNAVAILABLE" in text


def test_the_docs_name_every_item_rule_code_and_parameter_and_the_readme_every_demo_id():
    from pathlib import Path

    from queue_server.approvals.demo import IDS, SHOWCASE

    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "approvals.md").read_text(encoding="utf-8")
    for code in ITEMS:
        item = registry()[code]
        assert f"`{code}`" in doc
        for rule in item.rules:
            assert f"`{rule.code}`" in doc and rule.text in doc, (code, rule.id)
        for name in item.parameters:
            assert f"`{name}`" in doc, (code, name)
    readme = (root / "README.md").read_text(encoding="utf-8")
    for _item, who, _shows in SHOWCASE:
        if who in IDS:
            assert IDS[who] in readme, who
