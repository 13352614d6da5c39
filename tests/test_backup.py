"""Backups: online under load, checked, pruned, daily by themselves; restore brings every
acknowledged ticket back and numbering continues without reusing a number."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from queue_server import backup as bk
from queue_server import schedule
from queue_server.audit.chain import verify
from queue_server.db import connect
from queue_server.demo import make_hall
from queue_server.migrations import open_db
from queue_server.settings import set_setting
from tests.support.common import free_port
from tests.support.queue import ROOT, FakeClock, Server, hall_time, request


@pytest.fixture
def hall_db(db_path: Path) -> tuple[Path, dict]:
    db = connect(db_path)
    made = make_hall(db, tokens=True, appointments=0)
    db.conn.close()
    return db_path, made


@pytest.mark.slow
def test_backup_under_load_then_restore_keeps_every_acknowledged_ticket(hall_db, tmp_path):
    db_path, made = hall_db
    server = Server(db_path, free_port()).start()
    acked: list[str] = []
    stop = threading.Event()

    def issue_forever() -> None:
        while not stop.is_set():
            status, body = request("POST", server.port, "/api/tickets", {"service": "QY01"},
                                   token=made["tokens"]["kiosk"])
            if status == 201:
                acked.append(body["number"])

    workers = [threading.Thread(target=issue_forever) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        time.sleep(0.8)
        before = list(acked)  # acknowledged before the backup started
        out = subprocess.run([sys.executable, "-m", "queue_server.cli", "backup", "--db", str(db_path),
                              "--out", str(tmp_path / "bk"), "--keep", "3"], cwd=str(ROOT), capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        time.sleep(0.3)
    finally:
        stop.set()
        for w in workers:
            w.join()
    # While the backup ran, issuing went on.
    assert len(acked) > len(before) > 5
    refused = subprocess.run([sys.executable, "-m", "queue_server.cli", "restore", "--db", str(db_path),
                              str(bk.backups(tmp_path / "bk")[0])], cwd=str(ROOT), capture_output=True, text=True)
    assert refused.returncode == 1 and "stop it" in refused.stderr  # never under a running server
    server.stop()
    [copy] = bk.backups(tmp_path / "bk")
    result = bk.restore(db_path, copy, skip=100)
    assert result["kept_aside"] and Path(result["kept_aside"]).exists()
    db = connect(db_path)
    restored = {r[0] for r in db.conn.execute("SELECT number FROM tickets")}
    assert set(before) <= restored
    assert verify(db).ok
    db.conn.close()
    server = Server(db_path, free_port()).start()
    try:
        status, body = request("POST", server.port, "/api/tickets", {"service": "QY01"}, token=made["tokens"]["kiosk"])
    finally:
        server.stop()
    assert status == 201
    # No number printed after the backup is handed out again.
    top = max(int(n[1:]) for n in acked)
    assert int(body["number"][1:]) > top


def test_a_backup_is_checked_and_old_ones_are_pruned(hall_db, tmp_path):
    db_path, _ = hall_db
    db = open_db(db_path)
    made = [bk.backup(db, tmp_path, keep=2, now=1764700000 + i)["file"] for i in range(3)]
    assert [p.name for p in bk.backups(tmp_path)] == [Path(made[2]).name, Path(made[1]).name]
    bad = tmp_path / "hall-20990101-000000.db"
    bad.write_bytes(b"not a database")
    with pytest.raises(RuntimeError, match="not a usable backup"):
        bk.restore(db_path, bad)


def test_the_daily_backup_runs_once_per_day_in_one_process_only(hall_db, tmp_path):
    db_path, _ = hall_db
    a, b = open_db(db_path), open_db(db_path)
    set_setting(a, "backup_dir", str(tmp_path / "daily"))
    set_setting(a, "backup_time", "22:30")
    clock = FakeClock(hall_time("2026-12-02", "22:00"))
    assert schedule.run_due(a, clock(), only="backup") == []  # too early
    clock.set("2026-12-02", "22:31")
    results = []
    threads = [threading.Thread(target=lambda d=d: results.extend(schedule.run_due(d, clock(), only="backup")))
               for d in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and results[0]["error"] is None
    assert len(bk.backups(tmp_path / "daily")) == 1
    assert schedule.run_due(a, clock(), only="backup") == []  # done for today
    clock.set("2026-12-03", "23:00")
    assert len(schedule.run_due(a, clock(), only="backup")) == 1
    assert [h["job"] for h in schedule.history(a)] == ["backup", "backup"]


def test_when_the_current_file_is_unreadable_todays_counters_move_ahead(hall_db, tmp_path):
    from queue_server import queue as engine

    db_path, _ = hall_db
    db = open_db(db_path)
    engine.issue_ticket(db, "QY01")
    copy = bk.backup(db, tmp_path)["file"]
    db.conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    db_path.write_bytes(b"garbage: the disk mangled it")
    result = bk.restore(db_path, copy, skip=50)
    assert result["counters_skipped"] == 1
    db = connect(db_path)
    assert engine.issue_ticket(db, "QY01")["number"] == "A052"
