"""秒批 rule sets from the city hub (queue_server/approvals/manifest.py): a hub-signed
``rule_set`` manifest is verified by the hall's uplink, checked as ``queue-server approvals
check`` checks, and put in force in one transaction — the kiosk's item list and the next
decision follow it; one that fails the checks is refused, logged and reported, and the
rules in force stay."""

from __future__ import annotations

import json
import time
import tomllib

import pytest

from queue_server import create_app
from queue_server.approvals import service
from queue_server.approvals.items import ITEMS_DIR, registry
from queue_server.approvals.manifest import in_force
from queue_server.uplink import manifests
from queue_server.uplink.setup import configure
from tests.support.approvals import Api
from tests.support.queue import hall_time
from yichuang import citylink

HUB = citylink.new_private_key()
HUB_PUB = citylink.public_of(HUB)

#: 高龄津贴 from 75 instead of 80, from 2027 on (after every named case's date: they still hold).
FROM_2027 = {"format": 1, "items": [{
    "code": "elderly_allowance", "version": "2026.2",
    "parameters": {"min_age": {"values": [{"since": "2027-01-01", "value": 75}],
                               "reference": "本地高龄津贴实施办法（2027 年修订）：75 周岁起享受"}}}]}


@pytest.fixture
def api(db_path, db, hall, clock):
    configure(db, "http://127.0.0.1:9", "hall-a", citylink.new_private_key(), HUB_PUB)
    app = create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock})
    return Api(app.test_client(), hall["tokens"])


def _accept(db, version: int, content, key: str = HUB) -> str:
    return manifests.accept(db, HUB_PUB, citylink.sign_manifest(key, "rule_set", version, content, time.time()))


def _listed(api, code: str = "elderly_allowance") -> dict:
    r = api.call("GET", "/api/approvals/items", "kiosk")
    assert r.status_code == 200
    return next(i["ruleset"] for i in r.json if i["code"] == code)


def _applied(db) -> list[tuple]:
    return [tuple(r) for r in db.conn.execute("SELECT code, version, hash FROM approval_items_applied ORDER BY code")]


def _toml(name: str) -> dict:
    with open(ITEMS_DIR / name, "rb") as fh:
        return tomllib.load(fh)


def test_a_signed_rule_set_puts_new_parameter_values_in_force(api, db, clock):
    package = registry()["elderly_allowance"]
    assert _listed(api) == {"version": "2026.1", "hash": package.hash}
    assert _accept(db, 1, FROM_2027) == "applied"
    listed = _listed(api)
    assert listed["version"] == "2026.2" and listed["hash"] != package.hash
    assert _applied(db) == [("elderly_allowance", "2026.2", listed["hash"])]
    assert registry()["elderly_allowance"].hash == package.hash  # outside a request: the package's
    assert in_force(db)["elderly_allowance"].parameters["min_age"].values == (("2013-07-01", 80), ("2027-01-01", 75))

    clock.t = hall_time("2027-01-05", "10:00")  # 李德胜, born 1950-08-15: 76
    r = api.apply("elderly_allowance", "elder_young")
    assert r.status_code == 201, r.json
    assert r.json["decision"] == "approved" and r.json["ruleset"] == listed
    again = service.rerun(db, r.json["case"])  # the decision re-runs from the stored rule set
    assert again["same"] and again["ruleset"]["hash"] == listed["hash"]

    [rec] = [json.loads(r[0]) for r in db.conn.execute(
        "SELECT data FROM audit WHERE kind = 'approval.rule_set_applied'")]
    assert rec["items"] == [{"code": "elderly_allowance", "version": "2026.2", "hash": listed["hash"],
                             "previous_version": "2026.1", "previous_hash": package.hash}]
    assert db.conn.execute("SELECT 1 FROM approval_rulesets WHERE hash = ?", (listed["hash"],)).fetchone()


def test_before_the_new_date_the_old_value_still_decides(api, db, clock):
    assert _accept(db, 1, FROM_2027) == "applied"
    clock.t = hall_time("2026-12-31", "10:00")
    r = api.apply("elderly_allowance", "elder_young")
    assert r.json["decision"] == "referred"
    assert [(x["rule"], x["code"]) for x in r.json["reasons"]] == [("R2", "AGE_BELOW_MIN")]


def _refusal(db, version: int) -> str:
    return db.conn.execute("SELECT reason FROM uplink_manifest_log WHERE kind = 'rule_set' AND version = ? "
                           "AND result = 'refused'", (version,)).fetchone()[0]


