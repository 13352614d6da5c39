"""The city tier end to end: a real PostgreSQL (throw-away cluster), the hub (``city-hub
serve``) and three halls (``queue-server serve`` on SQLite, each with its uplink).

The tests run in order on one city (module fixture): tickets exactly once → the hub away
and back → refusals and resends → an altered audit → manifests → 好差评, devices and
quarantine → the city page in the browser."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import requests

from tests.support.city_hub import Hall, HubProcess, hub_cli, make_hall, wait_until
from tests.support.common import free_port, needs_chromium, screenshot_dir
from tests.support.postgres import PostgresCluster
from tests.support.queue import Server
from yichuang import citylink

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
FAST = {"uplink.interval_s": 1, "uplink.backoff_max_s": 2, "uplink.manifest_interval_s": 1,
        "licences.token_seconds": 600}  # tokens outlive a hub restart on a loaded machine


@pytest.fixture(scope="module")
def postgres():
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def city(postgres, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("city")
    dsn = postgres.create_database()
    key_file = tmp / "hub.key"
    hub = HubProcess(dsn, key_file, free_port(), tmp / "province").start()
    halls: list[Hall] = []
    try:
        for code in ("zhangqiu", "changqing", "zichuan"):
            hall = make_hall(tmp, code, free_port(), hub.url, dsn, key_file, FAST)
            hall.server = Server(hall.db_path, hall.port, threads=16).start()
            halls.append(hall)
        yield {"hub": hub, "halls": halls, "dsn": dsn, "key_file": key_file, "tmp": tmp}
    finally:
        for h in halls:
            if h.server is not None:
                h.server.stop()
        hub.stop()


def q(dsn: str, sql: str, *args):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, args).fetchall()


def hub_events(dsn: str, hall: str) -> list[tuple[int, str]]:
    return [(int(r[0]), r[1]) for r in q(dsn, "SELECT id, type FROM events WHERE hall = %s ORDER BY id", hall)]


def caught_up(city, hall: Hall) -> bool:
    last = hall.events()[-1][0]
    row = q(city["dsn"], "SELECT acked_to FROM halls WHERE code = %s", hall.code)
    return bool(row) and int(row[0][0]) >= last


def test_tickets_issued_and_served_in_three_halls_reach_the_hub_exactly_once(city):
    for n, hall in zip((7, 5, 9), city["halls"], strict=True):
        hall.issue(n)
        assert hall.serve_all() == n
    for hall in city["halls"]:
        wait_until(lambda h=hall: caught_up(city, h), 30, what=f"{hall.code} caught up")
        local = hall.events()
        assert hub_events(city["dsn"], hall.code) == local  # every event, once, same ids and types
        issued = sum(1 for _, t in local if t == "ticket.issued")
        finished = sum(1 for _, t in local if t == "ticket.finished")
        agg = q(city["dsn"], "SELECT SUM(issued), SUM(served) FROM daily_aggregates WHERE hall = %s AND dim = 'hall'",
                hall.code)[0]
        assert (int(agg[0]), int(agg[1])) == (issued, finished) == (len(hall.issued), len(hall.issued))
    # Per service the counts add up to the hall's, and the clerk dimension came with the figures.
    svc = q(city["dsn"], "SELECT hall, SUM(issued) FROM daily_aggregates WHERE dim = 'service' GROUP BY hall")
    assert {h: int(n) for h, n in svc} == {"zhangqiu": 7, "changqing": 5, "zichuan": 9}


def test_the_hub_away_for_a_while_halls_keep_serving_and_the_backlog_arrives(city):
    hub = city["hub"]
    hub.stop()
    slowest = 0.0
    for hall in city["halls"]:
        t0 = time.monotonic()
        hall.issue(6)
        hall.serve_all()
        slowest = max(slowest, time.monotonic() - t0)
    assert slowest < 5.0  # 6 tickets issued and served per hall while the hub is down
    time.sleep(3)  # a few failed tries with backoff
    for hall in city["halls"]:
        st = hall.uplink_status()
        assert st["backlog"] > 0 and st["failures"] >= 1 and "unreachable" in (st["last_error"] or "")
    hub.start()
    for hall in city["halls"]:
        wait_until(lambda h=hall: caught_up(city, h), 40, what=f"{hall.code} backlog")
        assert hub_events(city["dsn"], hall.code) == hall.events()
        assert hall.uplink_status()["backlog"] == 0


def _post(city, hall: str, body: bytes, key: str) -> requests.Response:
    return requests.post(f"{city['hub'].url}/ingest/{hall}", data=body, timeout=10,
                         headers={citylink.SIGNATURE_HEADER: citylink.sign(key, body)})


def _resend_everything(hall: Hall) -> tuple[bytes, int]:
    """The batch a hall that lost its cursor would send: every event from the start."""
    from queue_server.audit.chain import head
    from queue_server.db import connect

    db = connect(hall.db_path)
    try:
        rows = db.conn.execute("SELECT id, ts, type, data FROM events ORDER BY id").fetchall()
        events = [{"id": r[0], "ts": r[1], "type": r[2], "v": citylink.event_version(r[2]),
                   "data": json.loads(r[3])} for r in rows]
        body = citylink.make_batch(hall=hall.code, after=0, upto=events[-1]["id"], events=events,
                                   audit_head=head(db).as_dict(), audit_check=None, figures={},
                                   last_event_id=events[-1]["id"], tz="Asia/Shanghai", sent_at=1.0)
        return body, len(events)
    finally:
        db.conn.close()


def _snapshot(dsn: str) -> tuple:
    return (q(dsn, "SELECT hall, count(*) FROM events GROUP BY hall ORDER BY hall"),
            q(dsn, "SELECT * FROM daily_aggregates ORDER BY hall, day, dim, key"),
            q(dsn, "SELECT code, acked_to FROM halls ORDER BY code"),
            q(dsn, "SELECT count(*) FROM province_outbox"))


def test_a_batch_signed_with_the_wrong_key_is_refused_and_logged(city):
    hall = city["halls"][0]
    before = _snapshot(city["dsn"])
    body = citylink.make_batch(hall=hall.code, after=0, upto=1_000_000,
                               events=[{"id": 999_999, "ts": time.time(), "type": "ticket.issued", "v": 1,
                                        "data": {"ticket_id": 1, "number": "A001", "service": "X", "category": "x"}}],
                               audit_head={"id": 0, "hash": "0" * 64}, audit_check=None, figures={},
                               last_event_id=999_999, tz="Asia/Shanghai", sent_at=time.time())
    r = _post(city, hall.code, body, citylink.new_private_key())
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_signature"
    other = _post(city, "nosuchhall", body, hall.private_key)
    assert other.status_code == 401 and other.json()["error"]["code"] == "unknown_hall"
    # The right key but another hall's name in the body: refused too.
    wrong_hall = _post(city, city["halls"][1].code, body, city["halls"][1].private_key)
    assert wrong_hall.status_code == 422 and wrong_hall.json()["error"]["code"] == "bad_batch"
    assert _snapshot(city["dsn"])[:3] == before[:3]
    log = q(city["dsn"], "SELECT hall, outcome FROM ingest_log ORDER BY id")
    assert (hall.code, "bad_signature") in log and ("nosuchhall", "unknown_hall") in log


def test_a_resent_batch_changes_nothing(city):
    hall = city["halls"][1]
    body, n = _resend_everything(hall)
    assert n > 20
    before = _snapshot(city["dsn"])
    for _ in range(2):
        r = _post(city, hall.code, body, hall.private_key)
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == 0 and r.json()["duplicates"] == n
    assert _snapshot(city["dsn"]) == before


def _rewrite_audit_chain(db_path: Path) -> None:
    """What a hall's owner could do: drop the triggers, change an old record and recompute
    every hash after it, so that the hall's own `audit verify` still passes."""
    from queue_server.audit.chain import GENESIS, row_hash

    conn = sqlite3.connect(db_path)
    try:
        conn.execute("DROP TRIGGER audit_no_update")
        rows = conn.execute("SELECT id, ts, kind, actor, data FROM audit ORDER BY id").fetchall()
        prev = GENESIS
        conn.execute("BEGIN IMMEDIATE")
        for i, (rid, ts, kind, actor, data) in enumerate(rows):
            if i == 0:
                data = json.dumps({**json.loads(data), "after": "tampered"}, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False)
            h = row_hash(prev, rid, ts, kind, actor, data)
            conn.execute("UPDATE audit SET data = ?, prev = ?, hash = ? WHERE id = ?", (data, prev, h, rid))
            prev = h
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_an_altered_hall_audit_is_flagged_at_the_hub(city):
    from tests.support.city_hub import hall_cli

    target = city["halls"][2]
    wait_until(lambda: q(city["dsn"], "SELECT count(*) FROM audit_heads WHERE hall = %s AND head_id > 0",
                         target.code)[0][0] >= 2, 20, what="anchors")
    assert q(city["dsn"], "SELECT audit_flag FROM halls WHERE code = %s", target.code)[0][0] is None
    _rewrite_audit_chain(target.db_path)
    assert "audit chain ok" in hall_cli("audit", "verify", "--db", str(target.db_path))  # the hall cannot tell
    flag = wait_until(lambda: q(city["dsn"], "SELECT audit_flag FROM halls WHERE code = %s", target.code)[0][0],
                      20, what="audit flag")
    assert flag.startswith(("anchor_mismatch", "head_rewritten"))
    others = q(city["dsn"], "SELECT code FROM halls WHERE audit_flag IS NOT NULL")
    assert others == [(target.code,)]


