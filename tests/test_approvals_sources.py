"""秒批 data sources: `queue-server data load` (whole-file refusal with line and field, atomic
reload, keyed digests instead of ID numbers), the local source, and the HTTP adapter whose
timeouts and errors are unavailable answers."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from queue_server.approvals.data import load_data, loaded
from queue_server.approvals.datasets import COLLECTIONS
from queue_server.approvals.sources import HttpSource, LocalSource, answer_facts, source_for
from queue_server.cli import main
from queue_server.errors import ValidationError
from queue_server.idkey import forget, rotate
from tests.support.queue import valid_id

ELDER = valid_id("37011419440302124")
OTHER = valid_id("37011419500815131")

GOOD = f"""{{
  "persons": [
    {{"id_number": "{ELDER}", "name": "王秀兰", "hukou_region": "370114", "death_date": null}},
    {{"id_number": "{OTHER}", "name": "李德胜", "hukou_region": "370102"}}
  ],
  "benefits": [
    {{"id_number": "{OTHER}", "benefit": "elderly_allowance", "since": "2024-05-01"}}
  ],
  "social_insurance": [
    {{"id_number": "{ELDER}", "region": "370114", "kind": "pension", "from_month": "2015-03",
      "to_month": "2026-11", "status": "normal"}}
  ]
}}
"""


def rows(db, collection: str) -> int:
    return db.conn.execute("SELECT COUNT(*) FROM source_records WHERE collection = ?", (collection,)).fetchone()[0]


def test_load_stores_rows_keyed_by_keyed_digests_never_the_id_number(db, db_path: Path):
    assert load_data(db, GOOD) == {"persons": 2, "benefits": 1, "social_insurance": 1}
    dump = "\n".join(db.conn.iterdump())
    assert ELDER not in dump and ELDER[:17] not in dump and "王秀兰" in dump  # names: what the source says
    subject = db.conn.execute("SELECT subject FROM source_records WHERE collection = 'persons' LIMIT 1").fetchone()[0]
    assert subject.startswith("k1:") and len(subject) == 3 + 64
    assert {r["collection"]: r["rows"] for r in loaded(db)} == {"persons": 2, "benefits": 1, "social_insurance": 1}
    answer = LocalSource(db).fetch(COLLECTIONS["persons"], ELDER, "2026-12-02")
    assert answer.status == "ok"
    assert answer_facts(COLLECTIONS["persons"], answer) == {"person.hukou_region": "370114", "person.death_date": None}
    missing = LocalSource(db).fetch(COLLECTIONS["persons"], valid_id("37011419990101123"), "2026-12-02")
    assert (missing.status, answer_facts(COLLECTIONS["persons"], missing)) == ("no_record", {})
    none = LocalSource(db).fetch(COLLECTIONS["benefits"], ELDER, "2026-12-02")
    assert answer_facts(COLLECTIONS["benefits"], none) == {"benefits.records": []}  # an answer: empty


def test_rows_loaded_under_an_old_key_still_match_after_a_key_rotation(db, db_path: Path):
    load_data(db, GOOD)
    rotate(str(db_path))
    forget()
    answer = LocalSource(db).fetch(COLLECTIONS["persons"], ELDER, "2026-12-02")
    assert answer.status == "ok"


@pytest.mark.parametrize("change, line, where, what", [
    (lambda t: t.replace('"death_date": null', '"death_date": "2026-13-01"'), 3, "persons[0].death_date", "ISO date"),
    (lambda t: t.replace(OTHER, OTHER[:-1] + ("0" if OTHER[-1] != "0" else "1"), 1), 4, "persons[1].id_number",
     "GB 11643"),
    (lambda t: t.replace('"hukou_region": "370102"', '"hukou_region": "3701"'), 4, "persons[1].hukou_region", "6-digit"),
    (lambda t: t.replace('"status": "normal"', '"status": "paused"'), 11, "social_insurance[0].status", "normal"),
    (lambda t: t.replace('"to_month": "2026-11"', '"to_month": "2026-11", "extra": 1'), 11,
     "social_insurance[0].extra", "unknown field"),
    (lambda t: t.replace('"benefits"', '"benefit_list"'), 6, "benefit_list", "unknown collection"),
    (lambda t: t.replace('"name": "李德胜", ', ''), 4, "persons[1].name", "required"),
    (lambda t: t.replace(f'"id_number": "{OTHER}", "name"', f'"id_number": "{ELDER}", "name"'), 4, "persons[1]",
     "second record"),
    (lambda t: t.replace('"since": "2024-05-01"}', '"since": "2024-05-01",}'), 7, "(file)", "not valid JSON"),
])
def test_a_bad_file_is_refused_whole_with_the_line_and_field(db, change, line, where, what):
    load_data(db, GOOD)
    before = db.conn.execute("SELECT collection, subject, data FROM source_records ORDER BY id").fetchall()
    with pytest.raises(ValidationError) as err:
        load_data(db, change(GOOD).replace('"benefit": "elderly_allowance"', '"benefit": "x"'))
    e = err.value
    assert e.code == "bad_data_file" and e.status == 422
    assert (e.details["line"], e.details["where"]) == (line, where) and what in e.details["what"]
    after = db.conn.execute("SELECT collection, subject, data FROM source_records ORDER BY id").fetchall()
    assert [tuple(r) for r in after] == [tuple(r) for r in before]  # nothing written


def test_a_reload_replaces_only_the_collections_in_the_file_atomically(db):
    load_data(db, GOOD)
    load_data(db, json.dumps({"benefits": []}))
    assert (rows(db, "persons"), rows(db, "benefits"), rows(db, "social_insurance")) == (2, 0, 1)


def test_the_cli_loads_and_reports_line_and_field(db_path: Path, tmp_path: Path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(GOOD.replace('"death_date": null', '"death_date": "yesterday"'), encoding="utf-8")
    r = CliRunner().invoke(main, ["data", "load", "--db", str(db_path), str(good)])
    assert r.exit_code == 0 and "persons: 2 rows" in r.output
    r = CliRunner().invoke(main, ["data", "load", "--db", str(db_path), str(bad)])
    assert r.exit_code == 1 and "line 3" in r.output and "persons[0].death_date" in r.output


class _Registry(BaseHTTPRequestHandler):
    mode = "ok"
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Registry.seen.append({**body, "auth": self.headers.get("Authorization")})
        if _Registry.mode == "slow":
            time.sleep(1.0)
        if _Registry.mode == "error":
            self.send_response(500)
            self.end_headers()
            return
        records = [{"name": "王秀兰", "hukou_region": "370114", "death_date": None}]
        if _Registry.mode == "bad":
            records = [{"name": "王秀兰", "hukou_region": "37"}]
        data = json.dumps({"records": records if body["key"] == ELDER else []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/persons"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("mode, status", [("ok", "ok"), ("slow", "unavailable"), ("error", "unavailable"),
                                          ("bad", "unavailable")])
def test_the_http_adapter_answers_or_is_unavailable(db, registry_url, monkeypatch, mode, status):
    monkeypatch.setenv("GA_TOKEN", "secret-token")
    _Registry.mode = mode
    _Registry.seen.clear()
    source = source_for(db, "persons", {"persons": {"url": registry_url, "timeout": 0.3, "token_env": "GA_TOKEN"}})
    assert isinstance(source, HttpSource)
    answer = source.fetch(COLLECTIONS["persons"], ELDER, "2026-12-02")
    assert answer.status == status, answer.detail
    assert _Registry.seen[0] == {"collection": "persons", "key": ELDER, "date": "2026-12-02",
                                 "auth": "Bearer secret-token"}
    facts = answer_facts(COLLECTIONS["persons"], answer)
    assert (facts == {"person.hukou_region": "370114", "person.death_date": None}) == (status == "ok")
    if status != "ok":
        assert facts == {}


def test_an_unreachable_or_misconfigured_source_is_unavailable(db):
    down = source_for(db, "persons", {"persons": {"url": "http://127.0.0.1:9/persons", "timeout": 0.3}})
    assert down.fetch(COLLECTIONS["persons"], ELDER, "2026-12-02").status == "unavailable"
    broken = source_for(db, "persons", {"persons": {"url": "ftp://x"}})
    assert broken.fetch(COLLECTIONS["persons"], ELDER, "2026-12-02").status == "unavailable"
