"""Licences across halls without a hub: hall A's report (keys and revoked handles), the
trust list applied in hall B through the uplink's manifest machinery (content checked,
last good list kept, own keys untouched), hall B verifying A's tokens (ok, revoked as of
the list, replayed in B, unknown hall, expired, retired key), the offline verifier with
the trust list, and the shared-kid choice."""

from __future__ import annotations

import copy
import json
import time

import pytest

from queue_server import create_app
from queue_server.audit.chain import recent
from queue_server.db import connect
from queue_server.demo import make_hall
from queue_server.licences import keys, register, token, trust, trustlist
from queue_server.licences.__main__ import main as offline_main
from queue_server.migrations import open_db
from queue_server.uplink import manifests
from queue_server.uplink.setup import configure
from tests.support.licences import Api, licence_file, licence_ids, licence_row
from tests.support.queue import FakeClock
from yichuang import citylink

HUB = citylink.new_private_key()
HUB_PUB = citylink.public_of(HUB)
LICENCE_FIELDS = {"type", "type_name", "number", "holder_masked", "issuer", "valid_to", "status"}



def _hall(path, code: str, clock: FakeClock) -> tuple[Api, object, dict]:
    open_db(path).conn.close()
    db = connect(path)
    made = make_hall(db, clock=clock, tokens=True, appointments=0, licences=True)
    configure(db, "http://127.0.0.1:9", code, citylink.new_private_key(), HUB_PUB)
    app = create_app({"DB_PATH": str(path), "TESTING": True, "CLOCK": clock})
    return Api(app.test_client(), made["tokens"]), db, made


@pytest.fixture
def halls(tmp_path, clock):
    keys.forget()
    trust.forget()
    a_api, a_db, _ = _hall(tmp_path / "a.db", "hall-a", clock)
    b_api, b_db, _ = _hall(tmp_path / "b.db", "hall-b", clock)
    yield {"a": a_api, "a_db": a_db, "b": b_api, "b_db": b_db}
    a_db.conn.close()
    b_db.conn.close()


def trust_content(clock: FakeClock, *halls: tuple[str, str, dict]) -> dict:
    """What the hub assembles from halls' reports: (code, name, report)."""
    return {"format": 1, "generated_at": int(clock()),
            "halls": [{"hall": code, "name": name, **part} for code, name, part in halls]}


def send_list(db, content: dict, version: int) -> str:
    m = citylink.sign_manifest(HUB, citylink.TRUST_LIST_KIND, version, content, time.time())
    return manifests.accept(db, HUB_PUB, m)


def present(api: Api, licence: str = "机动车驾驶证", purpose: int = 1) -> dict:
    r = api.present(licence_ids(api)[licence], purpose=purpose)
    assert r.status_code == 201, r.json
    return r.json


def test_a_token_of_hall_a_verifies_in_hall_b_after_the_trust_list(halls, clock):
    a, b = halls["a"], halls["b"]
    shown = present(a)
    assert b.verify(shown["qr"]).json["reason"] == "unknown_key"  # B has not heard of A's key yet
    part = trust.report(halls["a_db"], clock())
    assert [k["kid"] for k in part["keys"]] == [k["kid"] for k in a.get("/api/licences/keys").json["keys"]]
    assert part["revoked"] == []  # nothing revoked: no handle at all leaves hall A
    assert send_list(halls["b_db"], trust_content(clock, ("hall-a", "A 厅", part)), 1) == "applied"

    res = b.verify(shown["qr"], purpose=1)
    assert res.status_code == 200
    body = res.json
    assert body["valid"] is True and body["reason"] == "ok"
    assert body["status_as_of"] == int(clock()) and body["purpose"] == 1
    lic = body["licence"]
    assert LICENCE_FIELDS <= set(lic)
    assert lic == {"type": None, "type_name": None, "number": None, "holder_masked": "林*努", "issuer": None,
                   "valid_to": None, "status": "valid", "issuer_hall": "hall-a", "issuer_hall_name": "A 厅"}
    again = b.verify(shown["qr"]).json
    assert again["reason"] == "replayed" and again["first_verified"]["at"] == clock()
    # A still accepts it once: replay is each hall's own log (docs/licences.md says so).
    assert a.verify(shown["qr"]).json["reason"] == "ok"
    # B's 用证 log and audit name the issuing hall, never a licence of B's.
    check = halls["b_db"].conn.execute("SELECT reason, licence_id, issuer_hall FROM licence_checks "
                                       "ORDER BY id DESC LIMIT 1").fetchone()
    assert tuple(check) == ("replayed", None, "hall-a")
    rec = recent(halls["b_db"], kind="licence.verified", limit=1)[0]
    assert rec["data"]["issuer_hall"] == "hall-a" and rec["data"]["result"] == "replayed"
    applied = recent(halls["b_db"], kind="licence.trust_applied", limit=1)[0]
    assert applied["data"]["halls"] == 1 and applied["data"]["keys"] == len(part["keys"])


