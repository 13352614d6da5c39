"""The licence register: the load file, versions, revocation, issuing from 秒批, the CLI and
the offline verifier."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from queue_server.cli import main
from queue_server.db import write_tx
from queue_server.errors import ValidationError
from queue_server.licences import identifier, register
from tests.support.licences import ISSUER, LIN, ZHANG, licence_file, licence_row, uscc
from tests.support.queue import ROOT

TODAY = "2026-11-25"


def count(db) -> int:
    return int(db.conn.execute("SELECT COUNT(*) FROM licences").fetchone()[0])


def test_a_load_builds_the_identifier_from_the_row(db):
    out = register.load(db, licence_file(licence_row(serial="20200000001", version=1)))
    assert out["new"] == 1
    row = register.get_row(db, out["ids"][0])
    assert row["identifier"] == identifier.build("11100000000014213W002", ISSUER, "20200000001", 1)
    assert identifier.is_valid(row["identifier"])
    assert (row["number_shown"], row["holder_id_masked"], row["holder_uscc"]) == (
        "1101**********0019", "1101**********0019", None)


@pytest.mark.parametrize("patch,field", [
    ({"holder_id": "110101198001160018"}, "holder_id"),          # GB 11643 check digit
    ({"issuer_uscc": "11370100004190567C"}, "issuer_uscc"),      # GB 32100 check character
    ({"holder_id_type": "passport"}, "holder_id_type"),
    ({"valid_to": "2019-01-01"}, "valid_to"),
    ({"issue_date": "2020-02-30"}, "issue_date"),
    ({"type_code": "dl.1"}, "type_code"),
    ({"type_name": None}, "type_name"),
    ({"version": 0}, "version"),
    ({"identifier": "1.2.156.3005.2.11100000000014213W002.11370100004190567B.1.001.X"}, "identifier"),
    ({"holder_id_type": "uscc"}, "holder_id"),                   # an ID number is not a USCC
])
def test_a_bad_row_refuses_the_whole_file_naming_row_and_field(db, patch, field):
    good = licence_row()
    bad = licence_row(number="B-2", **patch)
    if patch.get("type_name", 1) is None:
        del bad["type_name"]
    with pytest.raises(ValidationError) as err:
        register.load(db, licence_file(good, bad))
    assert err.value.code == "bad_licence_row"
    assert err.value.details["row"] == 2 and err.value.details["field"] == field
    assert "第 2 条" in err.value.zh and count(db) == 0


def test_a_file_must_hold_a_licences_list(db):
    for data in ([], {"licence": []}, {"licences": {}}):
        with pytest.raises(ValidationError) as err:
            register.load(db, data)
        assert err.value.code == "bad_licence_file"


def test_loading_again_changes_nothing_and_a_change_is_a_new_version(db):
    first = register.load(db, licence_file(licence_row()))
    assert register.load(db, licence_file(licence_row())) == {**first, "new": 0, "unchanged": 1}
    changed = register.load(db, licence_file(licence_row(fields={"准驾车型": "B2"})))
    assert changed["version"] == 1
    old, new = register.get_row(db, first["ids"][0]), register.get_row(db, changed["ids"][0])
    assert (old["status"], old["superseded_by"], new["version"], new["serial"]) == ("superseded", new["id"], 2,
                                                                                     old["serial"])
    assert new["identifier"].split(".")[-2] == "002"
    with pytest.raises(ValidationError) as err:
        register.load(db, licence_file(licence_row(version=1, fields={"准驾车型": "A1"})))
    assert err.value.details["field"] == "version"
    assert [i["type_name"] for i in register.for_holder(db, LIN, TODAY)] == ["机动车驾驶证"]


def test_a_company_licence_is_found_by_its_uscc_and_its_legal_representative(db):
    company = uscc("91370181MA3C1234X")
    register.load(db, licence_file(licence_row(type_code="11100000MB0143653F001", type_name="营业执照",
                                               number=company, holder_name="济南泉城数字科技有限公司",
                                               holder_id_type="uscc", holder_id=company, legal_rep_id=LIN)))
    assert [i["type_name"] for i in register.for_holder(db, company, TODAY)] == ["营业执照"]
    assert [i["type_name"] for i in register.for_holder(db, LIN, TODAY)] == ["营业执照"]
    assert register.for_holder(db, ZHANG, TODAY) == []


def test_issue_licence_for_an_approval_runs_in_the_callers_transaction(db):
    with write_tx(db) as conn:
        out = register.issue_licence(
            conn, type_code="11100000000013452Q001", type_name="高龄津贴资格确认", number="GL2026000001",
            holder_name="王秀兰", holder_id_type="id_card", holder_id="370181195003121239",
            issuer_name="济南市章丘区民政局", issuer_uscc=uscc("11370181004198765"), issue_date="2026-11-25",
            valid_from="2026-11-25", valid_to=None, case="SP20261125000001")
    assert out["outcome"] == "new" and identifier.is_valid(out["identifier"])
    row = register.get_row(db, out["id"])
    assert (row["source"], row["case_number"], row["valid_to"]) == ("approval", "SP20261125000001", None)
    with pytest.raises(ValidationError) as err, write_tx(db) as conn:
        register.issue_licence(conn, type_code="X1", type_name="t", number="1", holder_name="n",
                               holder_id_type="id_card", holder_id="123", issuer_name="i",
                               issuer_uscc=ISSUER, issue_date="2026-11-25", valid_from="2026-11-25", valid_to=None)
    assert err.value.code == "bad_licence" and err.value.details["field"] == "holder_id"


def test_revoke_needs_a_reason_and_a_valid_licence(db):
    lid = register.load(db, licence_file(licence_row()))["ids"][0]
    with pytest.raises(ValidationError):
        register.revoke(db, str(lid), " ")
    assert register.revoke(db, str(lid), "吊销")["status"] == "revoked"
    from queue_server.errors import Conflict

    with pytest.raises(Conflict):
        register.revoke(db, str(lid), "again")


# --- CLI and offline verifier -----------------------------------------------------------------


def test_cli_load_list_revoke_and_keys(tmp_path):
    db = str(tmp_path / "hall.db")
    f = tmp_path / "licences.json"
    f.write_text(json.dumps(licence_file(licence_row(), licence_row(number="X-2", holder_id=ZHANG,
                                                                    holder_name="张三"))), encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(main, ["licences", "load", "--db", db, str(f)])
    assert r.exit_code == 0 and "2 new" in r.output
    r = runner.invoke(main, ["licences", "load", "--db", db, str(f)])
    assert "2 unchanged" in r.output
    listing = runner.invoke(main, ["licences", "list", "--db", db])
    assert "1101**********0019" in listing.output and "林*努" in listing.output and LIN not in listing.output
    r = runner.invoke(main, ["licences", "revoke", "--db", db, "1", "--reason", "吊销"])
    assert r.exit_code == 0 and "revoked 1" in r.output
    as_json = json.loads(runner.invoke(main, ["licences", "list", "--db", db, "--json"]).output)
    assert {x["id"]: x["status"] for x in as_json} == {1: "revoked", 2: "valid"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(licence_file(licence_row(number="Y", issuer_uscc="123"))), encoding="utf-8")
    r = runner.invoke(main, ["licences", "load", "--db", db, str(bad)])
    assert r.exit_code == 1 and "issuer_uscc" in r.output and "bad_licence_row" in r.output
    r = runner.invoke(main, ["licences", "keys", "list", "--db", db])
    assert "EdDSA" in r.output and "current" in r.output
    r = runner.invoke(main, ["licences", "keys", "rotate", "--db", db, "--retire-after", "600"])
    assert r.exit_code == 0 and "verifies until" in r.output
    doc = json.loads(runner.invoke(main, ["licences", "keys", "export", "--db", db]).output)
    assert len(doc["keys"]) == 2 and "not_after" in doc["keys"][1]


def test_the_offline_verifier_needs_only_the_keys_document(tmp_path, db_path):
    from queue_server.licences import showing
    from queue_server.licences.keys import keys_document
    from queue_server.migrations import open_db

    db = open_db(db_path)
    lid = register.load(db, licence_file(licence_row()))["ids"][0]
    qr = showing.present(db, lid, holder_id_number=LIN, method="face", score=None, purpose=1,
                         kiosk="token:kiosk-01")["qr"]
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(keys_document(db)), encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "queue_server.licences", "verify", *args,
                               "--keys", str(keys_file)], cwd=str(ROOT), capture_output=True, text=True, timeout=60)

    ok = run(qr)
    assert ok.returncode == 0, ok.stderr
    assert "VALID" in ok.stdout and "窗口核验" in ok.stdout and "as of the keys file's date" in ok.stdout
    as_json = json.loads(run(qr, "--json").stdout)
    assert as_json["reason"] == "ok" and as_json["status_checked"] is False and as_json["holder_masked"] == "林*努"
    assert json.loads(run(qr[:-3] + "AAA", "--json").stdout)["reason"] in ("bad_signature", "bad_format")
    late = run(qr, "--json", "--at", str(json.loads(run(qr, "--json").stdout)["exp"] + 31))
    assert late.returncode == 1 and json.loads(late.stdout)["reason"] == "expired"