def test_a_rule_set_that_fails_the_checks_is_refused_and_the_rules_in_force_stay(api, db):
    assert _accept(db, 1, FROM_2027) == "applied"
    in_force_before, listed = _applied(db), _listed(api)
    audit_before = db.conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]

    # 75 from 2026-11-01: the named case "79: age below the minimum" (2026-12-02) would approve
    retro = {"items": [{"code": "elderly_allowance", "version": "2026.3",
                        "parameters": {"min_age": {"values": [{"since": "2026-11-01", "value": 75}]}}}]}
    out = _accept(db, 2, retro)
    assert out.startswith("refused:apply_failed: bad_rule_set") and "79: age below the minimum" in out
    # other content under the version in force
    same_version = {"items": [{"code": "elderly_allowance", "version": "2026.2",
                               "parameters": {"min_age": {"values": [{"since": "2027-01-01", "value": 70}]}}}]}
    assert "content changed without a new version" in _accept(db, 3, same_version)
    # a rule on a parameter the item does not declare
    broken = _toml("elderly_allowance.toml")
    broken["version"] = "2026.9"
    broken["rules"][2]["when"] = "applicant.age >= param.no_such_parameter"
    assert "parameter no_such_parameter is not declared" in _accept(db, 4, {"items": [{"definition": broken}]})
    # a new item without its cases, and content that is not a rule set at all
    new = _toml("elderly_allowance.toml") | {"code": "elderly_allowance_b"}
    assert "no cases" in _accept(db, 5, {"items": [{"definition": new}]})
    assert _accept(db, 6, {"set": "x", "rules": ["age>=18"]}).startswith("refused:apply_failed: bad_rule_set")

    assert _applied(db) == in_force_before and _listed(api) == listed  # nothing changed
    assert manifests.held(db)["rule_set"]["version"] == 1
    assert "79: age below the minimum" in _refusal(db, 2)
    refused = [r for r in manifests.unreported(db) if r["result"] == "refused"]
    assert [r["version"] for r in refused] == [2, 3, 4, 5, 6]  # reported to the hub with the next batch
    added = [json.loads(r[0]) for r in db.conn.execute("SELECT data FROM audit ORDER BY id")][audit_before:]
    assert [(a["version"], a["result"]) for a in added] == [(v, "refused") for v in (2, 3, 4, 5, 6)]


def test_a_bad_signature_is_refused_before_any_check(api, db):
    out = _accept(db, 1, FROM_2027, key=citylink.new_private_key())
    assert out == "refused:wrong_key" and _applied(db) == []


def test_a_whole_new_item_with_its_cases_is_applied(api, db):
    definition = _toml("elderly_allowance.toml") | {"code": "elderly_allowance_b", "name": "高龄津贴申请（乙）",
                                                    "order": 99}
    cases = _toml("elderly_allowance.cases.toml") | {"item": "elderly_allowance_b"}
    assert _accept(db, 1, {"items": [{"definition": definition, "cases": cases}]}) == "applied"
    r = api.call("GET", "/api/approvals/items", "kiosk")
    new = next(i for i in r.json if i["code"] == "elderly_allowance_b")
    assert new["name"] == "高龄津贴申请（乙）" and new["ruleset"]["version"] == "2026.1"
    assert json.loads(db.conn.execute("SELECT cases FROM approval_items_applied WHERE code = 'elderly_allowance_b'"
                                      ).fetchone()[0]) == cases
    # later a parameter change of that item: checked with the cases it came with
    more = {"items": [{"code": "elderly_allowance_b", "version": "2026.2",
                       "parameters": {"min_age": {"values": [{"since": "2026-11-01", "value": 75}]}}}]}
    assert "79: age below the minimum" in _accept(db, 2, more)
    assert _accept(db, 3, FROM_2027) == "applied"  # the package item beside it
    assert [a[0:2] for a in _applied(db)] == [("elderly_allowance", "2026.2"), ("elderly_allowance_b", "2026.1")]


def test_the_same_rules_again_change_nothing(api, db):
    assert _accept(db, 1, FROM_2027) == "applied"
    applied_at = db.conn.execute("SELECT applied_at FROM approval_items_applied").fetchone()[0]
    again = {**FROM_2027, "note": "republished"}
    assert _accept(db, 2, again) == "applied"
    assert db.conn.execute("SELECT applied_at FROM approval_items_applied").fetchone()[0] == applied_at
    assert db.conn.execute("SELECT COUNT(*) FROM audit WHERE kind = 'approval.rule_set_applied'").fetchone()[0] == 1


def test_approvals_check_with_the_database_names_the_rule_sets_the_hub_put_in_force(api, db, db_path):
    from click.testing import CliRunner

    from queue_server.cli import main

    assert _accept(db, 1, FROM_2027) == "applied"
    out = CliRunner().invoke(main, ["approvals", "check", "--db", str(db_path)])
    assert out.exit_code == 0, out.output
    [line] = [ln for ln in out.output.splitlines() if ln.strip().startswith("elderly_allowance") and "applied" in ln]
    assert "version 2026.2" in line and _applied(db)[0][2] in line
    assert "city hub's rule_set manifests" in out.output
