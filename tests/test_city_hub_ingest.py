"""The hub's ingest rules through its Flask app on a real PostgreSQL: the cursor and gaps,
quarantine of what PostgreSQL cannot hold, audit flags, the JSON API's refusals, the CLI."""

from __future__ import annotations

import time

import click
import pytest
from click.testing import CliRunner

from city_hub.cli import main as hub_main
from tests.support.postgres import PostgresCluster
from yichuang import citylink


@pytest.fixture(scope="module")
def postgres():
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def hub(postgres, tmp_path):
    from city_hub.app import create_app
    from city_hub.ingest import forget_partitions
    from city_hub.store import add_hall, connect

    forget_partitions()
    dsn = postgres.create_database()
    app = create_app({"DSN": dsn, "KEY_FILE": str(tmp_path / "hub.key"), "VIEW_TOKEN": "look"})
    conn = connect(dsn)
    key = add_hall(conn, "a", "A 厅")["private_key"]
    yield {"client": app.test_client(), "conn": conn, "key": key, "dsn": dsn, "key_file": str(tmp_path / "hub.key")}
    conn.close()


def ev(i: int, typ: str = "notice.changed", data=None, ts: float | None = None):
    return {"id": i, "ts": ts or time.time(), "type": typ, "v": 1, "data": data if data is not None else {"notice": "x"}}


def send(hub, events, after: int, upto: int | None = None, head=(0, "0" * 64), check=None):
    body = citylink.make_batch(hall="a", after=after, upto=upto if upto is not None else (events[-1]["id"] if events else after),
                               events=events, audit_head={"id": head[0], "hash": head[1]}, audit_check=check,
                               figures={}, last_event_id=upto or (events[-1]["id"] if events else after),
                               tz="Asia/Shanghai", sent_at=time.time())
    r = hub["client"].post("/ingest/a", data=body, headers={citylink.SIGNATURE_HEADER: citylink.sign(hub["key"], body)})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_the_cursor_moves_only_over_what_the_hub_holds(hub):
    assert send(hub, [ev(1), ev(2)], after=0)["acked"] == 2
    # A batch that starts past the cursor is stored but does not move it.
    gap = send(hub, [ev(5), ev(6)], after=4)
    assert gap["acked"] == 2 and gap["stored"] == 2
    # The hall vouches that ids 3 and 4 do not exist (archived before the link): now 6.
    assert send(hub, [], after=2, upto=6)["acked"] == 6
    n = hub["conn"].execute("SELECT count(*) FROM events WHERE hall = 'a'").fetchone()[0]
    assert n == 4


def test_what_postgresql_cannot_hold_is_quarantined_not_lost(hub):
    out = send(hub, [ev(1, data={"notice": "a\x00b"}), ev(2), ev(3, ts=float("1e20"))], after=0)
    assert out["acked"] == 3 and out["quarantined"] == 2 and out["stored"] == 1
    reasons = [r[0] for r in hub["conn"].execute("SELECT reason FROM quarantine ORDER BY id")]
    assert reasons == ["text contains NUL characters", "ts must be a Unix time"]


def test_a_shorter_chain_and_a_changed_anchor_are_flagged(hub):
    first = send(hub, [ev(1)], after=0, head=(10, "h10"))
    assert first["audit_anchor"] == {"id": 10} and "audit_flag" not in first
    ok = send(hub, [ev(2)], after=1, head=(12, "h12"), check={"id": 10, "hash": "h10"})
    assert "audit_flag" not in ok
    bad = send(hub, [ev(3)], after=2, head=(13, "h13"), check={"id": 12, "hash": "other"})
    assert bad["audit_flag"] == "anchor_mismatch"
    shorter = send(hub, [], after=3, head=(5, "h5"))
    assert shorter["audit_flag"] == "chain_shorter"
    flags = [r[0] for r in hub["conn"].execute("SELECT reason FROM audit_flags ORDER BY id")]
    assert flags == ["anchor_mismatch", "chain_shorter"]
    assert hub["conn"].execute("SELECT audit_flag FROM halls").fetchone()[0].startswith("anchor_mismatch")


def test_the_page_and_api_need_the_view_token_and_refuse_a_bad_group(hub):
    c = hub["client"]
    assert c.get("/").status_code == 401 and c.get("/api/halls").get_json()["error"]["code"] == "hub_view_token"
    page = c.get("/?token=look")
    assert page.status_code == 200 and "各大厅实时状态" in page.get_data(as_text=True)
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    r = c.get("/api/stats?group=nope&token=look")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_stats_group"
    assert c.get("/manifests/sha256:nothing").status_code == 404
    bad = c.post("/ingest/a", data=b"{}", headers={citylink.SIGNATURE_HEADER: "AAAA"})
    assert bad.status_code == 401 and bad.get_json()["error"]["message"]


# --- the licence trust list ------------------------------------------------------------------


