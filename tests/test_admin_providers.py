"""秒批 and 好差评 figures in the hall manager's statistics (/api/stats/providers), their
drill-down, and the end-of-day report, on a synthetic day counted by hand.

The day (Wed 2026-11-25):

    window 1 (clerk1): t1 QY01 → 5 · t2 QY01 → 1 (attitude) · t3 QY01 → 3 · t4 QY01 → 2 (efficiency)
    kiosk 秒批:  a1 高龄津贴 王秀兰 approved (rated 4 at the kiosk)
                a2 高龄津贴 李德胜 referred AGE_BELOW_MIN → a clerk rejects it
                a3 高龄津贴 (no person row) referred DATA_UNAVAILABLE (R1 and R3: once)
                a4 高龄津贴 王秀兰 card only: referred IDENTITY_NOT_VERIFIED → a clerk approves it
                a5 个体工商户设立登记 approved, a 营业执照 issued
                a6 高龄津贴 李德胜 again: referred AGE_BELOW_MIN
    t2's 差评 is verified and rectified the same day (on time); t4's is left alone and is
    overdue when the figures are read on Dec 3 (deadline Dec 2: five working days).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import pytest

from queue_server import queue as engine
from queue_server.admin import report
from tests.support.approvals import application
from tests.support.evaluations import Api, finished_ticket, seed
from tests.support.queue import FakeClock

DAY = "2026-11-25"
SHOP = {"trade_name": "泉香居", "scope": ["1001"], "address": "济南市章丘区明水街道百脉泉街88号"}


@pytest.fixture(scope="module")
def built():
    from queue_server.db import connect
    from queue_server.migrations import open_db

    tmp = Path(tempfile.mkdtemp())
    path = tmp / "hall.db"
    open_db(path).conn.close()
    db = connect(path)
    clock = FakeClock()
    clock.set(DAY, "09:00")
    hall = seed(db, clock)
    api = Api(path, hall, clock)
    c1 = hall["users"]["clerk1"]["id"]
    engine.open_window(db, 1, c1, clock=clock)
    pad, kiosk, sup = api.as_("display"), api.as_("kiosk"), api.as_("supervisor")
    t = {n: finished_ticket(db, clock, window=1, clerk=c1) for n in ("t1", "t2", "t3", "t4")}

    def ok(r):
        assert r.status_code in (200, 201), r.get_json()
        return r.get_json()

    ok(pad.rate(ticket=t["t1"]["id"], level=5, channel="window"))
    r2 = ok(pad.rate(ticket=t["t2"]["id"], level=1, reasons=["attitude"], channel="window"))
    ok(pad.rate(ticket=t["t3"]["id"], level=3, channel="window"))
    r4 = ok(pad.rate(ticket=t["t4"]["id"], level=2, reasons=["efficiency"], channel="window"))

    def apply(item, who, **kw):
        clock.advance(minutes=3)
        return ok(kiosk.post("/api/approvals", json=application(item, who, **kw)))

    a = {"a1": apply("elderly_allowance", "elder_ok"), "a2": apply("elderly_allowance", "elder_young"),
         "a3": apply("elderly_allowance", "elder_unknown"),
         "a4": apply("elderly_allowance", "elder_ok", method="card"),
         "a5": apply("sole_proprietor_registration", "insured_ok", inputs=SHOP),
         "a6": apply("elderly_allowance", "elder_young")}
    assert [a[k]["decision"] for k in sorted(a)] == ["approved", "referred", "referred", "referred", "approved",
                                                     "referred"]
    ok(kiosk.rate(case=a["a1"]["case"], level=4, channel="kiosk"))
    clerk = api.login(db, "clerk1")
    clock.advance(minutes=20)
    ok(clerk.post(f"/api/approvals/{a['a2']['case']}/decide", json={"decision": "rejected", "note": "未满 80 周岁"}))
    clock.advance(minutes=10)
    ok(clerk.post(f"/api/approvals/{a['a4']['case']}/decide", json={"decision": "approved", "note": "当面核验身份"}))
    assert ok(sup.step(r2["rectification"]["id"], "verify"))
    assert ok(sup.step(r2["rectification"]["id"], "rectify", measure="当日约谈并培训"))
    clock.set("2026-12-03", "09:00")
    yield {"api": api, "db": db, "clock": clock, "cases": a, "t": t, "r4": r4, "tmp": tmp}
    db.conn.close()
    shutil.rmtree(tmp, ignore_errors=True)


def parts(api):
    r = api.as_("admin").get(f"/api/stats/providers?from={DAY}&to={DAY}")
    assert r.status_code == 200, r.get_json()
    return {p["name"]: p for p in r.get_json()["providers"]}


def figs(part):
    assert "error" not in part, part
    return {f["key"]: f for f in part["figures"]}


def behind(api, name, figure, key=None):
    q = f"/api/stats/providers/{name}/behind?from={DAY}&to={DAY}&figure={figure}" + (f"&key={key}" if key else "")
    r = api.as_("admin").get(q)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_approval_figures_match_the_hand_count(built):
    got = figs(parts(built["api"])["approvals"])
    values = {k: f["value"] for k, f in got.items()}
    assert {k: values[k] for k in ("cases", "approved", "referred", "staff_approved", "staff_rejected",
                                   "licences")} == {"cases": 6, "approved": 2, "referred": 4, "staff_approved": 1,
                                                    "staff_rejected": 1, "licences": 1}
    assert values["approved_share"] == pytest.approx(2 / 6) and got["approved_share"]["text"] == "33.3%"
    reasons = [(f["label"], f["value"]) for k, f in sorted(got.items()) if k.startswith("reason_")]
    assert reasons == [("转人工原因 1：高龄津贴申请 AGE_BELOW_MIN", 2), ("转人工原因 2：高龄津贴申请 DATA_UNAVAILABLE", 1),
                       ("转人工原因 3：高龄津贴申请 IDENTITY_NOT_VERIFIED", 1)]
    # the decision times, counted independently from the stored cases
    db = built["db"]
    ms = [r[0] for r in db.conn.execute("SELECT decision_ms FROM approval_cases")]
    assert len(ms) == 6 and all(m is not None and m >= 0 for m in ms)
    assert values["decision_median_ms"] == pytest.approx(round(statistics.median(ms), 1))
    # a2 referred at 09:03, a4 at 09:09, a6 at 09:15; rejected 09:35, approved 09:45: 32 and 36 minutes
    assert values["staff_median_s"] == pytest.approx(34 * 60)


def test_approval_table_and_chart_by_item(built):
    part = parts(built["api"])["approvals"]
    rows = {r["item"]: r for r in part["rows"]}
    assert (rows["elderly_allowance"]["cases"], rows["elderly_allowance"]["approved"]) == (5, 1)
    assert (rows["sole_proprietor_registration"]["approved"], rows["sole_proprietor_registration"]["licences"]) == (1, 1)
    assert part["chart"]["labels"] == ["高龄津贴申请", "个体工商户设立登记"]
    assert [d["data"] for d in part["chart"]["datasets"]] == [[1, 1], [4, 0]]
    assert part["drill"] is True


def test_every_approval_figure_opens_to_its_cases(built):
    api, a = built["api"], built["cases"]
    number = {k: v["case"] for k, v in a.items()}
    got = figs(parts(api)["approvals"])
    for key, f in got.items():
        rows = behind(api, "approvals", f["drill"])["rows"]
        if isinstance(f["value"], int):
            assert len(rows) == f["value"], key
    assert [r["case"] for r in behind(api, "approvals", "referred")["rows"]] == [
        number[k] for k in ("a2", "a3", "a4", "a6")]
    assert [r["case"] for r in behind(api, "approvals", "reason:elderly_allowance:AGE_BELOW_MIN")["rows"]] == [
        number["a2"], number["a6"]]
    assert [r["case"] for r in behind(api, "approvals", "licences")["rows"]] == [number["a5"]]
    assert [r["case"] for r in behind(api, "approvals", "cases", key="sole_proprietor_registration")["rows"]] == [
        number["a5"]]
    one = behind(api, "approvals", "referred")["rows"][0]
    assert set(one) == {"case", "day", "item", "item_name", "decision", "status", "decided_at", "decision_ms",
                        "reasons", "staff_at"}  # no name, no ID number
    bad = api.as_("admin").get(f"/api/stats/providers/approvals/behind?from={DAY}&to={DAY}&figure=nope")
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "bad_stats_figure"
    none = api.as_("admin").get(f"/api/stats/providers/nope/behind?from={DAY}&to={DAY}&figure=cases")
    assert none.status_code == 404 and none.get_json()["error"]["code"] == "stats_provider_not_found"
    assert api.as_("kiosk").get("/api/stats/providers/approvals/behind?figure=cases").status_code == 403


def test_a_providers_table_and_the_records_behind_a_figure_export_as_csv_and_xlsx(built):
    import csv
    import io

    import openpyxl

    api = built["api"]
    admin = api.as_("admin")
    part = parts(api)["approvals"]
    r = admin.get(f"/api/stats/providers/approvals/export?from={DAY}&to={DAY}&format=csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.data.startswith("\ufeff".encode())  # Excel shows the Chinese
    table = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert len(table) == 1 + len(part["rows"]) and table[0][0].startswith(part["columns"][0][1])

    r = admin.get(f"/api/stats/providers/approvals/export?from={DAY}&to={DAY}&format=xlsx")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["figures", "rows"]
    shown = [row[2] for row in wb["figures"].iter_rows(min_row=5, values_only=True)]  # title, blank, heading
    assert shown == [f["text"] if f.get("text") is not None else f["value"] for f in part["figures"]]

    want = [c["case"] for c in behind(api, "approvals", "referred")["rows"]]
    r = admin.get(f"/api/stats/providers/approvals/behind/export?from={DAY}&to={DAY}&figure=referred&format=xlsx")
    assert r.status_code == 200 and 'filename="approvals-referred-' in r.headers["Content-Disposition"]
    got = [row[0] for row in openpyxl.load_workbook(io.BytesIO(r.data)).active.iter_rows(min_row=2, values_only=True)]
    assert got == want
    r = admin.get(f"/api/stats/providers/evaluations/behind/export?from={DAY}&to={DAY}&figure=bad&format=csv")
    assert r.status_code == 200
    assert len(list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))) == 1 + 2  # heading, two 差评

    bad = admin.get(f"/api/stats/providers/approvals/behind/export?from={DAY}&to={DAY}&figure=nope&format=csv")
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "bad_stats_figure"
    assert admin.get(f"/api/stats/providers/nope/export?from={DAY}&to={DAY}").status_code == 404
    assert admin.get(f"/api/stats/providers/approvals/export?from={DAY}&to={DAY}&format=pdf").status_code == 422
    assert api.as_("kiosk").get(f"/api/stats/providers/approvals/export?from={DAY}&to={DAY}").status_code == 403


def test_evaluation_figures_match_the_hand_count(built):
    db = built["db"]
    got = figs(parts(built["api"])["evaluations"])
    values = {k: f["value"] for k, f in got.items()}
    # served: 4 tickets done + 6 kiosk cases (referral tickets still waiting); rated t1..t4 and a1
    assert (values["served"], values["rated"], values["bad"]) == (10, 5, 2)
    assert values["active_rate"] == pytest.approx(0.5) and got["active_rate"]["text"] == "50.0%"
    assert values["good_rate"] == pytest.approx(3 / 5) and got["good_rate"]["text"] == "60.0%"  # 5, 3, 4 of 5
    assert (values["rectifications_opened"], values["rectifications_on_time"], values["rectifications_overdue"]) == (
        2, 1, 1)
    assert values["follow_up_rate"] == 0
    assert [(f["label"], f["value"]) for k, f in sorted(got.items()) if k.startswith("reason_")] == [
        ("差评原因 1：服务态度不好", 1), ("差评原因 2：办理效率低、等候时间长", 1)]
    # the same, counted straight from the table
    rated = db.conn.execute("SELECT COUNT(*), SUM(level >= 3), SUM(level <= 2) FROM evaluations "
                            "WHERE count = 1 AND service_day = ?", (DAY,)).fetchone()
    assert (values["rated"], values["good_rate"], values["bad"]) == (rated[0], rated[1] / rated[0], rated[2])
    chart = parts(built["api"])["evaluations"]["chart"]
    assert chart["datasets"][0]["data"] == [1, 1, 1, 1, 1]


def test_every_evaluation_figure_opens_to_its_evaluations(built):
    api = built["api"]
    got = figs(parts(api)["evaluations"])
    for key, f in got.items():
        if "drill" in f and isinstance(f["value"], int):
            assert len(behind(api, "evaluations", f["drill"])["rows"]) == f["value"], key
    overdue = behind(api, "evaluations", "rectifications_overdue")["rows"]
    assert [r["id"] for r in overdue] == [built["r4"]["id"]] and overdue[0]["deadline"] == "2026-12-02"
    assert overdue[0]["rectification"] == "overdue" and overdue[0]["reasons"] == "efficiency"
    assert [r["level"] for r in behind(api, "evaluations", "good")["rows"]] == [5, 3, 4]
    assert len(behind(api, "evaluations", "level:4")["rows"]) == 1
    assert all("evaluator" not in r and "comment" not in r for r in behind(api, "evaluations", "rated")["rows"])


def test_the_end_of_day_report_has_the_figures(built, tmp_path):
    db, clock = built["db"], built["clock"]
    parts(built["api"])  # the providers are registered with the blueprints
    out = report.write_report(db, DAY, now=clock(), out_dir=tmp_path)
    text = subprocess.run(["pdftotext", "-layout", out["pdf"], "-"], capture_output=True, text=True,
                          check=True).stdout
    for want in ("秒批 Instant approvals", "秒批通过率", "33.3%", "转人工原因 1：高龄津贴申请 AGE_BELOW_MIN", "发放电子证照",
                 "好差评 Evaluations", "好评率", "60.0%", "整改超期", "按期整改", "秒批办件（按事项）"):
        assert want in text, want
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.load_workbook(out["xlsx"])
    assert "秒批" in book.sheetnames and "好差评" in book.sheetnames
    if shutil.which("pdftoppm") and __import__("os").environ.get("YICHUANG_SCREENSHOTS") == "1":
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "2", "-l", "2", out["pdf"],
                        str(Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "admin-report-providers")],
                       check=True)
