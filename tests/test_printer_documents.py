"""Printed documents (certificates, 告知单, licence copies): the document model, its ESC/POS
bytes decoded, and ``document`` jobs through the server's print queue to a TCP printer."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from hardware.printer import PrinterOptions
from hardware.printer.document import Block, DocumentData, render_document
from hardware.printer.sim import SimulatedNetworkPrinter
from queue_server.db import connect, write_tx
from queue_server.printing import jobs
from queue_server.printing.schema import m0003_document_jobs
from queue_server.printing.worker import WorkerConfig, start_workers, stop_workers
from tests.support.escpos_decode import QR, Cut, Raster, Text, decode, text_lines

DOC = DocumentData(
    title="高龄津贴核准通知", title_en="Old-age allowance approval notice", hall_name="济南市章丘区政务服务中心",
    blocks=(Block.field("办件编号", "SP20261202000001"), Block.field("申请人", "王*兰 3701**********1240"),
            Block.big("J003", "排队号"), Block.heading("请携带"), Block.bullets(["居民身份证原件", "户口簿"]),
            Block.bullets(["户籍不在本区，需工作人员核实"], numbered=True), Block.rule(),
            Block.qr("http://hall.example/v/ABCDEFGHIJKLMNOPQRSTUVWXYZ", "扫码核验", "Scan to verify")),
    issued_at=dt.datetime(2026, 12, 2, 10, 5))

FAST = WorkerConfig(idle_poll=0.05, pause_poll=0.05, status_interval=0.5, backoff_base=0.05,
                    backoff_cap=0.2, rescan=0.1, max_attempts=4)


def test_a_document_renders_chinese_text_a_native_qr_and_a_cut():
    data = render_document(DOC, PrinterOptions(paper=58))
    items = list(decode(data))
    lines = text_lines(data)
    assert "高龄津贴核准通知" in lines and "办件编号：SP20261202000001" in lines
    assert "· 户口簿" in lines and "1. 户籍不在本区，需工作人员核实" in lines
    assert "打印时间：2026-12-02 10:05" in lines and "扫码核验" in lines
    big = next(i for i in items if isinstance(i, Text) and i.text == "J003")
    assert big.width >= 4 and big.align == "center"
    qrs = [i for i in items if isinstance(i, QR)]
    assert [q.payload for q in qrs] == ["http://hall.example/v/ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    assert isinstance(items[-1], Cut)
    assert len(data) < 2000  # native QR and printer text: no images


def test_without_a_chinese_font_the_text_goes_as_bitmaps_and_never_as_mojibake():
    data = render_document(DOC, PrinterOptions(paper=80, chinese=False))
    items = list(decode(data))  # decode() refuses non-ASCII bytes sent without FS &
    assert any(isinstance(i, Raster) for i in items)
    assert "SP20261202000001" not in text_lines(data)  # the whole line had hanzi: a bitmap


def test_the_document_survives_the_job_payload_round_trip():
    again = DocumentData.from_dict(DOC.as_dict())
    assert again == DOC
    assert render_document(again) == render_document(DOC)


def test_the_migration_rebuilds_print_jobs_keeping_rows_and_allowing_documents():
    db = Database(sqlite3.connect(":memory:", isolation_level=None))
    db.conn.executescript("""
        CREATE TABLE tickets (id INTEGER PRIMARY KEY);
        INSERT INTO tickets VALUES (7);
        CREATE TABLE print_jobs (id INTEGER PRIMARY KEY, printer TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('ticket', 'reprint', 'test')),
            ticket_id INTEGER REFERENCES tickets(id), payload TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'printing', 'done', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, last_error TEXT,
            lease_owner TEXT, lease_until REAL, created_at REAL NOT NULL, started_at REAL, finished_at REAL);
        INSERT INTO print_jobs (printer, kind, ticket_id, payload, next_attempt_at, created_at)
            VALUES ('lobby-1', 'ticket', 7, '{}', 1, 1);
    """)
    m0003_document_jobs(db)
    m0003_document_jobs(db)  # again: nothing to do
    assert db.conn.execute("SELECT printer, kind, ticket_id FROM print_jobs").fetchall() == [("lobby-1", "ticket", 7)]
    db.conn.execute("INSERT INTO print_jobs (printer, kind, payload, next_attempt_at, created_at) "
                    "VALUES ('lobby-1', 'document', '{}', 1, 1)")
    indexes = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"print_jobs_queue", "print_jobs_ticket"} <= indexes


def test_a_document_job_prints_through_the_queue_on_a_network_printer(db_path: Path):
    with SimulatedNetworkPrinter() as sim:
        db = connect(db_path)
        jobs.add_printer(db, "kiosk-01", sim.url, {"paper": 58}, default=True)
        pool = start_workers(db_path, FAST)
        try:
            with write_tx(db) as conn:
                job_id = jobs.enqueue_document(conn, DOC.as_dict(), "kiosk-01")
            receipt = sim.wait_for_receipts(1, timeout=10)[0]
        finally:
            stop_workers(db_path)
        assert job_id is not None and pool is not None
        assert "高龄津贴核准通知" in text_lines(receipt.data)
        assert [i.payload for i in decode(receipt.data) if isinstance(i, QR)] == [
            "http://hall.example/v/ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
        state = jobs.job_status(db, job_id)
        assert (state["kind"], state["state"]) == ("document", "done")
        with write_tx(db) as conn:  # no printer configured → None (the caller says "not printed")
            conn.execute("DELETE FROM print_jobs")
            conn.execute("DELETE FROM printers")
            assert jobs.enqueue_document(conn, DOC.as_dict()) is None
        db.conn.close()
