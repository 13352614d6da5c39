"""Storage trouble answered plainly: a full disk, a lock held elsewhere and a read-only
database give a 503 with their own code and a Chinese message, /api/health tells the
truth, reads keep answering, and the server recovers by itself when the fault clears."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from queue_server.db import connect
from queue_server.demo import make_hall
from tests.support.common import free_port
from tests.support.queue import ROOT, request

pytestmark = pytest.mark.slow


def _ignore_sigxfsz() -> None:
    # Inherited across exec: writes past RLIMIT_FSIZE then fail with EFBIG (SQLite: "disk is
    # full") instead of killing the process, as on a real full disk.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


@pytest.fixture
def hall_db(db_path: Path) -> tuple[Path, dict]:
    db = connect(db_path)
    made = make_hall(db, tokens=True, appointments=0)
    db.conn.close()
    return db_path, made


def start_server(db_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "queue_server.cli", "serve", "--db", str(db_path), "--port", str(port),
         "--threads", "16"],
        cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_ignore_sigxfsz,
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            if request("GET", port, "/api/health")[0] == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=10)


def issue(port: int, token: str) -> tuple[int, dict]:
    return request("POST", port, "/api/tickets", {"service": "QY01"}, token=token)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real, small file system (tmpfs) for the hall database: writes past its end fail with
    ENOSPC exactly as on a full disk. Needs root (CI runs as root)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_answers_503_and_the_server_recovers_when_space_returns(small_disk):
    db_path = small_disk / "hall.db"
    db = connect(db_path)
    from queue_server.migrations import migrate

    migrate(db)
    made = make_hall(db, tokens=True, appointments=0)
    db.conn.close()
    kiosk = made["tokens"]["kiosk"]
    proc, port = start_server(db_path)
    filler = small_disk / "filler"
    try:
        status, first = issue(port, kiosk)
        assert status == 201
        issued = [first["number"]]
        # Something else fills the disk to the last byte.
        with open(filler, "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 65536)
            except OSError:
                pass
            try:
                while True:
                    fh.write(b"\0" * 512)
            except OSError:
                pass
        for _ in range(2000):
            status, body = issue(port, kiosk)
            if status != 201:
                break
            issued.append(body["number"])
        assert status == 503, body
        assert body["error"]["code"] == "storage_full" and "存储空间已满" in body["error"]["message"]
        assert body["error"]["advice"]
        health_status, health = request("GET", port, "/api/health")
        assert health_status == 503 and health.get("storage", {}).get("state") == "storage_full", health
        # Reads that do not need the writer keep answering.
        state_status, state = request("GET", port, "/api/state", token=made["tokens"]["display"])
        assert state_status == 200, state
        # Space comes back: the next requests work, nothing restarted.
        filler.unlink()
        status, body = issue(port, kiosk)
        assert status == 201, body
        issued.append(body["number"])
        health_status, health = request("GET", port, "/api/health")
        assert health_status == 200, health
    finally:
        stop(proc)
    db = connect(db_path)
    stored = [r[0] for r in db.conn.execute("SELECT number FROM tickets ORDER BY id")]
    db.conn.close()
    # Every acknowledged ticket is there, none twice, numbering continued without reuse.
    assert stored == issued and len(set(stored)) == len(stored)


def test_a_lock_held_by_another_program_answers_503_busy_and_reads_go_on(hall_db):
    db_path, made = hall_db
    proc, port = start_server(db_path)
    other = sqlite3.connect(str(db_path), isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # e.g. someone's sqlite3 shell left a transaction open
        t0 = time.monotonic()
        status, body = issue(port, made["tokens"]["kiosk"])
        assert status == 503 and body["error"]["code"] == "storage_busy"
        assert time.monotonic() - t0 < 8  # answered, not held open
        assert request("GET", port, "/api/state", token=made["tokens"]["display"])[0] == 200
        health_status, health = request("GET", port, "/api/health")
        assert health_status == 503 and health["storage"]["state"] == "storage_busy"
        other.execute("ROLLBACK")
        assert issue(port, made["tokens"]["kiosk"])[0] == 201
        assert request("GET", port, "/api/health")[0] == 200
    finally:
        other.close()
        stop(proc)


def _read_only(directory: Path) -> Path:
    """A read-only view of ``directory``: a read-only bind mount as root (root ignores file
    modes), the file modes otherwise."""
    if os.geteuid() == 0:
        view = directory.parent / (directory.name + "-ro")
        view.mkdir()
        subprocess.run(["mount", "--bind", str(directory), str(view)], check=True)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
        return view
    for p in directory.iterdir():
        p.chmod(0o444)
    directory.chmod(0o555)
    return directory


def test_a_read_only_database_at_start_is_one_clear_line(hall_db, tmp_path):
    db_path, _ = hall_db
    src = db_path.parent
    view = _read_only(src)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "queue_server.cli", "serve", "--db", str(view / db_path.name), "--port",
             str(free_port())], cwd=str(ROOT), capture_output=True, text=True, timeout=30,
        )
        assert out.returncode == 1
        lines = [x for x in out.stderr.strip().splitlines() if x.strip()]
        assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
        assert "只读" in lines[0] and "read-only" in lines[0]
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(view)], check=False)
        else:
            src.chmod(0o755)


def test_health_reports_free_space(hall_db):
    from queue_server.storage import check

    db_path, _ = hall_db
    report = check(str(db_path))
    assert report["state"] == "ok" and report["writable"] and report["free_mb"] > 0
    assert json.dumps(report)
