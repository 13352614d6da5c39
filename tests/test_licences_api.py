"""亮证 through the API: holder lookup, presenting, rotating tokens, verification with every
reason code reached by a real token, the keys document and an independent decode, key
rotation, audit and privacy, printed copies' online check."""

from __future__ import annotations

import json

import pytest

from queue_server import create_app
from queue_server.audit.chain import recent
from queue_server.demo import make_hall
from queue_server.errors import ValidationError
from queue_server.licences import keys, register, token
from tests.support.licences import (
    LIN,
    NOBODY,
    ZHANG,
    Api,
    independent_verify,
    licence_file,
    licence_ids,
    licence_row,
    tamper,
)

LIST_FIELDS = {"id", "identifier", "type_code", "type_name", "number_masked", "issuer", "valid_to", "status"}
LICENCE_FIELDS = {"type", "type_name", "number", "holder_masked", "issuer", "valid_to", "status"}



@pytest.fixture
def hall(db, clock):
    return make_hall(db, clock=clock, tokens=True, appointments=0, licences=True)


@pytest.fixture
def api(db_path, hall, clock) -> Api:
    app = create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock})
    keys.forget()
    return Api(app.test_client(), hall["tokens"])


@pytest.fixture
def ids(api) -> dict[str, int]:
    return licence_ids(api)


def login(api: Api, username: str = "clerk1", password: str = "clerk123", window: int | None = 3) -> str:
    r = api.post("/api/login", json={"username": username, "password": password})
    tok = r.json["token"]
    if window is not None:
        r = api.post(f"/api/windows/{window}/open", tok)
        assert r.status_code in (200, 201), r.json
    return str(tok)


# --- lookup -----------------------------------------------------------------------------------


def test_a_holder_sees_their_licences_masked(api):
    r = api.get(f"/api/licences?id_number={LIN}", "kiosk")
    assert r.status_code == 200
    items = r.json
    assert {i["type_name"] for i in items} == {"居民身份证电子信息", "机动车驾驶证", "社会保障卡", "营业执照"}
    for item in items:
        assert LIST_FIELDS <= set(item)
        assert identifier_ok(item["identifier"])
        assert item["status"] == "valid"
    dl = next(i for i in items if i["type_name"] == "机动车驾驶证")
    assert dl["number_masked"] == "1101**********0019" and dl["valid_to"] == "2030-03-15"
    assert LIN not in r.get_data(as_text=True)
    assert api.get(f"/api/licences?id_number={NOBODY}", "kiosk").json == []


def identifier_ok(text: str) -> bool:
    from queue_server.licences import identifier

    return identifier.is_valid(text)


def test_lookup_needs_a_kiosk_and_a_well_formed_number(api):
    assert api.get(f"/api/licences?id_number={LIN}").status_code == 401
    assert api.get(f"/api/licences?id_number={LIN}", "display").status_code == 403
    bad = api.get("/api/licences?id_number=110101198001160018", "kiosk")
    assert bad.status_code == 422 and bad.json["error"]["code"] == "bad_id_number"


def test_superseded_and_expired_versions_show_as_such(api):
    items = api.get(f"/api/licences?id_number={ZHANG}", "kiosk").json
    dl = [i for i in items if i["type_name"] == "机动车驾驶证"]
    assert len(dl) == 1 and dl[0]["identifier"].endswith(".002." + dl[0]["identifier"][-1])
    food = next(i for i in items if i["type_name"] == "食品经营许可证")
    assert food["status"] == "expired"


# --- presenting -------------------------------------------------------------------------------


def test_present_gives_a_token_that_verifies_once(api, ids, clock):
    r = api.present(ids["机动车驾驶证"])
    assert r.status_code == 201
    assert {"qr", "expires_at"} <= set(r.json)
    assert r.json["qr"].startswith("ZW1:") and r.json["expires_at"] == int(clock()) + 120
    assert r.json["case"].startswith("LZ")
    clerk = login(api)
    first = api.verify(r.json["qr"], clerk, purpose=1)
    assert first.status_code == 200
    assert first.json["valid"] is True and first.json["reason"] == "ok"
    lic = first.json["licence"]
    assert LICENCE_FIELDS <= set(lic)
    assert lic == {**lic, "type_name": "机动车驾驶证", "holder_masked": "林*努", "issuer": "济南市公安局交通警察支队",
                   "valid_to": "2030-03-15", "status": "valid", "number": "1101**********0019"}
    clock.advance(5)
    again = api.verify(r.json["qr"], "verifier")
    assert again.json["valid"] is False and again.json["reason"] == "replayed"
    assert again.json["first_verified"] == {"at": clock() - 5, "by": "3号窗口 王*明"}