def _held(hall: Hall, kind: str):
    conn = sqlite3.connect(hall.db_path)
    try:
        return conn.execute("SELECT version, result FROM uplink_manifests WHERE kind = ?", (kind,)).fetchone()
    finally:
        conn.close()


def _refusals(hall: Hall, kind: str) -> list[tuple[int, str]]:
    conn = sqlite3.connect(hall.db_path)
    try:
        return conn.execute("SELECT version, reason FROM uplink_manifest_log WHERE kind = ? AND result = 'refused'",
                            (kind,)).fetchall()
    finally:
        conn.close()


def test_a_signed_rule_set_reaches_every_hall_and_a_bad_signature_is_refused_by_all(city, tmp_path):
    from city_hub import manifests
    from city_hub.store import load_or_create_key

    # 高龄津贴 from 75 instead of 80 from 2027 on: a new dated value of a 秒批 parameter
    rules = {"format": 1, "items": [{
        "code": "elderly_allowance", "version": "2026.2",
        "parameters": {"min_age": {"values": [{"since": "2027-01-01", "value": 75}],
                                   "reference": "本地高龄津贴实施办法（2027 年修订）"}}}]}
    f = tmp_path / "rules.json"
    f.write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    out = hub_cli("manifest", "publish", "rule_set", str(f), "--dsn", city["dsn"], "--key-file", str(city["key_file"]))
    assert out.startswith("rule_set v1 sha256:")

    def listed(h: Hall) -> str:
        r = requests.get(h.url + "/api/approvals/items", timeout=10,
                         headers={"Authorization": f"Bearer {h.tokens['kiosk']}"})
        return next(i["ruleset"]["version"] for i in r.json() if i["code"] == "elderly_allowance")

    for hall in city["halls"]:
        wait_until(lambda h=hall: _held(h, "rule_set") == (1, "applied"), 20, what=f"{hall.code} rule set v1")
        assert listed(hall) == "2026.2"  # what the hall's kiosks are offered now
    # v2, signed by the hub, then its signature replaced by one from another key (same key id).
    hub_key = load_or_create_key(city["key_file"])
    m = citylink.sign_manifest(hub_key, "rule_set", 2, {**rules, "items": []}, time.time())
    m["signature"] = citylink.sign(citylink.new_private_key(), citylink.canonical(citylink.manifest_header(m)))
    with psycopg.connect(city["dsn"]) as conn:
        manifests.store(conn, m)
    for hall in city["halls"]:
        wait_until(lambda h=hall: (2, "bad_signature") in _refusals(h, "rule_set"), 20, what=f"{hall.code} refusal")
        assert _held(hall, "rule_set") == (1, "applied")  # the last good one stays
        assert listed(hall) == "2026.2"
    def reported() -> list[str]:
        return [r[0] for r in q(city["dsn"], "SELECT hall FROM manifest_reports WHERE kind = 'rule_set' AND "
                                "version = 2 AND result = 'refused' ORDER BY hall")]

    assert wait_until(lambda: len(reported()) == 3, 20, what="three reports")
    assert reported() == sorted(h.code for h in city["halls"])


