"""Retention: personal fields are cleared once their time is over, in the database and the
archive files, the audit chain still verifies, and the daily scheduler does it by itself
(docs/privacy.md)."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from queue_server import create_app
from queue_server.approvals.demo import IDS
from queue_server.archive import archive_days
from queue_server.audit.chain import verify
from queue_server.db import connect
from queue_server.demo import make_hall, synthetic_id_number
from queue_server.purge import purge
from queue_server.schedule import run_due
from queue_server.settings import set_setting
from tests.support.privacy import HEX, full_ids, texts
from tests.support.queue import ROOT, FakeClock, add_appointment, hall_time

#: Tables that keep masked IDs or keyed digests by design (docs/privacy.md): the e-licence
#: register mirrors the issuing authority's register, and the 秒批 shared-data tables are
#: the government's data sources (keyed digests only, reloaded by the hall's operator).
#: ``verify_refs``: what a printed certificate's QR shows (/v/<ref>), the same masked lines
#: as on the paper the citizen holds, kept while the certificate may be checked.
REGISTERS = {"licences", "licence_numbers", "source_records", "verify_refs"}


def _close_app_connections() -> None:
    from queue_server import app as app_module

    for conn in getattr(app_module._local, "conns", {}).values():
        conn.conn.close()
    app_module._local.conns = {}


@pytest.fixture
def hall(tmp_path):
    from queue_server.migrations import open_db

    path = tmp_path / "hall.db"
    db = open_db(path)
    clock = FakeClock()
    clock.set("2026-11-24", "10:00")
    tokens = make_hall(db, tokens=True, appointments=0, licences=True, clock=clock)["tokens"]
    app = create_app({"DB_PATH": str(path), "TESTING": True, "CLOCK": clock})
    client = app.test_client()
    rng = random.Random(7)
    people = [synthetic_id_number(rng) for _ in range(6)]

    def post(url, body, role="kiosk"):
        r = client.post(url, json=body, headers={"Authorization": f"Bearer {tokens[role]}"})
        assert r.status_code in (200, 201), (url, r.get_data(as_text=True))
        return r.json

    for day in ("2026-11-23", "2026-11-24"):
        clock.set(day, "10:00")
        for number in people[:4]:
            t = post("/api/tickets", {"service": "SB01", "id_number": number, "print": False,
                                      "referral_reason": f"证件 {number[:4]} 问题"})
        post(f"/api/tickets/{t['id']}/transfer", {"window": 2, "note": "客户张三 转窗"}, role="admin")
    add_appointment(db, "Y0001", "QY01", "10:00", "10:30", day="2026-11-24", id_number=people[4])
    r = client.post("/api/approvals", json={"item": "elderly_allowance",
                                            "applicant": {"id_number": IDS["elder_ok"], "name": "王秀兰"},
                                            "verification": {"method": "face", "score": 0.82}},
                    headers={"Authorization": f"Bearer {tokens['kiosk']}"})
    assert r.status_code in (200, 201), r.get_data(as_text=True)
    archive = tmp_path / "hall-2026.archive.db"
    archive_days(db, archive, before="2026-11-24")
    h = {"db": db, "path": path, "archive": archive, "clock": clock, "people": people}
    yield h
    h["db"].conn.close()
    _close_app_connections()


def _personal_left(paths) -> list[tuple[str, str, str]]:
    left = []
    for table, col, text in texts(paths):
        if table in REGISTERS or table == "audit":
            continue
        if masked_ids_in(text) or (HEX.search(text) and col in ("id_hash", "holder", "inputs", "id_masked",
                                                                  "subject", "evaluator", "staff_note")):
            left.append((table, col, text[:60]))
    return left


def masked_ids_in(text: str) -> bool:
    from tests.support.privacy import MASKED

    return MASKED.search(text) is not None


def _personal_columns(path) -> dict[str, int]:
    """Non-empty personal columns per table.column."""
    conn = connect(path).conn
    try:
        out = {}
        for table, cols in (("tickets", ("id_hash", "id_masked", "referral_reason", "transfer_note")),
                            ("appointments", ("id_hash", "id_masked")),
                            ("approval_cases", ("staff_note",))):
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            for c in cols:
                if c in have:
                    out[f"{table}.{c}"] = conn.execute(
                        f"SELECT COUNT(*) FROM {table} WHERE {c} IS NOT NULL AND {c} != ''").fetchone()[0]
        for table, col in (("appointments", "name_masked"), ("approval_cases", "holder")):
            out[f"{table}.{col}"] = conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE {col} NOT IN ('', '{{}}')").fetchone()[0] \
                if table in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")} else 0
        return out
    finally:
        conn.close()


def test_today_is_kept_until_the_end_of_the_day_then_nothing_personal_remains(hall):
    db, clock = hall["db"], hall["clock"]
    assert any(_personal_columns(hall["archive"]).values())  # archived days hold personal fields
    # at 10:00 on the 24th: the 23rd (archived) goes, the 24th stays (per-ID limits, check-in)
    result = purge(db, now=hall_time("2026-11-24", "10:00"))
    assert result["through"]["retention.queue_days"] == "2026-11-23"
    assert not any(_personal_columns(hall["archive"]).values())
    live = _personal_columns(hall["path"])
    assert live["tickets.id_hash"] == 4 and live["appointments.id_hash"] == 1
    assert result["cleared"]["hall-2026.archive.db:tickets"] == 4
    # after purge_time (23:00) the day's own fields go too
    set_setting(db, "retention.record_days", 1)
    clock.set("2026-11-25", "23:30")
    result = purge(db, now=clock())
    assert not any(_personal_columns(hall["path"]).values()), _personal_columns(hall["path"])
    assert _personal_left([hall["path"], hall["archive"]]) == []
    assert full_ids([hall["path"], hall["archive"]]) == []
    assert [(t, c) for t, c, x in texts([hall["path"], hall["archive"]])
            if t not in REGISTERS and masked_ids_in(x)] == []
    assert result["longest_tx_ms"] < 50
    assert verify(db).ok


def test_retention_days_keep_the_fields_that_long(hall):
    db = hall["db"]
    set_setting(db, "retention.queue_days", 3)
    purge(db, now=hall_time("2026-11-25", "23:30"))  # through the 22nd: nothing of ours yet
    assert _personal_columns(hall["path"])["tickets.id_hash"] == 4
    assert _personal_columns(hall["archive"])["tickets.id_hash"] == 4
    purge(db, now=hall_time("2026-11-27", "23:30"))  # through the 24th
    assert not [v for k, v in _personal_columns(hall["path"]).items() if k.startswith(("tickets", "appo")) and v]


def test_retention_settings_are_bounded(hall):
    from queue_server.errors import ValidationError

    for name, bad in (("retention.queue_days", -1), ("retention.queue_days", 366), ("retention.record_days", 0),
                      ("retention.record_days", 10**6), ("purge_time", "25:00")):
        with pytest.raises(ValidationError):
            set_setting(hall["db"], name, bad)


def test_the_daily_scheduler_runs_the_purge(hall):
    import queue_server.purge  # noqa: F401 - registers the daily job

    db = hall["db"]
    ran = run_due(db, now=hall_time("2026-11-24", "22:59"))
    assert "purge" not in [r["job"] for r in ran]
    ran = [r for r in run_due(db, now=hall_time("2026-11-24", "23:05")) if r["job"] == "purge"]
    assert len(ran) == 1 and ran[0]["error"] is None
    assert ran[0]["result"]["through"]["retention.queue_days"] == "2026-11-24"
    assert not any(v for k, v in _personal_columns(hall["path"]).items() if k.startswith(("tickets", "appo")))
    assert not any(_personal_columns(hall["archive"]).values())
    assert verify(db).ok


def test_cli_purge_prints_progress_counts(hall):
    hall["db"].conn.close()
    proc = subprocess.run([sys.executable, "-m", "queue_server.cli", "purge", "--db", str(hall["path"])],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    hall["db"] = connect(hall["path"])
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert str(hall["archive"]) in result["archives"]
    assert "purged: hall-2026.archive.db:tickets 4 rows cleared" in proc.stderr
