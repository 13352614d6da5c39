"""The end-of-day report: written by the scheduled job after closing time (controlled
clock), XLSX read back, PDF with the CJK font rendered to an image (docs/screenshots/
admin-report.png, looked at), listed and downloadable through the API."""

from __future__ import annotations

import os
import shutil
import subprocess
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