def test_a_rule_set_that_fails_the_checks_and_a_new_reason_list(city, tmp_path):
    """A rule set signed by the hub but failing the hall's checks is refused by every hall
    (the rules in force stay, the hub gets the reason); a reason list becomes current."""
    bad = {"items": [{"code": "elderly_allowance", "version": "2026.3",
                      "parameters": {"min_age": {"values": [{"since": "2026-11-01", "value": 75}]}}}]}
    reasons = {"version": "2027.1", "reasons": [{"code": "attitude", "name": "服务态度差", "name_en": "Poor attitude"},
                                                {"code": "slow", "name": "办理慢", "name_en": "Slow"}]}
    for kind, content in (("rule_set", bad), ("evaluation_reasons", reasons)):
        f = tmp_path / f"{kind}.json"
        f.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
        hub_cli("manifest", "publish", kind, str(f), "--dsn", city["dsn"], "--key-file", str(city["key_file"]))

    def current_reasons(h: Hall) -> list:
        return _hall_rows(h, "SELECT version FROM evaluation_reason_versions WHERE current = 1")

    for hall in city["halls"]:
        wait_until(lambda h=hall: any(v == 3 and r.startswith("apply_failed: bad_rule_set")
                                      for v, r in _refusals(h, "rule_set")), 20, what=f"{hall.code} refusal")
        assert _held(hall, "rule_set") == (1, "applied")
        wait_until(lambda h=hall: current_reasons(h) == [("2027.1",)], 20, what=f"{hall.code} reason list")
        assert _held(hall, "evaluation_reasons") == (1, "applied")

    def reported() -> list:
        return q(city["dsn"], "SELECT hall, reason FROM manifest_reports WHERE kind = 'rule_set' AND version = 3 "
                 "AND result = 'refused' ORDER BY hall")

    wait_until(lambda: len(reported()) == 3, 20, what="three reports")
    assert all("79: age below the minimum" in reason for _, reason in reported())


