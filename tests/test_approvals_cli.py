"""`queue-server approvals check` and `approvals rerun`: every item checks clean; a case
re-runs to the same result from its record, and a tampered case record is caught."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from queue_server import create_app
from queue_server.cli import main
from queue_server.demo import make_hall
from tests.support.approvals import Api
from tests.support.queue import FakeClock


@pytest.fixture
def api(db, db_path):
    clock = FakeClock()
    made = make_hall(db, clock=clock, tokens=True, appointments=0)
    return Api(create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock}).test_client(), made["tokens"])


def test_check_prints_every_item_with_version_and_hash(db_path, api):
    r = CliRunner().invoke(main, ["approvals", "check", "--db", str(db_path)])
    assert r.exit_code == 0, r.output
    assert "✓ elderly_allowance" in r.output and "version 2026.1" in r.output
    assert "✗" not in r.output and "region (approvals.region): 370114" in r.output
    assert "source persons" in r.output and "local, 19 rows" in r.output


def test_check_needs_no_database_as_the_issue_and_readme_write_it(monkeypatch, tmp_path):
    """Audit: `queue-server approvals check` failed with "Missing option '--db'"."""
    monkeypatch.delenv("YICHUANG_DB_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["approvals", "check"])
    assert r.exit_code == 0, r.output
    assert "✓ elderly_allowance" in r.output and "✓ insurance_certificate" in r.output and "✗" not in r.output
    assert "data sources not checked" in r.output and "--db" in r.output
    assert "source persons" not in r.output and "region (approvals.region)" not in r.output
    assert list(tmp_path.iterdir()) == []  # no database was made on the way


def test_check_without_a_database_still_fails_a_broken_item(monkeypatch, tmp_path):
    from queue_server.approvals import items

    monkeypatch.delenv("YICHUANG_DB_PATH", raising=False)
    folder = tmp_path / "items"
    folder.mkdir()
    for path in items.item_files(items.ITEMS_DIR):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    broken = folder / "elderly_allowance.toml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("[[rules]]", "[[rules]]\nbogus = 1", 1),
                      encoding="utf-8")
    monkeypatch.setattr(items, "ITEMS_DIR", folder)
    r = CliRunner().invoke(main, ["approvals", "check"])
    assert r.exit_code == 1 and "✗ elderly_allowance" in r.output, r.output


def test_the_other_commands_still_need_the_database(monkeypatch, tmp_path):
    monkeypatch.delenv("YICHUANG_DB_PATH", raising=False)
    people = tmp_path / "people.json"
    people.write_text('{"persons": []}', encoding="utf-8")
    for args in (["approvals", "rerun", "SP20261125000001"], ["data", "load", str(people)]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2 and "Missing option '--db'" in r.output, (args, r.output)


def test_rerun_gives_the_same_result_from_the_record(db_path, api):
    numbers = [api.apply("elderly_allowance", w).json["case"] for w in ("elder_ok", "elder_young", "elder_unknown")]
    numbers.append(api.apply("insurance_certificate", "insured_recent",
                             inputs={"from_month": "2019-01", "to_month": "2022-12"}).json["case"])
    for number in numbers:
        r = CliRunner().invoke(main, ["approvals", "rerun", "--db", str(db_path), number])
        assert r.exit_code == 0, r.output
        assert "SAME result" in r.output and number in r.output
    r = CliRunner().invoke(main, ["approvals", "rerun", "--db", str(db_path), "--json", numbers[1]])
    data = json.loads(r.output)
    assert (data["recorded"], data["rerun"], data["same"], data["problems"]) == ("referred", "referred", True, [])


@pytest.mark.parametrize("tamper, problem", [
    (lambda f: {**f, "applicant.age": 81}, "applicant do not match"),          # facts changed after the fact
    (lambda f: {**f, "person.hukou_region": "370102"}, "persons do not match"),
])
def test_rerun_catches_a_tampered_case_record(db, db_path, api, tamper, problem):
    number = api.apply("elderly_allowance", "elder_young").json["case"]
    facts = json.loads(db.conn.execute("SELECT facts FROM approval_cases WHERE case_number = ?",
                                       (number,)).fetchone()[0])
    db.conn.execute("UPDATE approval_cases SET facts = ? WHERE case_number = ?", (json.dumps(tamper(facts)), number))
    r = CliRunner().invoke(main, ["approvals", "rerun", "--db", str(db_path), number])
    assert r.exit_code == 1 and "DIFFERENT result" in r.output and problem in r.output


def test_rerun_catches_a_decision_changed_in_the_case_table(db, db_path, api):
    number = api.apply("elderly_allowance", "elder_young").json["case"]
    db.conn.execute("UPDATE approval_cases SET decision = 'approved' WHERE case_number = ?", (number,))
    r = CliRunner().invoke(main, ["approvals", "rerun", "--db", str(db_path), number])
    assert r.exit_code == 1 and "differ from the audit record in decision" in r.output


def test_rerun_of_an_unknown_case_fails_plainly(db_path, api):
    r = CliRunner().invoke(main, ["approvals", "rerun", "--db", str(db_path), "SP20991231000001"])
    assert r.exit_code == 1 and "case_not_found" in r.output