def test_present_is_for_the_face_verified_holder_only(api, ids, db):
    before = db.conn.execute("SELECT COUNT(*) FROM licence_presentations").fetchone()[0]
    card = api.present(ids["机动车驾驶证"], method="card")
    assert card.status_code == 403 and card.json["error"]["code"] == "licence_face_required"
    other = api.present(ids["机动车驾驶证"], holder=ZHANG)
    assert other.status_code == 403 and other.json["error"]["code"] == "licence_not_holder"
    assert api.present(99999).status_code == 404
    bad_purpose = api.present(ids["机动车驾驶证"], purpose=42)
    assert bad_purpose.status_code == 422 and bad_purpose.json["error"]["code"] == "bad_purpose"
    missing = api.post(f"/api/licences/{ids['机动车驾驶证']}/present", "kiosk", json={"holder_id_number": LIN,
                                                                                 "purpose": 1})
    assert missing.status_code == 422 and missing.json["error"]["code"] == "missing_field"
    assert api.present(ids["机动车驾驶证"], role="clerk").status_code == 403
    staff = api.present(ids["机动车驾驶证"], method="staff")
    assert staff.status_code == 201
    assert db.conn.execute("SELECT COUNT(*) FROM licence_presentations").fetchone()[0] == before + 1


def test_an_expired_licence_cannot_be_shown(api):
    food = licence_ids(api, ZHANG)["食品经营许可证"]
    r = api.present(food, holder=ZHANG)
    assert r.status_code == 409 and r.json["error"]["code"] == "licence_not_valid"
    assert "已过期" in r.json["error"]["message"]


def load_one(db, **over) -> int:
    """One more 驾驶证-shaped licence for 林曼努 (its own number and serial); its id."""
    row = licence_row(number=over.pop("number", "LN20260001"), serial=over.pop("serial", "20260000901"), **over)
    return int(register.load(db, licence_file(row))["ids"][0])


def test_a_licence_not_yet_in_force_is_listed_so_and_cannot_be_shown_or_printed(api, db, clock):
    """Audit: a licence whose valid_from is in the future was listed valid and could be shown."""
    future = load_one(db, issue_date="2026-11-20", valid_from="2026-12-01", valid_to="2032-11-30")
    listed = {i["id"]: i for i in api.get(f"/api/licences?id_number={LIN}", "kiosk").json}
    assert listed[future]["status"] == "not_yet_valid" and listed[future]["valid_from"] == "2026-12-01"
    before = db.conn.execute("SELECT COUNT(*) FROM licence_presentations").fetchone()[0]
    r = api.present(future)
    assert r.status_code == 409 and r.json["error"]["code"] == "licence_not_yet_valid"
    assert "2026-12-01" in r.json["error"]["message"] and "生效" in r.json["error"]["message"]
    assert "2026-12-01" in r.json["error"]["message_en"]
    copy = api.post(f"/api/licences/{future}/print", "kiosk", json={"holder_id_number": LIN,
                                                                   "verification": {"method": "face"}})
    assert copy.status_code == 409 and copy.json["error"]["code"] == "licence_not_yet_valid"
    assert db.conn.execute("SELECT COUNT(*) FROM licence_presentations").fetchone()[0] == before
    assert db.conn.execute("SELECT status FROM licences WHERE id = ?", (future,)).fetchone()[0] == "valid"
    listed_cli = {i["id"]: i for i in register.list_all(db, "2026-11-25")}
    assert listed_cli[future]["status"] == "not_yet_valid"
    clock.set("2026-12-01", "09:00")  # its first day
    assert {i["id"]: i for i in api.get(f"/api/licences?id_number={LIN}", "kiosk").json}[future]["status"] == "valid"
    shown = api.present(future)
    assert shown.status_code == 201
    assert api.verify(shown.json["qr"]).json["reason"] == "ok"