def _report(seed: int, *handles: bytes) -> dict:
    """A hall's licence_trust part: one Ed25519 key, and revoked handles."""
    from queue_server.licences import token

    signer = token.Ed25519Signer.from_seed(bytes([seed]) * 32)
    return {"keys": [token.key_entry(token.Ed25519Key(signer.public))],
            "revoked": [{"handle": token.b64u(h), "status": "revoked", "until": 2_000_000_000} for h in handles]}


def send_part(hub, part, *, hall: str = "a", key: str | None = None, events=(), sent_at: float | None = None):
    acked = hub["conn"].execute("SELECT acked_to FROM halls WHERE code = %s", (hall,)).fetchone()[0]
    hub["conn"].rollback()
    events = list(events)
    upto = events[-1]["id"] if events else acked
    body = citylink.make_batch(hall=hall, after=acked, upto=upto, events=events, audit_head={"id": 0, "hash": "0" * 64},
                               audit_check=None, figures={}, last_event_id=upto, tz="Asia/Shanghai",
                               sent_at=sent_at or time.time(), parts={"licence_trust": part})
    r = hub["client"].post(f"/ingest/{hall}", data=body,
                           headers={citylink.SIGNATURE_HEADER: citylink.sign(key or hub["key"], body)})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def trust_list(hub) -> dict | None:
    entry = next((m for m in hub["client"].get("/manifests").get_json()["manifests"]
                  if m["kind"] == citylink.TRUST_LIST_KIND), None)
    if entry is None:
        return None
    m = hub["client"].get(f"/manifests/{entry['content_hash']}").get_json()
    return citylink.verify_manifest(hub["client"].get("/hub-key").get_json()["public_key"], m)


def test_halls_licence_keys_become_one_signed_trust_list_versioned_only_on_change(hub):
    from city_hub.store import add_hall

    assert trust_list(hub) is None
    a1 = _report(1)
    assert send_part(hub, a1)["licence_trust"] == "stored"
    m1 = trust_list(hub)
    assert m1["version"] == 1 and citylink.check_trust_list(m1["content"]) == m1["content"]
    assert m1["content"]["halls"] == [{"hall": "a", "name": "A 厅", "keys": a1["keys"], "revoked": []}]
    assert send_part(hub, a1)["licence_trust"] == "unchanged"
    reordered = _report(1, b"h2", b"h1")
    assert send_part(hub, reordered)["licence_trust"] == "stored"
    m2 = trust_list(hub)
    assert m2["version"] == 2 and [r["handle"] for r in m2["content"]["halls"][0]["revoked"]] == ["aDE", "aDI"]
    assert send_part(hub, {"keys": reordered["keys"], "revoked": reordered["revoked"][::-1]})["licence_trust"] \
        == "unchanged"  # the same report in another order is the same content
    assert trust_list(hub)["version"] == 2
    out = CliRunner().invoke(hub_main, ["manifest", "publish-trust-list", "--dsn", hub["dsn"],
                                        "--key-file", hub["key_file"]])
    assert out.exit_code == 0 and out.output.startswith(f"licence_trust_list v2 {m2['content_hash']} unchanged")
    b_key = add_hall(hub["conn"], "b", "B 厅")["private_key"]
    assert send_part(hub, _report(2), hall="b", key=b_key)["licence_trust"] == "stored"
    m3 = trust_list(hub)
    assert m3["version"] == 3 and [h["hall"] for h in m3["content"]["halls"]] == ["a", "b"]
    # A late batch carrying an older report does not undo a newer one.
    assert send_part(hub, a1, sent_at=1.0)["licence_trust"] == "older"
    assert trust_list(hub)["version"] == 3


def test_a_malformed_trust_report_is_refused_alone_and_logged_once(hub):
    bad = _report(3)
    bad["keys"][0]["kid"] = "AAAAAA"  # not the key's id
    one = send_part(hub, bad, events=[ev(1)])
    assert one["licence_trust"] == "refused" and one["stored"] == 1 and one["acked"] == 1
    assert send_part(hub, bad, events=[ev(2)])["licence_trust"] == "refused"
    log = hub["conn"].execute("SELECT outcome, detail FROM ingest_log").fetchall()
    assert len(log) == 1 and log[0][0] == "bad_licence_trust" and "kid" in log[0][1]
    assert trust_list(hub) is None
    assert send_part(hub, _report(3))["licence_trust"] == "stored" and trust_list(hub)["version"] == 1
    # A hall without the part (an older hall) gets the answer it always had.
    assert "licence_trust" not in send(hub, [ev(3)], after=2)


def _commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name)


@pytest.mark.parametrize("path", list(_commands(hub_main)), ids=" ".join)
def test_every_city_hub_command_has_help_with_an_example(path):
    r = CliRunner().invoke(hub_main, [*path, "--help"])
    assert r.exit_code == 0 and "Example" in r.output and "city-hub" in r.output and "--dsn" in r.output