def test_a_wrong_purpose_or_an_expired_token_of_hall_a(halls, clock):
    a, b = halls["a"], halls["b"]
    shown = present(a, purpose=2)
    send_list(halls["b_db"], trust_content(clock, ("hall-a", "A 厅", trust.report(halls["a_db"], clock()))), 1)
    assert b.verify(shown["qr"], purpose=1).json["reason"] == "wrong_purpose"
    late = present(a)
    clock.advance(120 + 31)
    res = b.verify(late["qr"]).json
    assert res["reason"] == "expired" and res["licence"]["issuer_hall"] == "hall-a"


def test_a_licence_revoked_in_a_answers_revoked_in_b_after_the_next_list(halls, clock):
    a, b, a_db = halls["a"], halls["b"], halls["a_db"]
    shown = present(a)
    other = present(a, "社会保障卡")
    send_list(halls["b_db"], trust_content(clock, ("hall-a", "A 厅", trust.report(a_db, clock()))), 1)
    register.revoke(a_db, str(licence_ids(a)["机动车驾驶证"]), "吊销", now=clock())
    part = trust.report(a_db, clock())
    handle = token.b64u(token.decode(shown["qr"]).claims.handle)
    assert [(r["handle"], r["status"]) for r in part["revoked"]] == [(handle, "revoked")]
    # until: the session could get tokens for 30 minutes; the last one lives 120 s (+ skew, margin)
    assert part["revoked"][0]["until"] == int(clock()) + 30 * 60 + 120 + 30 + trust.UNTIL_MARGIN
    clock.advance(2)
    assert send_list(halls["b_db"], trust_content(clock, ("hall-a", "A 厅", part)), 2) == "applied"
    res = b.verify(shown["qr"]).json
    assert res["valid"] is False and res["reason"] == "revoked"
    assert res["licence"]["status"] == "revoked" and res["status_as_of"] == int(clock())
    assert a.verify(shown["qr"]).json["reason"] == "revoked"
    assert b.verify(other["qr"]).json["reason"] == "ok"  # another licence of the same holder is fine
    # Once no token of that session can pass the time check, the entry leaves the report.
    clock.advance(30 * 60 + 120 + 30 + trust.UNTIL_MARGIN + 1)
    assert trust.report(a_db, clock())["revoked"] == []


def test_a_superseded_licence_is_reported_and_an_ended_session_leaves_sooner(halls, clock):
    a, a_db = halls["a"], halls["a_db"]
    shown = present(a)
    ended = a.post(f"/api/licences/presentations/{shown['presentation']}/end", "kiosk")
    assert ended.status_code == 200
    assert register.load(a_db, licence_file(licence_row(version=2, fields={"准驾车型": "C1E"})))["version"] == 1
    part = trust.report(a_db, clock())
    assert [r["status"] for r in part["revoked"]] == ["superseded"]
    assert part["revoked"][0]["until"] == int(clock()) + 120 + 30 + trust.UNTIL_MARGIN  # ended: its last token


def test_a_hall_that_never_showed_a_licence_reports_no_key_and_makes_none(tmp_path, clock):
    open_db(tmp_path / "c.db").conn.close()
    db = connect(tmp_path / "c.db")
    try:
        make_hall(db, clock=clock, appointments=0)
        assert trust.report(db, clock()) == {"keys": [], "revoked": []}
        assert db.conn.execute("SELECT COUNT(*) FROM licence_keys").fetchone()[0] == 0
    finally:
        db.conn.close()