def test_a_company_licence_is_shown_by_its_legal_representative(api):
    bl = licence_ids(api)["营业执照"]
    r = api.present(bl, purpose=2)
    assert r.status_code == 201
    res = api.verify(r.json["qr"], purpose=2).json
    assert res["reason"] == "ok" and res["licence"]["holder_masked"] == "济南泉城数字科技有限公司"


def test_tokens_rotate_and_the_face_check_is_redone_after_30_minutes(api, ids, clock, db):
    first = api.present(ids["社会保障卡"]).json
    clock.advance(60)
    nxt = api.post(f"/api/licences/presentations/{first['presentation']}/token", "kiosk")
    assert nxt.status_code == 201 and nxt.json["qr"] != first["qr"]
    assert token.decode(nxt.json["qr"]).claims.handle == token.decode(first["qr"]).claims.handle
    assert token.decode(nxt.json["qr"]).claims.cti != token.decode(first["qr"]).claims.cti
    assert api.verify(nxt.json["qr"]).json["reason"] == "ok"
    assert api.verify(first["qr"]).json["reason"] == "ok"  # each token is accepted once, not the session
    other_kiosk = api.post(f"/api/licences/presentations/{first['presentation']}/token", "admin")
    assert other_kiosk.status_code == 404
    clock.advance(minutes=30)
    late = api.post(f"/api/licences/presentations/{first['presentation']}/token", "kiosk")
    assert late.status_code == 403 and late.json["error"]["code"] == "licence_reverify"
    again = api.present(ids["社会保障卡"])  # face checked again: a new presentation
    assert again.status_code == 201
    end = api.post(f"/api/licences/presentations/{again.json['presentation']}/end", "kiosk")
    assert end.status_code == 200 and end.json["ended"] is True
    ended = api.post(f"/api/licences/presentations/{again.json['presentation']}/token", "kiosk")
    assert ended.status_code == 409 and ended.json["error"]["code"] == "licence_presentation_ended"
    case = db.conn.execute("SELECT status, kind FROM cases WHERE number = ?", (again.json["case"],)).fetchone()
    assert tuple(case) == ("done", "licence_show")


# --- every reason code, each from a real token ------------------------------------------------


def test_every_reason_code_is_reached_by_a_real_token(api, ids, clock, db):
    seen: dict[str, dict] = {}

    def check(qr: str, purpose: int | None = None, role: str = "verifier") -> str:
        res = api.verify(qr, role, purpose)
        assert res.status_code == 200
        seen[res.json["reason"]] = res.json
        return str(res.json["reason"])

    dl = ids["机动车驾驶证"]
    qr = api.present(dl).json["qr"]
    assert check("不是亮证码") == "bad_format"
    assert check(tamper(qr)) == "bad_signature"
    stranger = token.Ed25519Signer.from_seed(b"\x05" * 32)
    assert check(token.encode(token.decode(qr).claims, stranger)) == "unknown_key"
    assert check(qr, purpose=3) == "wrong_purpose"
    assert check(qr, purpose=1) == "ok"      # a wrong purpose did not use the token up
    assert check(qr, purpose=1) == "replayed"
    late = api.present(dl).json["qr"]
    clock.advance(120 + 31)
    assert check(late) == "expired"
    early = api.present(dl).json["qr"]
    clock.advance(-60)
    assert check(early) == "not_yet_valid"
    clock.advance(60)
    doomed = api.present(dl).json["qr"]
    register.revoke(db, str(dl), "吊销（测试）")
    assert check(doomed) == "revoked"
    assert seen["revoked"]["licence"]["status"] == "revoked"
    # the licence's last day ends while its code is on screen: a fresh token, an expired licence
    clock.set("2026-11-25", "23:59")
    last_day = load_one(db, valid_to="2026-11-25")
    short = api.present(last_day).json["qr"]
    clock.advance(90)  # 00:00:30 the next day; the token still has 30 s
    assert check(short) == "licence_expired"
    assert seen["licence_expired"]["licence"]["status"] == "expired"
    # the hall's clock is put back over midnight: a licence in force from "today" is not yet
    clock.set("2026-11-27", "00:00")
    clock.advance(10)
    starts = load_one(db, number="LN20260002", serial="20260000902", issue_date="2026-11-20",
                      valid_from="2026-11-27")
    early_day = api.present(starts).json["qr"]
    clock.advance(-20)  # 23:59:50 on the 26th: the token's iat is 20 s ahead, within the skew
    assert check(early_day) == "licence_not_yet_valid"
    assert seen["licence_not_yet_valid"]["licence"]["status"] == "not_yet_valid"
    assert seen["licence_not_yet_valid"]["licence"]["valid_from"] == "2026-11-27"
    assert set(seen) == set(token.REASONS)
    assert "licence" not in seen["bad_format"] and "licence" not in seen["unknown_key"]
    assert seen["expired"]["licence"]["type_name"] == "机动车驾驶证"


