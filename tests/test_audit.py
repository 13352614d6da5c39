"""The audit trail: append-only, hash-chained, written with the change it records."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import ClassVar

import pytest
from click.testing import CliRunner

from queue_server import create_app
from queue_server.audit import append, head, verify
from queue_server.audit.records import RECORD_TYPES, IdentityChecked, SettingChanged, record_type
from queue_server.auth import create_token, create_user, revoke_tokens_named
from queue_server.cli import main
from queue_server.db import write_tx
from queue_server.settings import set_setting


def kinds(db) -> list[str]:
    return [r[0] for r in db.conn.execute("SELECT kind FROM audit ORDER BY id")]


def test_staff_changes_are_audited_with_before_and_after(db):
    set_setting(db, "max_wait_minutes", 30, actor="user:7")
    token = create_token(db, "kiosk", "kiosk-09", actor="cli")
    assert token
    revoke_tokens_named(db, "kiosk-09", actor="cli")
    create_user(db, "clerk9", "secret99", display_name="周小红", role="clerk", actor="cli")
    rows = db.conn.execute("SELECT kind, actor, data FROM audit ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["setting.changed", "token.created", "token.revoked", "user.created"]
    assert rows[0][1] == "user:7" and '"after":30' in rows[0][2] and '"before":45' in rows[0][2]
    # No personal data: the clerk's real name is nowhere in the chain.
    assert all("周小红" not in r[2] for r in rows)
    assert verify(db).ok and verify(db).rows == 4


def test_an_unchanged_setting_writes_no_record(db):
    set_setting(db, "notice", "今天下午停电检修")
    set_setting(db, "notice", "今天下午停电检修")
    assert kinds(db) == ["setting.changed"]


def test_the_id_hash_key_is_not_a_setting(db):
    from queue_server.errors import ValidationError

    with pytest.raises(ValidationError) as exc:
        set_setting(db, "id_salt", "s3cret-salt")
    assert exc.value.code == "unknown_setting"
    assert db.conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == 0


def test_the_audit_table_refuses_update_and_delete(db):
    set_setting(db, "max_wait_minutes", 30)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.conn.execute("UPDATE audit SET data = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.conn.execute("DELETE FROM audit")


def test_verify_catches_a_row_edited_behind_the_triggers_back(db, db_path):
    for minutes in (30, 31, 32):
        set_setting(db, "max_wait_minutes", minutes)
    assert verify(db).ok
    db.conn.execute("DROP TRIGGER audit_no_update")
    db.conn.execute("UPDATE audit SET data = replace(data, '31', '99') WHERE id = 2")
    result = verify(db)
    assert not result.ok and result.bad_id == 2 and result.head.id == 1
    r = CliRunner().invoke(main, ["audit", "verify", "--db", str(db_path)])
    assert r.exit_code == 1 and "record 2" in r.output


def test_verify_catches_a_removed_row(db, db_path):
    for minutes in (30, 31, 32):
        set_setting(db, "max_wait_minutes", minutes)
    db.conn.execute("DROP TRIGGER audit_no_delete")
    db.conn.execute("DELETE FROM audit WHERE id = 2")
    result = verify(db)
    assert not result.ok and result.bad_id == 2


def test_verify_prints_the_chain_head(db, db_path):
    set_setting(db, "max_wait_minutes", 30)
    r = CliRunner().invoke(main, ["audit", "verify", "--db", str(db_path)])
    h = head(db)
    assert r.exit_code == 0 and f"head {h.id} {h.hash}" in r.output and len(h.hash) == 64


def test_a_record_rolls_back_with_its_change(db):
    with pytest.raises(RuntimeError):
        with write_tx(db) as conn:
            append(conn, SettingChanged(setting="x", before=1, after=2), actor="system")
            raise RuntimeError("the change failed")
    assert kinds(db) == []


def test_append_outside_a_transaction_is_refused(db):
    with pytest.raises(RuntimeError):
        append(db.conn, SettingChanged(setting="x", before=1, after=2), actor="system")


def test_a_record_kind_with_a_personal_field_cannot_be_declared():
    from queue_server.audit.records import AuditRecord

    with pytest.raises(ValueError, match="personal"):
        @record_type
        @dataclass(frozen=True)
        class Leaky(AuditRecord):
            kind: ClassVar[str] = "test.leaky"
            id_number: str
    assert "test.leaky" not in RECORD_TYPES


@pytest.fixture
def api(db_path, db):
    from queue_server.demo import make_hall

    made = make_hall(db, tokens=True, appointments=0)
    app = create_app({"DB_PATH": str(db_path), "TESTING": True})
    return app.test_client(), made


def test_kiosks_post_identity_checks_to_the_audit(api, db):
    client, made = api
    h = {"Authorization": f"Bearer {made['tokens']['kiosk']}"}
    r = client.post("/api/audit/identity-checks", headers=h, json={
        "method": "face", "result": "pass", "purpose": "priority_ticket", "score": 0.71, "threshold": 0.363,
        "liveness": "pass", "model": "sface-2021dec-int8bq", "attempts": 1, "checked_at": 1764000000.0})
    assert r.status_code == 201
    rec = db.conn.execute("SELECT kind, actor, data FROM audit WHERE id = ?", (r.json["id"],)).fetchone()
    assert rec[0] == IdentityChecked.kind and rec[1].startswith("token:")
    assert '"score":0.71' in rec[2] and '"kiosk":' in rec[2]


@pytest.mark.parametrize("body, code", [
    ({"result": "pass"}, "missing_field"),
    ({"method": "iris", "result": "pass"}, "bad_identity_check"),
    ({"method": "face", "result": "maybe"}, "bad_identity_check"),
    ({"method": "face", "result": "pass", "score": "high"}, "bad_field"),
])
def test_bad_identity_checks_are_refused_and_nothing_is_written(api, db, body, code):
    client, made = api
    before = db.conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    r = client.post("/api/audit/identity-checks", json=body,
                    headers={"Authorization": f"Bearer {made['tokens']['kiosk']}"})
    assert r.status_code == 422 and r.json["error"]["code"] == code
    assert db.conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == before


def test_displays_cannot_write_the_audit_and_only_admins_read_it(api):
    client, made = api
    r = client.post("/api/audit/identity-checks", json={"method": "face", "result": "pass"},
                    headers={"Authorization": f"Bearer {made['tokens']['display']}"})
    assert r.status_code == 403
    r = client.get("/api/audit", headers={"Authorization": f"Bearer {made['tokens']['kiosk']}"})
    assert r.status_code == 403
    r = client.get("/api/audit?kind=setting.changed", headers={"Authorization": f"Bearer {made['tokens']['admin']}"})
    assert r.status_code == 200 and all(x["kind"] == "setting.changed" for x in r.json["records"])