def test_own_entries_are_skipped_and_own_tokens_keep_their_full_answer(halls, clock):
    b, b_db = halls["b"], halls["b_db"]
    mine = present(b)
    content = trust_content(clock, ("hall-a", "A 厅", trust.report(halls["a_db"], clock())),
                            ("hall-b", "B 厅", trust.report(b_db, clock())),
                            ("hall-b2", "B under another code", trust.report(b_db, clock())))
    assert send_list(b_db, content, 1) == "applied"
    halls_held = {r[0] for r in b_db.conn.execute("SELECT DISTINCT hall FROM licence_trusted_keys")}
    assert halls_held == set()  # A had no key yet; B's own keys are never stored as trusted
    res = b.verify(mine["qr"]).json
    assert res["reason"] == "ok" and res["licence"]["type_name"] == "机动车驾驶证" and "status_as_of" not in res
    cols = {r[1] for r in b_db.conn.execute("PRAGMA table_info(licence_trusted_keys)")}
    assert not any("private" in c for c in cols)
    assert [k["kid"] for k in b.get("/api/licences/keys").json["keys"]] == [k["kid"] for k in
                                                                           trust.report(b_db, clock())["keys"]]


def test_a_hall_not_in_the_list_and_a_retired_key_stay_unknown(halls, clock):
    a, b, a_db = halls["a"], halls["b"], halls["a_db"]
    shown = present(a)
    send_list(halls["b_db"], trust_content(clock, ("hall-a", "A 厅", trust.report(a_db, clock()))), 1)
    stranger = token.Ed25519Signer.from_seed(b"\x07" * 32)
    forged = token.encode(token.decode(shown["qr"]).claims, stranger)
    assert b.verify(forged).json["reason"] == "unknown_key"
    # A rotates with its old key retired in 60 s; the list says so; after that, unknown.
    keys.rotate(a_db, retire_after=60, now=clock())
    send_list(halls["b_db"], trust_content(clock, ("hall-a", "A 厅", trust.report(a_db, clock()))), 2)
    fresh = present(a)
    assert b.verify(fresh["qr"]).json["reason"] == "ok"
    clock.advance(61)
    assert b.verify(shown["qr"]).json["reason"] == "unknown_key"
    assert b.verify(present(a)["qr"]).json["reason"] == "ok"


BAD_CONTENTS = {
    "not a list": lambda c: {**c, "halls": "hall-a"},
    "no date": lambda c: {k: v for k, v in c.items() if k != "generated_at"},
    "wrong format": lambda c: {**c, "format": 2},
    "hall twice": lambda c: {**c, "halls": c["halls"] * 2},
    "bad hall code": lambda c: {**c, "halls": [{**c["halls"][0], "hall": "a b"}]},
    "kid not of its key": lambda c: _edit_key(c, kid="AAAAAA"),
    "short x": lambda c: _edit_key(c, x="AAAA"),
    "unknown alg": lambda c: _edit_key(c, alg="RS256"),
    "long handle": lambda c: _edit_revoked(c, handle=token.b64u(b"x" * 11)),
    "padded handle": lambda c: _edit_revoked(c, handle="AAAAAAAAAAA="),
    "odd status": lambda c: _edit_revoked(c, status="lost"),
    "no until": lambda c: _edit_revoked(c, until=None),
}


def _edit_key(content: dict, **over) -> dict:
    c = copy.deepcopy(content)
    c["halls"][0]["keys"][0].update(over)
    return c


def _edit_revoked(content: dict, **over) -> dict:
    c = copy.deepcopy(content)
    c["halls"][0]["revoked"][0].update(over)
    return c