def test_an_overlong_scan_is_just_not_a_code(api, db):
    """Audit: a qr over 2000 characters answered 422 field_too_long; a scanner can send anything."""
    for garbage in ("ZW1:" + "A" * 2500, "x" * 5000, " \r\n" * 3000):
        r = api.verify(garbage)
        assert r.status_code == 200 and r.json == {"valid": False, "reason": "bad_format"}, r.json
    assert db.conn.execute("SELECT COUNT(*) FROM licence_checks WHERE reason = 'bad_format'").fetchone()[0] == 3
    huge = api.verify("ZW1:" + "A" * 70_000)  # the request body itself stays bounded
    assert huge.status_code == 413 and huge.json["error"]["code"] == "payload_too_large"
    missing = api.post("/api/licences/verify", "verifier", json={})
    assert missing.status_code == 422 and missing.json["error"]["code"] == "missing_field"


def test_the_clerk_console_words_every_reason_and_status():
    """The 核验亮证 box shows each answer in plain words: none may fall through as a bare code."""
    from pathlib import Path

    import queue_server

    js = (Path(queue_server.__file__).parent / "web" / "static" / "licence-check.js").read_text(encoding="utf-8")
    reasons = js[js.index("const REASONS"):js.index("};", js.index("const REASONS"))]
    statuses = js[js.index("const STATUS"):js.index("};", js.index("const STATUS"))]
    for reason in token.REASONS:
        assert f"\n    {reason}: [" in reasons, reason
    for status in (*register.STATUSES, "not_yet_valid"):
        assert f"{status}: " in statuses, status


def test_verify_is_for_clerks_kiosks_verifiers_and_admins(api, ids):
    qr = api.present(ids["机动车驾驶证"]).json["qr"]
    for role in ("display", "technician"):
        r = api.verify(qr, role)
        assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"
    assert api.verify(qr, None).status_code == 401
    assert [api.verify(qr, role).json["reason"] for role in ("clerk", "kiosk", "admin", "verifier")] == [
        "ok", "replayed", "replayed", "replayed"]
    missing = api.post("/api/licences/verify", "verifier", json={})
    assert missing.status_code == 422 and missing.json["error"]["code"] == "missing_field"
    bad = api.post("/api/licences/verify", "verifier", json={"qr": qr, "purpose": 99})
    assert bad.status_code == 422 and bad.json["error"]["code"] == "bad_purpose"


# --- keys -------------------------------------------------------------------------------------


def test_a_server_token_verifies_independently_with_only_the_keys_document(api, ids, clock):
    qr = api.present(ids["居民身份证电子信息"], purpose=6).json["qr"]
    doc = api.get("/api/licences/keys")  # no token
    assert doc.status_code == 200
    entry = doc.json["keys"][0]
    assert set(entry) <= {"kid", "alg", "crv", "x", "not_after"} and entry["alg"] == "EdDSA"
    assert entry["crv"] == "Ed25519"
    claims = independent_verify(qr, doc.json)
    assert claims[4] - claims[6] == 120 and claims[6] == int(clock())
    assert len(claims[7]) == 8 and 1 <= len(claims[-70001]) <= 10 and claims[-70002] == 6
    assert claims[-70003] == "林*努"
    assert set(claims) == {4, 6, 7, -70001, -70002, -70003}
    assert LIN.encode() not in json.dumps({str(k): str(v) for k, v in claims.items()}).encode()


