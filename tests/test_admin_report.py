"""The end-of-day report: written by the scheduled job after closing time (controlled
clock), XLSX read back, PDF with the CJK font rendered to an image (docs/screenshots/
admin-report.png, looked at), listed and downloadable through the API."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from support.admin import DAY, synthetic_day

from queue_server import create_app, schedule
from queue_server.admin import report
from queue_server.auth import create_token
from queue_server.settings import set_setting
from tests.support.common import screenshot_dir
from tests.support.queue import FakeClock, hall_time


@pytest.mark.slow
def test_the_daily_job_writes_the_report_after_closing_time(db_path, db, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    clock = FakeClock()
    made = synthetic_day(db, clock)
    folder = tmp_path / "reports"
    set_setting(db, "admin.reports_dir", str(folder))
    set_setting(db, "admin.report_time", "18:00")
    assert "end_of_day_report" in schedule.JOBS

    assert schedule.run_due(db, hall_time(DAY, "17:59"), only="end_of_day_report") == []
    ran = schedule.run_due(db, hall_time(DAY, "18:05"), only="end_of_day_report")
    assert [(r["job"], r["day"], r["error"]) for r in ran] == [("end_of_day_report", DAY, None)]
    assert ran[0]["result"]["issued"] == 6 and ran[0]["result"]["served"] == 3
    assert schedule.run_due(db, hall_time(DAY, "19:00"), only="end_of_day_report") == []  # once a day

    xlsx, pdf = folder / f"report-{DAY}.xlsx", folder / f"report-{DAY}.pdf"
    book = openpyxl.load_workbook(xlsx)
    assert book.sheetnames[:5] == ["合计 Total", "事项 Services", "窗口 Windows", "人员 Clerks", "时段 Hours"]
    assert "日报 2026-11-25（周三）" in str(book["合计 Total"]["A1"].value)
    services = {r[0]: r for r in book["事项 Services"].iter_rows(min_row=2, values_only=True)}
    assert services["QY01"][2] == 3 and services["ZH01"][4] == 2

    assert pdf.read_bytes()[:5] == b"%PDF-"
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "NotoSansCJKSC" in fonts and " yes yes " in fonts  # embedded, subset
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "济南市章丘区政务服务中心 日报" in text and "企业设立登记" in text and "王晓明（0101）" in text
    if shutil.which("pdftoppm"):
        out = tmp_path / "page"
        subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", str(pdf), str(out)], check=True)
        png = next(tmp_path.glob("page*.png"))
        from PIL import Image

        img = Image.open(png).convert("L")
        assert img.size[0] > 600 and img.size[1] > 900
        dark = sum(1 for p in img.getdata() if p < 128)
        assert dark > 2000  # text and the bars are drawn, not an empty page
        if os.environ.get("YICHUANG_SCREENSHOTS") == "1":
            shutil.copy(png, screenshot_dir("screenshots", png.parent) / "admin-report.png")

    app = create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock})
    try:
        client = app.test_client()
        h = {"Authorization": f"Bearer {create_token(db, 'admin', 'report-admin')}"}
        listed = client.get("/api/admin/reports", headers=h).get_json()
        assert listed["reports"][0]["day"] == DAY and set(listed["reports"][0]["files"]) == {"xlsx", "pdf"}
        got = client.get(f"/api/admin/reports/report-{DAY}.pdf", headers=h)
        assert got.status_code == 200 and got.data == pdf.read_bytes()
        assert client.get("/api/admin/reports/..%2Fhall.db", headers=h).status_code == 404
        assert client.get("/api/admin/reports/report-2026-11-24.pdf", headers=h).get_json()["error"]["code"] == \
            "report_not_found"
    finally:
        app.extensions["yichuang.bus"].stop()
    assert made["numbers"]["T1"] == "H001"



def test_reports_dir_defaults_beside_the_database(db_path, db):
    assert report.reports_dir(db) == Path(db_path).parent / "reports"


# --- when the daily job writes it: after closing time, missed days made up once ------------------


def _count_reports(monkeypatch) -> list[str]:
    """Replace the writing (PDF and all) by a record of the days it was asked for."""
    written: list[str] = []

    def write(db, day, **kw):
        written.append(day)
        return {"day": day}

    monkeypatch.setattr(report, "write_report", write)
    return written


def test_the_report_is_due_at_report_time_or_after_closing_whichever_is_later(db):
    from queue_server.settings import all_settings

    set_setting(db, "extended_days", {"2026-11-27": ["08:30-12:00", "13:00-20:00"],
                                      "2026-11-28": ["09:00-23:50"]})
    set_setting(db, "closed_days", {"2026-11-30": "设备检修"})
    s = all_settings(db, fresh=True)
    assert report.report_due(s, "2026-11-26", "18:00") == hall_time("2026-11-26", "18:00")  # closes 17:30
    assert report.report_due(s, "2026-11-26", "17:00") == hall_time("2026-11-26", "17:45")  # + 15 minutes
    assert report.report_due(s, "2026-11-27", "18:00") == hall_time("2026-11-27", "20:15")  # 延时服务 evening
    assert report.report_due(s, "2026-11-28", "18:00") == hall_time("2026-11-29", "00:05")  # past midnight
    assert report.report_due(s, "2026-11-29", "18:00") == hall_time("2026-11-29", "18:00")  # Sunday: no hours
    assert report.report_due(s, "2026-11-30", "18:00") == hall_time("2026-11-30", "18:00")  # closed day


def test_on_a_yanshi_evening_the_report_waits_until_the_hall_has_closed(db, tmp_path, monkeypatch):
    written = _count_reports(monkeypatch)
    clock = FakeClock()
    synthetic_day(db, clock)
    set_setting(db, "admin.report_time", "18:00")
    set_setting(db, "extended_days", {DAY: ["08:30-12:00", "13:00-20:00"]})  # 延时服务 until 20:00
    for hhmm in ("18:00", "18:05", "20:00", "20:14"):  # the hall is still open, or just closed
        assert schedule.run_due(db, hall_time(DAY, hhmm), only="end_of_day_report") == [], hhmm
    ran = schedule.run_due(db, hall_time(DAY, "20:15"), only="end_of_day_report")
    assert [(r["day"], r["error"]) for r in ran] == [(DAY, None)] and written == [DAY]
    assert schedule.run_due(db, hall_time(DAY, "22:00"), only="end_of_day_report") == []
    assert schedule.run_due(db, hall_time("2026-11-26", "09:00"), only="end_of_day_report") == []
    assert written == [DAY]  # once


@pytest.mark.slow
def test_a_server_down_all_evening_writes_the_missed_report_when_it_starts(db_path, db, tmp_path):
    clock = FakeClock()
    synthetic_day(db, clock)  # tickets on the 25th; the server stops at 09:30 and is down all evening
    folder = tmp_path / "reports"
    set_setting(db, "admin.reports_dir", str(folder))
    set_setting(db, "admin.report_time", "18:00")
    clock.set("2026-11-26", "08:00")  # it starts the next morning
    sched = schedule.Scheduler(str(db_path), interval=0.05, clock=clock).start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            row = db.conn.execute("SELECT finished_at FROM scheduled_runs WHERE job = 'end_of_day_report' "
                                  "AND day = ?", (DAY,)).fetchone()
            if row and row[0]:
                break
            time.sleep(0.1)
        time.sleep(0.3)  # a few more checks: nothing else is written
    finally:
        sched.stop()
    runs = db.conn.execute("SELECT day, error FROM scheduled_runs WHERE job = 'end_of_day_report'").fetchall()
    assert [tuple(r) for r in runs] == [(DAY, None)]  # not the 26th (not closed yet), nor days without tickets
    assert sorted(p.name for p in folder.iterdir()) == [f"report-{DAY}.pdf", f"report-{DAY}.xlsx"]
    assert report.list_reports(db)[0]["day"] == DAY


def test_missed_reports_are_made_up_once_by_one_of_two_processes(db_path, db, monkeypatch):
    from queue_server import queue as engine
    from queue_server.db import connect

    written = _count_reports(monkeypatch)
    clock = FakeClock()
    synthetic_day(db, clock)  # Wednesday the 25th
    clock.set("2026-11-27", "09:00")
    engine.issue_ticket(db, "ZH01", clock=clock)  # Friday the 27th; Thursday had no tickets
    set_setting(db, "admin.report_time", "18:00")
    now = hall_time("2026-11-28", "10:00")  # both server processes come back on Saturday morning
    other = connect(db_path)
    results: list[dict] = []
    threads = [threading.Thread(target=lambda d=d: results.extend(
        schedule.run_due(d, now, only="end_of_day_report"))) for d in (db, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.conn.close()
    assert sorted(written) == [DAY, "2026-11-27"] and sorted(r["day"] for r in results) == [DAY, "2026-11-27"]
    assert schedule.run_due(db, now + 3600, only="end_of_day_report") == []
    assert sorted(written) == [DAY, "2026-11-27"]  # never twice
    # Saturday's own report after its closing time (12:00 + 15 min < 18:00): at 18:00
    assert [r["day"] for r in schedule.run_due(db, hall_time("2026-11-28", "18:00"),
                                               only="end_of_day_report")] == ["2026-11-28"]


def test_catching_up_looks_back_a_week_only(db, monkeypatch):
    written = _count_reports(monkeypatch)
    clock = FakeClock()
    synthetic_day(db, clock)
    set_setting(db, "admin.report_time", "18:00")
    assert report.CATCH_UP_DAYS == 7
    assert schedule.run_due(db, hall_time("2026-12-03", "10:00"), only="end_of_day_report") == []  # 8 days on
    assert written == []
    assert [r["day"] for r in schedule.run_due(db, hall_time("2026-12-02", "10:00"),
                                               only="end_of_day_report")] == [DAY]  # 7 days on
    set_setting(db, "admin.report_time", "")
    assert schedule.due_days(db, schedule.JOBS["end_of_day_report"], hall_time("2026-11-26", "10:00")) == []