def test_a_malformed_list_is_refused_and_the_last_good_one_stays(halls, clock):
    a, b, a_db, b_db = halls["a"], halls["b"], halls["a_db"], halls["b_db"]
    shown = present(a)
    present(a, "社会保障卡")
    register.revoke(a_db, str(licence_ids(a)["社会保障卡"]), "注销", now=clock())
    good = trust_content(clock, ("hall-a", "A 厅", trust.report(a_db, clock())))
    assert good["halls"][0]["keys"] and good["halls"][0]["revoked"]
    assert send_list(b_db, good, 1) == "applied"
    before = (list(b_db.conn.execute("SELECT * FROM licence_trusted_keys")),
              list(b_db.conn.execute("SELECT * FROM licence_trusted_revocations")))
    for version, (name, spoil) in enumerate(BAD_CONTENTS.items(), start=2):
        out = send_list(b_db, spoil(good), version)
        assert out.startswith("refused:apply_failed: bad_trust_list ("), (name, out)  # with what was wrong
    assert manifests.held(b_db)[citylink.TRUST_LIST_KIND]["version"] == 1
    after = (list(b_db.conn.execute("SELECT * FROM licence_trusted_keys")),
             list(b_db.conn.execute("SELECT * FROM licence_trusted_revocations")))
    assert after == before
    assert b.verify(shown["qr"]).json["reason"] == "ok"
    # The uplink's own checks hold for this kind too: a bad signature, an older version.
    m = citylink.sign_manifest(HUB, citylink.TRUST_LIST_KIND, 50, good, time.time())
    m["signature"] = citylink.sign(citylink.new_private_key(), citylink.canonical(citylink.manifest_header(m)))
    assert manifests.accept(b_db, HUB_PUB, m) == "refused:bad_signature"
    assert send_list(b_db, {**good, "generated_at": good["generated_at"] + 1}, 1) == "refused:older_version"
    refused = b_db.conn.execute("SELECT COUNT(*) FROM uplink_manifest_log WHERE kind = ? AND result = 'refused'",
                                (citylink.TRUST_LIST_KIND,)).fetchone()[0]
    assert refused == len(BAD_CONTENTS) + 2


def test_the_offline_verifier_takes_the_trust_list(halls, clock, tmp_path, capsys):
    a, a_db = halls["a"], halls["a_db"]
    shown = present(a)
    revoked = present(a, "社会保障卡")
    register.revoke(a_db, str(licence_ids(a)["社会保障卡"]), "注销", now=clock())
    content = trust_content(clock, ("hall-a", "A 厅", trust.report(a_db, clock())))
    m = citylink.sign_manifest(HUB, citylink.TRUST_LIST_KIND, 3, content, time.time())
    (tmp_path / "trust.json").write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "content.json").write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    at = ["--at", str(clock()), "--json"]

    def run(qr: str, *args: str) -> tuple[int, dict | str]:
        code = offline_main(["verify", qr, *args, *at])
        out = capsys.readouterr()
        return code, (json.loads(out.out) if out.out.strip() else out.err)

    code, out = run(shown["qr"], "--keys", str(tmp_path / "trust.json"), "--hub-key", HUB_PUB)
    assert code == 0 and out["reason"] == "ok" and out["issuer_hall"] == "hall-a"
    assert out["status_checked"] is True and out["status_as_of"] == content["generated_at"]
    code, out = run(revoked["qr"], "--keys", str(tmp_path / "content.json"))
    assert code == 1 and out["reason"] == "revoked" and out["licence_status"] == "revoked"
    code, err = run(shown["qr"], "--keys", str(tmp_path / "trust.json"), "--hub-key", citylink.public_of(
        citylink.new_private_key()))
    assert code == 2 and "does not verify" in str(err)
    # The plain keys document still works as before (no status check).
    (tmp_path / "keys.json").write_text(json.dumps(a.get("/api/licences/keys").json), encoding="utf-8")
    code, out = run(revoked["qr"], "--keys", str(tmp_path / "keys.json"))
    assert code == 0 and out["status_checked"] is False


def test_two_keys_with_one_kid_the_one_whose_signature_holds_is_taken():
    one = token.Ed25519Signer.from_seed(b"\x01" * 32)
    two = token.Ed25519Signer.from_seed(b"\x02" * 32)
    claims = token.Claims(exp=2_000_000_100, iat=2_000_000_000, cti=b"c" * 8, handle=b"h" * 8, purpose=1)
    env = token.decode(token.encode(claims, two))
    # Hall X's key forced to share the kid of hall Y's (a 4-byte id can collide).
    x_key = trustlist.TrustedKey(token.Ed25519Key(one.public, two.kid), "hall-x")
    y_key = trustlist.TrustedKey(token.Ed25519Key(two.public, two.kid), "hall-y")
    key, tk = trustlist.pick(None, [x_key, y_key], env, 2_000_000_050)
    assert tk is y_key and key is y_key.key
    own = token.Ed25519Key(two.public)
    key, tk = trustlist.pick(own, [x_key], env, 2_000_000_050)
    assert key is own and tk is None
    assert trustlist.pick(None, [], env, 0) == (None, None)