def test_a_retired_key_verifies_until_its_not_after(api, ids, clock, db):
    old_qr = api.present(ids["机动车驾驶证"]).json["qr"]
    keys.rotate(db, "ed25519", retire_after=60, now=clock())
    doc = api.get("/api/licences/keys").json
    assert len(doc["keys"]) == 2 and "not_after" in doc["keys"][1] and "not_after" not in doc["keys"][0]
    new_qr = api.present(ids["机动车驾驶证"]).json["qr"]
    assert token.decode(new_qr).kid != token.decode(old_qr).kid
    independent_verify(new_qr, doc)
    clock.advance(61)
    assert api.verify(old_qr).json["reason"] == "unknown_key"
    assert api.verify(new_qr).json["reason"] == "ok"
    assert len(api.get("/api/licences/keys").json["keys"]) == 1


@pytest.mark.skipif(not token.sm2_available(), reason="tongsuopy not installed")
def test_sm2_is_a_configured_alternative_behind_the_same_alg_field(api, ids, clock, db):
    keys.rotate(db, "sm2", retire_after=0, now=clock())
    qr = api.present(ids["机动车驾驶证"]).json["qr"]
    assert token.decode(qr).alg == token.ALG_SM2_SM3
    doc = api.get("/api/licences/keys").json
    assert doc["keys"][0]["alg"] == "SM2-SM3" and doc["keys"][0]["crv"] == "SM2"
    assert api.verify(qr).json["reason"] == "ok"


def test_private_keys_are_stored_wrapped(db, api, ids):
    api.present(ids["机动车驾驶证"])
    kid, pub, priv, wrap = db.conn.execute(
        "SELECT kid, public_key, private_key, wrap_key_id FROM licence_keys").fetchone()
    signer = keys.current_signer(db)
    raw = signer._key.private_bytes_raw()  # type: ignore[attr-defined]
    assert raw not in bytes(priv) and len(bytes(priv)) == 12 + 32 + 16 and wrap


# --- audit and privacy ------------------------------------------------------------------------


def test_every_check_is_audited_without_personal_data(api, ids, db):
    qr = api.present(ids["机动车驾驶证"], purpose=1).json["qr"]
    clerk = login(api)
    api.verify(qr, clerk, purpose=1)
    api.verify(qr, "verifier")
    api.verify("garbage", "kiosk")
    records = recent(db, limit=50)
    verified = [r for r in records if r["kind"] == "licence.verified"]
    assert [r["data"]["result"] for r in verified] == ["bad_format", "replayed", "ok"]
    ok = verified[-1]
    assert ok["data"] == {**ok["data"], "licence_id": ids["机动车驾驶证"], "purpose": 1, "purpose_asked": 1,
                          "window": 3, "role": "clerk"}
    assert ok["actor"].startswith("user:")
    presented = [r for r in records if r["kind"] == "licence.presented"]
    assert presented and presented[0]["data"]["method"] == "face"
    text = json.dumps(records, ensure_ascii=False)
    for secret in (LIN, "林曼努", "林*努", "1101**********0019"):
        assert secret not in text
    uses = api.get(f"/api/licences/{ids['机动车驾驶证']}/uses", "admin").json["uses"]
    assert [u["reason"] for u in uses] == ["replayed", "ok"] and uses[1]["window"] == 3


def test_the_database_never_holds_a_full_id_number(db_path, api, ids):
    api.present(ids["机动车驾驶证"])
    api.verify(api.present(ids["社会保障卡"]).json["qr"])
    data = b""
    for suffix in ("", "-wal"):
        p = db_path.with_name(db_path.name + suffix)
        if p.exists():
            data += p.read_bytes()
    for number in (LIN, ZHANG, "370181195003121239"):
        assert number.encode() not in data


def test_a_verifier_token_checks_licences_and_nothing_else(api, db, ids):
    from queue_server.auth import create_token, verify_token

    tok = create_token(db, "verifier", "gate-1")
    assert verify_token(db, tok).role == "verifier"
    qr = api.present(ids["机动车驾驶证"]).json["qr"]
    assert api.verify(qr, tok).json["reason"] == "ok"
    assert api.get(f"/api/licences?id_number={LIN}", tok).status_code == 403
    assert api.present(ids["机动车驾驶证"], role=tok).status_code == 403
    with pytest.raises(ValidationError):
        create_token(db, "inspector", "x")


