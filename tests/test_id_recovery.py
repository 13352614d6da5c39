"""An attacker with the hall's files — the database and an archive, not the key file —
cannot get ID numbers back (issue 16, Personal data).

A hall is seeded through the API with citizens who took tickets with their ID card, checked
in an appointment by ID, applied for 秒批 and hold e-licences; yesterday is archived. The
attack (``tests/support/privacy.py``) reads every masked ID stored anywhere and searches the
birth dates around each citizen's true one × every hidden digit, hashing each candidate the
ways a careless store would, against every hex string in every table of both files. It
finds nothing — and the control, one extra column holding the unkeyed SHA-256 the hall used
to store, is recovered in full by the same search, so the search is not too weak to find.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import shutil
import sqlite3
import time

import pytest

from hardware.idnumber import mask_id_number
from queue_server import create_app
from queue_server.approvals.demo import IDS
from queue_server.archive import archive_days
from queue_server.demo import DEMO_CITIZENS, make_hall, synthetic_id_number
from queue_server.idkey import key_file_for
from tests.support.privacy import brute_force, full_ids, masked_ids
from tests.support.queue import FakeClock, add_appointment


def _birth(number: str) -> dt.date:
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    from queue_server.migrations import open_db

    base = tmp_path_factory.mktemp("idrec")
    path = base / "hall.db"
    db = open_db(path)
    clock = FakeClock()
    clock.set("2026-11-24", "10:00")
    made_tokens = make_hall(db, tokens=True, appointments=0, licences=True, clock=clock)["tokens"]
    app = create_app({"DB_PATH": str(path), "TESTING": True, "CLOCK": clock})
    client = app.test_client()
    rng = random.Random(16)
    citizens = [synthetic_id_number(rng) for _ in range(8)] + list(DEMO_CITIZENS)
    approvals = [IDS["elder_ok"], IDS["elder_young"]]

    def post(url, body, role="kiosk"):
        r = client.post(url, json=body, headers={"Authorization": f"Bearer {made_tokens[role]}"})
        assert r.status_code in (200, 201), (url, r.get_data(as_text=True))
        return r.json

    # yesterday: tickets with an ID, an appointment checked in by ID, approvals
    for i, number in enumerate(citizens[:6]):
        post("/api/tickets", {"service": "QY01" if i % 2 else "SB01", "id_number": number, "print": False})
    add_appointment(db, "Y0001", "QY01", "10:00", "10:30", day="2026-11-24", id_number=citizens[6])
    post("/api/appointments/check-in", {"id_number": citizens[6]})
    add_appointment(db, "Y0002", "QY01", "15:00", "15:30", day="2026-11-24", id_number=citizens[7])
    for who in ("elder_ok", "elder_young"):
        r = client.post("/api/approvals", json={"item": "elderly_allowance",
                                                "applicant": {"id_number": IDS[who], "name": "王秀兰"},
                                                "verification": {"method": "face", "score": 0.82}},
                        headers={"Authorization": f"Bearer {made_tokens['kiosk']}"})
        assert r.status_code in (200, 201), r.get_data(as_text=True)
    # today: the demo citizens take tickets too
    clock.set("2026-11-25", "09:30")
    for number in DEMO_CITIZENS:
        post("/api/tickets", {"service": "SB01", "id_number": number, "print": False})
    archive = base / "archive-2026.db"
    summary = archive_days(db, archive, before="2026-11-25")
    assert summary["moved"].get("tickets", 0) >= 6
    db.conn.close()
    from queue_server import app as app_module

    for conn in getattr(app_module._local, "conns", {}).values():
        conn.conn.close()
    app_module._local.conns = {}
    seeded = sorted(set(citizens + approvals))
    yield {"db": path, "archive": archive, "citizens": seeded, "base": base}


def _births(numbers) -> dict[str, dt.date]:
    return {mask_id_number(n): _birth(n) for n in numbers}


def test_the_files_hold_the_masked_ids_an_attacker_would_start_from(hall):
    masked = masked_ids([hall["db"], hall["archive"]])
    # tickets (live and archived), appointments, approval holders, licence holders
    assert {mask_id_number(n) for n in hall["citizens"]} <= masked


def test_no_full_id_number_is_stored_anywhere(hall):
    assert full_ids([hall["db"], hall["archive"]]) == []


def test_the_key_is_not_in_the_files(hall):
    ring = json.loads(key_file_for(str(hall["db"])).read_text())
    for key in ring["keys"].values():
        for path in (hall["db"], hall["archive"]):
            assert key.encode() not in path.read_bytes()
            assert bytes.fromhex(key) not in path.read_bytes()


def test_brute_force_from_the_database_and_archive_alone_finds_nothing(hall):
    t0 = time.perf_counter()
    found, tried = brute_force([hall["db"], hall["archive"]], _births(hall["citizens"]), days=20)
    assert tried > 100_000, tried  # the search really ran: every citizen, every candidate, every hash
    assert found == set()
    assert time.perf_counter() - t0 < 60


def test_control_an_unkeyed_sha256_column_is_recovered_by_the_same_search(hall, tmp_path):
    """Proof that the search above would find a weak store: add the old unkeyed SHA-256
    (and a salted one, its salt in the settings as ``id_salt`` was) beside the masked IDs."""
    weak = tmp_path / "weak.db"
    shutil.copy(hall["db"], weak)
    conn = sqlite3.connect(weak)
    try:
        conn.execute("CREATE TABLE weak_tickets (id_masked TEXT, id_hash TEXT, id_salted TEXT)")
        conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('id_salt', '\"hall-salt-1\"')")
        for n in hall["citizens"]:
            conn.execute("INSERT INTO weak_tickets VALUES (?, ?, ?)", (
                mask_id_number(n), hashlib.sha256(n.encode()).hexdigest(),
                hashlib.sha256(b"hall-salt-1" + n.encode()).hexdigest()))
        conn.commit()
    finally:
        conn.close()
    found, _tried = brute_force([weak], _births(hall["citizens"]), days=20)
    assert found == set(hall["citizens"])

    salted_only = tmp_path / "salted.db"
    shutil.copy(weak, salted_only)
    conn = sqlite3.connect(salted_only)
    try:
        conn.execute("UPDATE weak_tickets SET id_hash = NULL")
        conn.commit()
    finally:
        conn.close()
    found, _tried = brute_force([salted_only], _births(hall["citizens"]), days=20)
    assert found == set(hall["citizens"])


def test_full_id_scan_would_see_a_stored_number(hall, tmp_path):
    leaky = tmp_path / "leaky.db"
    shutil.copy(hall["archive"], leaky)
    conn = sqlite3.connect(leaky)
    try:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES (?)", (f"客户身份证 {hall['citizens'][0]} 已核验",))
        conn.commit()
    finally:
        conn.close()
    assert [n for _t, _c, n in full_ids([leaky])] == [hall["citizens"][0]]
