"""The 差评 reason list from the city hub (queue_server/evaluations/manifest.py): a
hub-signed ``evaluation_reasons`` manifest becomes the current version at the hall, the same
list again changes nothing, a bad list or a version the hall already has is refused and the
current list stays."""

from __future__ import annotations

import json
import time

import pytest

from queue_server import create_app
from queue_server.evaluations.reasons import reason_list
from queue_server.uplink import manifests
from queue_server.uplink.setup import configure
from yichuang import citylink

HUB = citylink.new_private_key()
HUB_PUB = citylink.public_of(HUB)

PROVINCE_2027 = {"version": "2027.1", "source": "省政务服务评价办法（2027）",
                 "reasons": [{"code": "attitude", "name": "服务态度差", "name_en": "Poor attitude"},
                             {"code": "slow", "name": "办理慢", "name_en": "Slow"},
                             {"code": "told_twice", "name": "未一次性告知", "name_en": "Not told at once"}]}


@pytest.fixture
def linked(db, hall):
    configure(db, "http://127.0.0.1:9", "hall-a", citylink.new_private_key(), HUB_PUB)
    return db


def _accept(db, version: int, content, key: str = HUB) -> str:
    m = citylink.sign_manifest(key, "evaluation_reasons", version, content, time.time())
    return manifests.accept(db, HUB_PUB, m)


def test_a_signed_reason_list_becomes_the_current_version(linked, db_path, hall):
    assert reason_list(linked)["version"] == "2026.1"
    assert _accept(linked, 1, PROVINCE_2027) == "applied"
    assert reason_list(linked) == {"version": "2027.1", "reasons": PROVINCE_2027["reasons"]}
    app = create_app({"DB_PATH": str(db_path), "TESTING": True})
    r = app.test_client().get("/api/evaluations/reasons", headers={"Authorization": f"Bearer {hall['tokens']['kiosk']}"})
    assert r.status_code == 200 and r.json["version"] == "2027.1" and [x["code"] for x in r.json["reasons"]] == [
        "attitude", "slow", "told_twice"]
    [rec] = [(json.loads(r[0]), r[1]) for r in linked.conn.execute(
        "SELECT data, actor FROM audit WHERE kind = 'evaluations.reasons_imported'")]
    assert rec == ({"version": "2027.1", "codes": ["attitude", "slow", "told_twice"], "previous": "2026.1"}, "uplink")


def test_the_same_list_again_changes_nothing_and_a_bad_one_is_refused(linked):
    assert _accept(linked, 1, PROVINCE_2027) == "applied"
    assert _accept(linked, 2, {**PROVINCE_2027, "source": "republished"}) == "applied"  # same version and reasons
    versions = linked.conn.execute("SELECT COUNT(*) FROM evaluation_reason_versions").fetchone()[0]
    assert versions == 2
    duplicate = {"version": "2027.2", "reasons": PROVINCE_2027["reasons"] * 2}
    assert _accept(linked, 3, duplicate).startswith("refused:apply_failed: bad_reason_list")
    other = {**PROVINCE_2027, "reasons": PROVINCE_2027["reasons"][:1]}  # 2027.1 with other reasons
    assert _accept(linked, 4, other).startswith("refused:apply_failed: bad_reason_list")
    back = {"version": "2026.1", "reasons": PROVINCE_2027["reasons"]}  # a version the hall already has
    assert _accept(linked, 5, back).startswith("refused:apply_failed: bad_reason_list")
    assert _accept(linked, 6, PROVINCE_2027, key=citylink.new_private_key()) == "refused:wrong_key"
    assert reason_list(linked)["version"] == "2027.1"
    assert linked.conn.execute("SELECT COUNT(*) FROM evaluation_reason_versions").fetchone()[0] == versions
    assert manifests.held(linked)["evaluation_reasons"]["version"] == 2
    assert [r["version"] for r in manifests.unreported(linked) if r["result"] == "refused"] == [3, 4, 5, 6]