# --- 自助打证 ---------------------------------------------------------------------------------


def test_a_printed_copy_carries_an_online_check_that_follows_revocation(api, ids, db):
    dl = ids["机动车驾驶证"]
    r = api.post(f"/api/licences/{dl}/print", "kiosk", json={"holder_id_number": LIN,
                                                            "verification": {"method": "face"}})
    assert r.status_code == 201, r.json
    assert r.json["case"].startswith("DZ") and r.json["url"].endswith("/v/" + r.json["ref"])
    assert len(r.json["ref"]) == 26
    page = api.get("/v/" + r.json["ref"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "有效" in html and "林*努" in html and "机动车驾驶证" in html
    assert LIN not in html and "林曼努" not in html
    refused = api.post(f"/api/licences/{dl}/print", "kiosk", json={"holder_id_number": LIN,
                                                                  "verification": {"method": "card"}})
    assert refused.status_code == 403
    register.revoke(db, str(dl), "注销")
    assert "证照已注销" in api.get("/v/" + r.json["ref"]).get_data(as_text=True)
    assert api.get("/api/v/" + r.json["ref"]).json["current"]["status"] == "revoked"
    assert any(rec["kind"] == "licence.printed" for rec in recent(db, limit=20))


def test_a_printed_copy_says_expired_once_the_licence_has_run_out(api, ids, db, monkeypatch):
    """The paper keeps its dates; its QR tells today's truth (issue 12: /v/ kept 有效 after expiry)."""
    from queue_server.licences import copies

    dl = ids["机动车驾驶证"]
    r = api.post(f"/api/licences/{dl}/print", "kiosk", json={"holder_id_number": LIN,
                                                            "verification": {"method": "face"}})
    assert r.status_code == 201, r.json
    assert api.get("/api/v/" + r.json["ref"]).json["current"]["status"] == "valid"
    monkeypatch.setattr(copies, "today", lambda db, t: "2099-01-01")  # long after its valid_to
    html = api.get("/v/" + r.json["ref"]).get_data(as_text=True)
    assert "证照已过期" in html and "有效期" in html


def test_archiving_drops_only_expired_token_ids_and_keeps_the_use_log(api, ids, db, tmp_path, clock):
    from queue_server.archive import archive_days

    api.verify(api.present(ids["机动车驾驶证"]).json["qr"])
    assert db.conn.execute("SELECT COUNT(*) FROM licence_accepted").fetchone()[0] == 1
    archive_days(db, tmp_path / "archive.db", before="2026-11-25")  # today: nothing expired before it
    assert db.conn.execute("SELECT COUNT(*) FROM licence_accepted").fetchone()[0] == 1
    archive_days(db, tmp_path / "archive.db", before="2026-11-27")
    assert db.conn.execute("SELECT COUNT(*) FROM licence_accepted").fetchone()[0] == 0
    assert db.conn.execute("SELECT COUNT(*) FROM licence_checks").fetchone()[0] == 1
    assert db.conn.execute("SELECT COUNT(*) FROM licences").fetchone()[0] >= 12


def test_a_copy_goes_to_the_print_queue_as_a_document_once_it_has_them(api, ids, db, monkeypatch):
    from queue_server.printing import jobs

    queued: list[dict] = []

    def enqueue_document(conn, document, printer=None):
        assert conn.in_transaction  # in the copy's own transaction
        queued.append(document)
        return 42

    monkeypatch.setattr(jobs, "enqueue_document", enqueue_document, raising=False)
    r = api.post(f"/api/licences/{ids['机动车驾驶证']}/print", "kiosk",
                 json={"holder_id_number": LIN, "verification": {"method": "face"}})
    assert r.status_code == 201 and r.json["print"] == {**r.json["print"], "status": "queued", "job_id": 42}
    doc = queued[0]
    assert doc["title"] == "电子证照打印件" and doc["blocks"][0] == {"kind": "heading", "text": "机动车驾驶证"}
    qr = next(b for b in doc["blocks"] if b["kind"] == "qr")
    assert qr["payload"] == r.json["url"]
    text = json.dumps(doc, ensure_ascii=False)
    assert "林*努" in text and LIN not in text and "林曼努" not in text
    assert db.conn.execute("SELECT job_id FROM licence_prints").fetchone()[0] == 42