def test_a_service_catalogue_manifest_is_applied_in_every_hall(city, tmp_path):
    catalogue = {"categories": [{"code": "zonghe", "name": "综合服务", "prefix": "Z"}],
                 "services": [{"code": "KS01", "name": "跨省通办 社保关系转移", "category": "zonghe", "avg_minutes": 12}],
                 "windows": []}
    f = tmp_path / "cat.json"
    f.write_text(json.dumps(catalogue, ensure_ascii=False), encoding="utf-8")
    hub_cli("manifest", "publish", "service_catalogue", str(f), "--dsn", city["dsn"], "--key-file",
            str(city["key_file"]))

    def has_service(h: Hall) -> bool:
        conn = sqlite3.connect(h.db_path)
        try:
            return conn.execute("SELECT name FROM services WHERE code = 'KS01'").fetchone() is not None
        finally:
            conn.close()

    for hall in city["halls"]:
        wait_until(lambda h=hall: has_service(h), 20, what=f"{hall.code} catalogue")
        assert _held(hall, "service_catalogue") == (1, "applied")


def _hall_rows(hall: Hall, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(hall.db_path)
    try:
        return [tuple(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def _verify(hall: Hall, qr: str) -> dict:
    r = hall.post("/api/licences/verify", {"qr": qr, "purpose": 1}, role="verifier")
    assert r.status_code == 200, r.text
    return r.json()


def test_a_licence_shown_in_one_hall_verifies_in_another_after_the_sync(city):
    """Issue 17 "down to the halls" with issue 12: hall A's token is unknown in hall B until
    the trust list (A's key, reported with A's batches, signed by the hub) reaches B; then B
    verifies it, and a licence revoked in A answers revoked in B after the next sync."""
    from queue_server.licences import token
    from tests.support.city_hub import hall_cli
    from tests.support.licences import LIN

    a, b, c = city["halls"]
    hall_cli("licences", "load", "--db", str(a.db_path), str(ROOT / "queue_server/licences/demo_licences.json"))
    r = requests.get(f"{a.url}/api/licences?id_number={LIN}", timeout=10,
                     headers={"Authorization": f"Bearer {a.tokens['kiosk']}"})
    ids = {i["type_name"]: i["id"] for i in r.json()}

    def present(name: str) -> dict:
        r = a.post(f"/api/licences/{ids[name]}/present", {"holder_id_number": LIN, "purpose": 1,
                                                          "verification": {"method": "face", "score": 0.8}}, "kiosk")
        assert r.status_code == 201, r.text
        return r.json()

    city["hub"].stop()  # before the sync: A's first key is made now, and cannot reach B
    try:
        shown = present("机动车驾驶证")
        to_revoke = present("社会保障卡")
        before = _verify(b, shown["qr"])
        assert before["valid"] is False and before["reason"] == "unknown_key"
    finally:
        city["hub"].start()
    kid = token.decode(shown["qr"]).kid
    for hall in (b, c):
        wait_until(lambda h=hall: (kid,) in _hall_rows(h, "SELECT kid FROM licence_trusted_keys WHERE hall = ?",
                                                       a.code), 40, what=f"hall A's key in {hall.code}'s trust list")
    assert _verify(a, shown["qr"])["reason"] == "ok"
    in_b = _verify(b, shown["qr"])
    assert in_b["valid"] is True and in_b["reason"] == "ok"
    lic = in_b["licence"]
    assert lic["issuer_hall"] == a.code and lic["issuer_hall_name"] == a.name and lic["holder_masked"] == "林*努"
    assert lic["status"] == "valid" and lic["type_name"] is None  # A's register stays in A
    listed = q(city["dsn"], "SELECT body FROM manifests WHERE kind = 'licence_trust_list' ORDER BY version DESC")
    assert in_b["status_as_of"] == listed[0][0]["content"]["generated_at"]
    assert _verify(b, shown["qr"])["reason"] == "replayed"  # B's own acceptance log
    assert _verify(c, shown["qr"])["reason"] == "ok"  # …which is B's only: the documented limit across halls
    # No hall holds another's private key: B's trusted keys are public halves only.
    assert _hall_rows(b, "SELECT COUNT(*) FROM licence_keys WHERE kid = ?", kid) == [(0,)]

    hall_cli("licences", "revoke", "--db", str(a.db_path), str(ids["社会保障卡"]), "--reason", "吊销")
    handle = token.decode(to_revoke["qr"]).claims.handle
    wait_until(lambda: _hall_rows(b, "SELECT status FROM licence_trusted_revocations WHERE handle = ?", handle)
               == [("revoked",)], 40, what="the revocation in hall B")
    revoked = _verify(b, to_revoke["qr"])
    assert revoked["valid"] is False and revoked["reason"] == "revoked" and revoked["licence"]["status"] == "revoked"
    assert _verify(a, to_revoke["qr"])["reason"] == "revoked"
    versions = [r[0] for r in q(city["dsn"], "SELECT version FROM manifests WHERE kind = 'licence_trust_list' "
                                "ORDER BY version")]
    assert len(versions) >= 2
    out = hub_cli("manifest", "publish-trust-list", "--dsn", city["dsn"], "--key-file", str(city["key_file"]))
    assert f"v{versions[-1]} " in out and "unchanged" in out  # nothing changed since: no new version
    for hall in city["halls"]:
        held = _held(hall, "licence_trust_list")
        wait_until(lambda h=hall: _held(h, "licence_trust_list") == (versions[-1], "applied"), 20,
                   what=f"{hall.code} holds the newest list")
        assert held is not None


def test_evaluations_devices_and_unreadable_events(city):
    """The 好差评 and devices capabilities' events (written here as they will write them):
    evaluations reach the province folder keyed by case and count, a printer out of paper and
    an overdue rectification show on the hub, an unknown type is kept raw and a malformed
    evaluation is quarantined — and the cursor passes all of them."""
    import queue_server.evaluations.event_types  # noqa: F401  (declares what the 好差评 capability records)
    import queue_server.printing.jobs  # noqa: F401  (declares printer.status)
    from queue_server.db import connect, write_tx
    from queue_server.events import record_event

    hall = city["halls"][0]
    db = connect(hall.db_path)

    def raw(c, typ: str, data: dict) -> None:  # what a hall of another version might send
        c.execute("INSERT INTO events (ts, type, data) VALUES (?, ?, ?)", (time.time(), typ, json.dumps(data)))

    try:
        with write_tx(db) as c:
            record_event(c, "evaluation.created", {"id": 1, "level": 1, "channel": "window", "service": "QY01",
                                                   "window": 1, "ticket": hall.issued[0], "count": 1,
                                                   "reasons": ["attitude"]})
            record_event(c, "evaluation.created", {"id": 2, "level": 5, "channel": "kiosk", "service": "QY02",
                                                   "case": "MB20261125001", "count": 1, "reasons": []})
            raw(c, "evaluation.created", {"id": 3, "level": "bad", "channel": "phone"})
            raw(c, "approval.decided.v9", {"case": "MB20261125002", "result": "approved"})
            record_event(c, "rectification.changed", {"id": 7, "evaluation": 1, "step": "open", "status": "open",
                                                      "deadline": "2026-01-05", "provisional": False})
            record_event(c, "printer.status", {"printer": "kiosk-1", "status": "paper_out", "paused": True,
                                               "reason": "paper_out", "queue": 2})
    finally:
        db.conn.close()
    wait_until(lambda: caught_up(city, hall), 20, what="caught up past the quarantined event")
    dsn = city["dsn"]
    assert q(dsn, "SELECT reason FROM quarantine WHERE hall = %s", hall.code)[0][0].startswith("evaluation.created")
    assert q(dsn, "SELECT known FROM events WHERE hall = %s AND type = 'approval.decided.v9'", hall.code) == [(False,)]
    folder = city["tmp"] / "province"
    files = wait_until(lambda: sorted(p.name for p in folder.glob("*.json")) if folder.exists() else [], 20,
                       what="province files")
    assert files == sorted([f"{hall.code}-T{hall.issued[0]}-1.json", "MB20261125001-1.json"])
    bad = json.loads((folder / f"{hall.code}-T{hall.issued[0]}-1.json").read_text())
    assert bad["isBad"] == 1 and bad["evaluateLevel"] == 1 and bad["reasonCodes"] == ["attitude"]
    acks = q(dsn, "SELECT case_no, count, state, ack->>'file' FROM province_outbox ORDER BY case_no")
    assert all(state == "acked" and f for _, _, state, f in acks) and len(acks) == 2
    assert q(dsn, "SELECT state FROM devices WHERE hall = %s AND name = 'kiosk-1'", hall.code) == [("paper_out",)]
    page = requests.get(city["hub"].url + "/", timeout=10).text
    assert "缺纸" in page and "2026-01-05" in page and "整改超期" in page


@needs_chromium
def test_the_city_page_in_the_browser(city, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(city["hub"].url + "/", wait_until="load")
        text = page.inner_text("body")
        for hall in city["halls"]:
            assert hall.name in text
        assert "各大厅实时状态" in text and "审计链" in text
        assert "审计链被改写" in text or "与已锚定的链头不符" in text
        out = screenshot_dir("screenshots", Path(tempfile.gettempdir()) / "yichuang-screenshots") / "city-hub.png"
        page.screenshot(path=str(out), full_page=True)
        page.select_option("select[name=hall]", "zhangqiu")
        page.select_option("select[name=group]", "service")
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
        assert "QY01" in page.inner_text("body")
        page.goto(city["hub"].url + "/?lang=en", wait_until="load")
        assert "Halls now" in page.inner_text("body")
    finally:
        page.close()
