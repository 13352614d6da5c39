"""The server's print queue, end to end: API → jobs table → worker → loopback TCP printer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hardware.printer.sim import SimulatedNetworkPrinter
from queue_server.db import connect, write_tx
from queue_server.printing import jobs
from queue_server.printing.worker import WorkerConfig, start_workers, stop_workers
from tests.support.escpos_decode import QR, decode, text_lines

FAST = WorkerConfig(idle_poll=0.05, pause_poll=0.05, status_interval=0.5, backoff_base=0.05,
                    backoff_cap=0.2, rescan=0.1, max_attempts=4)


@pytest.fixture
def hall(db_path: Path) -> dict:
    from queue_server.demo import make_hall

    db = connect(db_path)
    made = make_hall(db, tokens=True, windows=3, appointments=0)
    db.conn.close()
    return made


@pytest.fixture
def app(db_path: Path, hall: dict):
    from queue_server import create_app

    return create_app({"DB_PATH": str(db_path), "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def printer_sim():
    with SimulatedNetworkPrinter() as sim:
        yield sim


@pytest.fixture
def workers(db_path: Path):
    pool = start_workers(db_path, FAST)
    yield pool
    stop_workers(db_path)


def auth(hall: dict, role: str) -> dict:
    return {"Authorization": f"Bearer {hall['tokens'][role]}"}


def add_printer(db_path: Path, url: str, name: str = "lobby-1", **options) -> None:
    db = connect(db_path)
    jobs.add_printer(db, name, url, {"paper": 58, **options}, default=True)
    db.conn.close()


def issue(client, hall: dict, service: str = "QY01", **extra) -> dict:
    r = client.post("/api/tickets", json={"service": service, "print": True, **extra},
                    headers=auth(hall, "kiosk"))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def job_rows(db_path: Path) -> list[tuple]:
    db = connect(db_path)
    try:
        return [tuple(r) for r in db.conn.execute(
            "SELECT id, state, attempts, last_error FROM print_jobs ORDER BY id")]
    finally:
        db.conn.close()


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_ticket_issued_with_print_is_printed_with_a_progress_qr(client, hall, db_path, printer_sim, workers):
    add_printer(db_path, printer_sim.url)
    t = issue(client, hall)
    assert t["print"]["status"] == "queued" and t["print"]["job_id"] > 0
    [receipt] = printer_sim.wait_for_receipts(1)
    lines = text_lines(receipt.data)
    assert t["number"] in lines
    assert "济南市章丘区政务服务中心" in lines
    assert "企业设立登记" in lines
    assert any(line.startswith("取号时间：") for line in lines)
    qr = [i for i in decode(receipt.data) if isinstance(i, QR)]
    assert qr[0].payload == f"http://localhost/t/{t['progress_code']}"
    wait_for(lambda: job_rows(db_path)[0][1] == "done", what="job done")


def test_printed_ticket_shows_people_ahead_and_the_halls_tip(client, hall, db_path, printer_sim, workers):
    from queue_server.settings import set_setting

    db = connect(db_path)
    set_setting(db, "ticket_tip", "过号无效，请重新取号。办事不收费（￥0）")
    db.conn.close()
    add_printer(db_path, printer_sim.url)
    for _ in range(3):
        issue(client, hall, service="QY03")
    receipts = printer_sim.wait_for_receipts(3)
    lines = text_lines(receipts[2].data)
    assert "您前面还有 2 人等候" in lines
    assert any(line.startswith("预计等候：约 ") for line in lines)
    assert "温馨提示：过号无效，请重新取号。办事不收费（￥0）" in "".join(lines)
    assert "您前面没有人等候，请留意叫号" in text_lines(receipts[0].data)


def test_public_url_setting_is_used_for_the_qr(client, hall, db_path, printer_sim, workers):
    db = connect(db_path)
    with write_tx(db) as conn:  # an extra stored key; see docs/printing.md
        conn.execute("INSERT INTO settings (key, value) VALUES ('public_url', ?)",
                     (json.dumps("https://hall.example.gov.cn/"),))
    from queue_server.settings import invalidate

    invalidate()
    db.conn.close()
    add_printer(db_path, printer_sim.url)
    t = issue(client, hall)
    [receipt] = printer_sim.wait_for_receipts(1)
    qr = next(i for i in decode(receipt.data) if isinstance(i, QR))
    assert qr.payload == f"https://hall.example.gov.cn/t/{t['progress_code']}"


def test_without_a_printer_the_ticket_is_issued_and_says_not_configured(client, hall):
    t = issue(client, hall)
    assert t["number"].startswith("A")
    assert t["print"]["status"] == "not_configured"


def test_unknown_printer_name_is_not_configured(client, hall, db_path, printer_sim):
    add_printer(db_path, printer_sim.url)
    t = issue(client, hall, printer="nope")
    assert t["print"]["status"] == "not_configured"


def test_printing_never_happens_inside_the_request(client, hall, db_path, printer_sim, workers):
    add_printer(db_path, printer_sim.url)
    printer_sim.set_state(delay=1.0)  # a slow printer: every status answer takes 1 s
    t0 = time.monotonic()
    t = issue(client, hall)
    assert time.monotonic() - t0 < 0.9  # printing in the request would take ≥ 1 s
    assert t["print"]["status"] == "queued"
    printer_sim.wait_for_receipts(1, timeout=10)


def test_paper_out_mid_queue_loses_no_ticket_and_resumes_in_order(client, hall, db_path, printer_sim, workers):
    add_printer(db_path, printer_sim.url)
    printer_sim.run_out_after(3)  # the roll ends during the 4th receipt
    numbers = [issue(client, hall, service="QY01" if i % 2 else "QY02")["number"] for i in range(8)]

    def paused():
        p = client.get("/api/printers", headers=auth(hall, "technician")).get_json()["printers"][0]
        return p if p["paused"] else None

    p = wait_for(paused, what="printer paused")
    assert p["status"] == "paper_out" and p["paused_reason"] == "paper_out"
    time.sleep(0.3)  # paused means paused: nothing more is printed or lost
    assert len(printer_sim.receipts) == 3
    assert len(printer_sim.discarded) == 1  # the receipt cut short by the paper end
    assert paused()["queue"] == 5  # the cut-short ticket is back in the queue, first

    printer_sim.set_state(paper="ok")  # the technician refills; the worker notices by itself
    receipts = printer_sim.wait_for_receipts(8)
    printed = [next(line for line in text_lines(r.data) if line in numbers) for r in receipts]
    assert printed == numbers  # every ticket once, in issue order
    marked = [text_lines(r.data)[0] == "【补打 REPRINT】" for r in receipts]
    assert marked == [False, False, False, True, False, False, False, False]  # the cut-short one
    wait_for(lambda: all(r[1] == "done" for r in job_rows(db_path)), what="all jobs done")
    after = client.get("/api/printers", headers=auth(hall, "kiosk")).get_json()["printers"][0]
    assert after["queue"] == 0 and not after["paused"] and after["status"] == "ok"

    db = connect(db_path)
    events = [json.loads(r[0]) for r in db.conn.execute(
        "SELECT data FROM events WHERE type = 'printer.status' ORDER BY id")]
    db.conn.close()
    assert any(e["status"] == "paper_out" and e["paused"] and e["reason"] == "paper_out" for e in events)
    assert events[-1]["status"] == "ok" and not events[-1]["paused"]


def test_buffering_printer_out_of_paper_loses_nothing_and_marks_the_second_copy(
        client, hall, db_path, printer_sim, workers):
    """A printer that keeps the cut-short receipt and finishes it after the refill: the
    queue cannot tell, so that ticket comes out twice — the second copy marked 补打."""
    add_printer(db_path, printer_sim.url)
    printer_sim.set_state(buffering=True)
    printer_sim.run_out_after(1)
    numbers = [issue(client, hall)["number"] for _ in range(3)]
    wait_for(lambda: client.get("/api/printers", headers=auth(hall, "technician"))
             .get_json()["printers"][0]["paused"], what="paused")
    assert len(printer_sim.receipts) == 1 and len(printer_sim.state.held) == 1
    printer_sim.set_state(paper="ok")
    receipts = printer_sim.wait_for_receipts(4)
    printed = [(next(line for line in text_lines(r.data) if line in numbers),
                text_lines(r.data)[0] == "【补打 REPRINT】") for r in receipts]
    assert printed == [(numbers[0], False), (numbers[1], False), (numbers[1], True), (numbers[2], False)]


def test_cover_open_pauses_and_closing_it_resumes(client, hall, db_path, printer_sim, workers):
    add_printer(db_path, printer_sim.url)
    printer_sim.set_state(cover_open=True)
    n = issue(client, hall)["number"]
    wait_for(lambda: client.get("/api/printers", headers=auth(hall, "technician"))
             .get_json()["printers"][0]["paused_reason"] == "cover_open", what="paused")
    assert printer_sim.receipts == [] and printer_sim.discarded == []
    printer_sim.set_state(cover_open=False)
    [r] = printer_sim.wait_for_receipts(1)
    assert n in text_lines(r.data)
    assert job_rows(db_path)[0][2] == 0  # a pause is not a failed attempt


def test_unreachable_printer_is_retried_with_backoff_then_prints(client, hall, db_path, printer_sim):
    from dataclasses import replace

    add_printer(db_path, printer_sim.url)
    printer_sim.set_state(unreachable=True)
    start_workers(db_path, replace(FAST, max_attempts=1000))
    try:
        issue(client, hall)
        wait_for(lambda: job_rows(db_path)[0][2] >= 2, what="two failed attempts")
        _, state, attempts, error = job_rows(db_path)[0]
        assert state in ("queued", "printing") and "printer_offline" in (error or "")
        p = client.get("/api/printers", headers=auth(hall, "technician")).get_json()["printers"][0]
        assert p["status"] == "offline"
        printer_sim.set_state(unreachable=False)
        printer_sim.wait_for_receipts(1)
        wait_for(lambda: job_rows(db_path)[0][1] == "done", what="done")
    finally:
        stop_workers(db_path)


def test_job_fails_after_max_attempts_and_the_next_job_still_prints(client, hall, db_path, printer_sim, workers):
    add_printer(db_path, printer_sim.url)
    printer_sim.set_state(unreachable=True)
    issue(client, hall)
    wait_for(lambda: job_rows(db_path)[0][1] == "failed", timeout=15, what="job failed")
    assert job_rows(db_path)[0][2] == FAST.max_attempts
    printer_sim.set_state(unreachable=False)
    n = issue(client, hall)["number"]
    [r] = printer_sim.wait_for_receipts(1)
    assert n in text_lines(r.data)
    p = client.get("/api/printers", headers=auth(hall, "technician")).get_json()["printers"][0]
    assert p["failed"] == 1


def test_a_leased_job_is_claimed_by_one_worker_only(db_path, hall, printer_sim):
    add_printer(db_path, printer_sim.url)
    db1, db2 = connect(db_path), connect(db_path)
    with write_tx(db1) as conn:
        first = jobs.enqueue_test_page(conn, "lobby-1")
        jobs.enqueue_test_page(conn, "lobby-1")
    a = jobs.claim_next(db1, "lobby-1", "proc-a", lease_seconds=1.0)
    assert a is not None and a.id == first
    assert jobs.claim_next(db2, "lobby-1", "proc-b") is None  # head leased: order + exclusivity
    time.sleep(1.05)  # proc-a died: its lease expires, the job is printed again by b
    b = jobs.claim_next(db2, "lobby-1", "proc-b")
    assert b is not None and b.id == first and b.attempts == 1
    assert not jobs.finish_job(db1, a)  # the old owner cannot finish it any more
    assert jobs.finish_job(db2, b)
    db1.conn.close()
    db2.conn.close()


@pytest.mark.slow
def test_three_processes_print_every_job_exactly_once_in_order(db_path, hall, printer_sim, tmp_path):
    import os
    import subprocess
    import sys

    add_printer(db_path, printer_sim.url)
    from queue_server import queue as engine

    db = connect(db_path)
    issued = [engine.issue_ticket(db, "QY01", in_tx=lambda c, tid: jobs.enqueue_ticket_print(c, tid))
              for _ in range(30)]
    db.conn.close()
    expected = [t["number"] for t in issued]
    root = Path(__file__).resolve().parent.parent
    code = (
        "import sys, time\n"
        "from queue_server.printing.worker import WorkerConfig, start_workers\n"
        "start_workers(sys.argv[1], WorkerConfig(idle_poll=0.01, rescan=0.1))\n"
        "time.sleep(float(sys.argv[2]))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db_path), "30"], cwd=root,
                              env={**os.environ, "PYTHONPATH": str(root)}) for _ in range(3)]
    try:
        receipts = printer_sim.wait_for_receipts(30, timeout=60)
        time.sleep(0.5)  # a duplicate would arrive now
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
    numbers = [next(line for line in text_lines(r.data) if line in expected) for r in printer_sim.receipts]
    assert numbers == expected
    assert len(receipts) == 30


def test_reprint_is_marked_and_shows_the_current_position(client, hall, db_path, printer_sim, workers):
    add_printer(db_path, printer_sim.url)
    t = issue(client, hall)
    printer_sim.wait_for_receipts(1)
    r = client.post("/api/print-jobs", json={"ticket_id": t["id"]}, headers=auth(hall, "clerk"))
    assert r.status_code == 202 and r.get_json()["print"]["status"] == "queued"
    receipts = printer_sim.wait_for_receipts(2)
    lines = text_lines(receipts[1].data)
    assert lines[0] == "【补打 REPRINT】" and t["number"] in lines


def test_kiosk_can_follow_its_job_until_printed(client, hall, db_path, printer_sim, workers):
    add_printer(db_path, printer_sim.url)
    t = issue(client, hall)
    job_id = t["print"]["job_id"]

    def state():
        r = client.get(f"/api/print-jobs/{job_id}", headers=auth(hall, "kiosk"))
        assert r.status_code == 200
        return r.get_json()["state"] == "done" and r.get_json()

    job = wait_for(state, what="job done")
    assert job["number"] == t["number"] and job["kind"] == "ticket"
    r = client.get("/api/print-jobs/999999", headers=auth(hall, "kiosk"))
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "print_job_not_found"
    assert client.get(f"/api/print-jobs/{job_id}", headers=auth(hall, "display")).status_code == 403


def test_stale_ticket_jobs_expire_instead_of_printing_after_a_long_outage(db_path, hall, printer_sim):
    from queue_server import queue as engine

    add_printer(db_path, printer_sim.url)
    db = connect(db_path)
    old, new = (engine.issue_ticket(db, "QY01", in_tx=lambda c, tid: jobs.enqueue_ticket_print(c, tid))
                for _ in range(2))
    with write_tx(db) as conn:  # the first one has waited 20 minutes (paper out, nobody came)
        conn.execute("UPDATE print_jobs SET created_at = created_at - 1200 WHERE ticket_id = ?", (old["id"],))
    job = jobs.claim_next(db, "lobby-1", "w", max_age=600)
    assert job is not None and job.ticket_id == new["id"]
    expired = jobs.job_status(db, old["in_tx_result"])
    assert expired["state"] == "failed" and expired["last_error"].startswith("expired")
    db.conn.close()


def test_old_finished_jobs_are_pruned(db_path, hall, printer_sim):
    add_printer(db_path, printer_sim.url)
    db = connect(db_path)
    with write_tx(db) as conn:
        old = jobs.enqueue_test_page(conn, "lobby-1")
        recent = jobs.enqueue_test_page(conn, "lobby-1")
        conn.execute("UPDATE print_jobs SET state = 'done', finished_at = ? WHERE id = ?",
                     (time.time() - 40 * 86400, old))
        conn.execute("UPDATE print_jobs SET state = 'done', finished_at = ? WHERE id = ?", (time.time(), recent))
    assert jobs.prune_jobs(db, keep_days=30) == 1
    assert [r[0] for r in job_rows(db_path)] == [recent]
    db.conn.close()


def test_reprint_of_an_unknown_ticket_is_404(client, hall, db_path, printer_sim):
    add_printer(db_path, printer_sim.url)
    r = client.post("/api/print-jobs", json={"ticket_id": 999999}, headers=auth(hall, "clerk"))
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "ticket_not_found"


def test_test_print_api_needs_a_technician(client, hall, db_path, printer_sim, workers):
    add_printer(db_path, printer_sim.url)
    assert client.post("/api/printers/lobby-1/test-print", headers=auth(hall, "kiosk")).status_code == 403
    r = client.post("/api/printers/lobby-1/test-print", headers=auth(hall, "technician"))
    assert r.status_code == 202
    [receipt] = printer_sim.wait_for_receipts(1)
    assert "一窗通 打印测试页" in text_lines(receipt.data)
    r = client.post("/api/printers/nope/test-print", headers=auth(hall, "technician"))
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "printer_not_found"


def test_api_printers_shows_status_and_queue_to_allowed_roles_only(client, hall, db_path, printer_sim):
    add_printer(db_path, printer_sim.url)
    issue(client, hall)  # no workers running: it stays queued
    assert client.get("/api/printers").status_code == 401
    assert client.get("/api/printers", headers=auth(hall, "display")).status_code == 403
    body = client.get("/api/printers", headers=auth(hall, "kiosk")).get_json()
    [p] = body["printers"]
    assert p["name"] == "lobby-1" and p["queue"] == 1 and p["status"] == "unknown"
    assert p["options"]["paper"] == 58 and p["default"] is True
    jobs_list = client.get("/api/print-jobs", headers=auth(hall, "technician")).get_json()["jobs"]
    assert jobs_list[0]["state"] == "queued" and jobs_list[0]["number"].startswith("A")


def test_bad_printer_definitions_are_rejected(db_path, hall):
    from queue_server.errors import ValidationError

    db = connect(db_path)
    with pytest.raises(ValidationError):
        jobs.add_printer(db, "Lobby 1", "tcp://x:9100")
    with pytest.raises(ValidationError):
        jobs.add_printer(db, "lobby-1", "lpt://1")
    with pytest.raises(ValidationError):
        jobs.add_printer(db, "lobby-1", "sim://", {"paper": 76})
    db.conn.close()


def test_printer_cli_add_list_test_print_remove(db_path, hall, printer_sim):
    from queue_server.cli import main

    runner = CliRunner()
    r = runner.invoke(main, ["printer", "add", "--db", str(db_path), "lobby-1", printer_sim.url,
                             "--paper", "58", "--default"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["printer", "list", "--db", str(db_path)])
    assert "lobby-1" in r.output and "58mm" in r.output
    r = runner.invoke(main, ["printer", "test-print", "--db", str(db_path), "lobby-1"])
    assert r.exit_code == 0, r.output
    assert "status: ok" in r.output
    assert "一窗通 打印测试页" in text_lines(printer_sim.wait_for_receipts(1)[0].data)
    r = runner.invoke(main, ["printer", "list", "--db", str(db_path), "--json"])
    assert json.loads(r.output)[0]["name"] == "lobby-1"
    r = runner.invoke(main, ["printer", "remove", "--db", str(db_path), "lobby-1"])
    assert r.exit_code == 0 and "removed lobby-1" in r.output
    r = runner.invoke(main, ["printer", "remove", "--db", str(db_path), "lobby-1"])
    assert r.exit_code != 0 and "printer_not_found" in r.output


def test_remove_refuses_with_unfinished_jobs_unless_forced(db_path, hall, printer_sim):
    from queue_server.errors import Conflict

    add_printer(db_path, printer_sim.url)
    db = connect(db_path)
    with write_tx(db) as conn:
        jobs.enqueue_test_page(conn, "lobby-1")
    with pytest.raises(Conflict):
        jobs.remove_printer(db, "lobby-1")
    assert jobs.remove_printer(db, "lobby-1", force=True) == 1
    assert job_rows(db_path)[0][1] == "failed"
    db.conn.close()



@pytest.mark.slow
def test_real_server_survives_paper_out_and_a_restart_without_losing_tickets(db_path, hall, printer_sim):
    """`queue-server serve` in a subprocess: paper out mid-queue, refill, then the server is
    killed (-9) with jobs queued; after the restart every ticket is printed once, in order."""
    from tests.support.common import free_port
    from tests.support.queue import Server, request

    add_printer(db_path, printer_sim.url)
    token = hall["tokens"]["kiosk"]
    tech = hall["tokens"]["technician"]
    port = free_port()
    server = Server(db_path, port).start()
    try:
        printer_sim.run_out_after(2)
        numbers = []
        for _ in range(5):
            status, t = request("POST", port, "/api/tickets", {"service": "QY01", "print": True}, token)
            assert status == 201 and t["print"]["status"] == "queued"
            numbers.append(t["number"])

        def paused():
            _, body = request("GET", port, "/api/printers", token=tech)
            return body["printers"][0]["paused"] and body["printers"][0]

        p = wait_for(paused, what="paused")
        assert p["paused_reason"] == "paper_out" and p["queue"] == 3
        server.kill(9)  # the server dies while the printer is out of paper
        printer_sim.set_state(paper="ok")
        server = Server(db_path, port).start()
        for _ in range(2):
            status, t = request("POST", port, "/api/tickets", {"service": "QY01", "print": True}, token)
            assert status == 201
            numbers.append(t["number"])
        receipts = printer_sim.wait_for_receipts(7, timeout=20)
        printed = [next(line for line in text_lines(r.data) if line in numbers) for r in receipts]
        assert printed == numbers
        time.sleep(0.3)
        assert len(printer_sim.receipts) == 7
    finally:
        server.stop()


def test_a_job_whose_server_died_mid_print_is_printed_again_at_once_marked_reprint(db_path, hall, printer_sim):
    """A restarted server does not wait out a dead process's lease (60 s): it takes the job
    over at once and prints it marked 补打 — part of it may already have come out."""
    import socket
    import subprocess

    add_printer(db_path, printer_sim.url)
    dead = subprocess.Popen(["true"])
    dead.wait()
    db = connect(db_path)
    from queue_server import queue as engine

    t = engine.issue_ticket(db, "QY01")
    with write_tx(db) as conn:
        job_id = jobs.enqueue_ticket_print(conn, t["id"])
        conn.execute("UPDATE print_jobs SET state = 'printing', lease_owner = ?, lease_until = ?, started_at = ? "
                     "WHERE id = ?", (f"{socket.gethostname()}:{dead.pid}:lobby-1:dead", time.time() + 60,
                                      time.time(), job_id))
    t0 = time.monotonic()
    start_workers(db_path, FAST)
    try:
        [receipt] = printer_sim.wait_for_receipts(1, timeout=5)
    finally:
        stop_workers(db_path)
    assert time.monotonic() - t0 < 5
    lines = text_lines(receipt.data)
    assert lines[0] == "【补打 REPRINT】" and t["number"] in lines
    assert jobs.owner_is_dead(f"{socket.gethostname()}:{dead.pid}:x") and not jobs.owner_is_dead(
        f"{socket.gethostname()}:{__import__('os').getpid()}:x")
