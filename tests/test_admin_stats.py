"""Statistics on a synthetic day counted by hand (tests/support/admin.py has the day), the
drill-down, the exports read back (CSV with its BOM, XLSX with openpyxl), the API's shape
and errors, and a range that spans archived and live days."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest
from support.admin import DAY, synthetic_day

from queue_server import create_app
from queue_server.admin import stats
from queue_server.admin.exports import to_csv, to_xlsx
from queue_server.archive import archive_days
from queue_server.auth import create_token
from tests.support.queue import FakeClock, hall_time

CONTRACT_FIELDS = ("group", "issued", "called", "served", "no_show", "transferred", "cancelled", "wait_median_s",
                   "wait_p90_s", "walk_median_s", "service_median_s", "service_p90_s", "served_within_target")


@pytest.fixture
def day(db):
    clock = FakeClock()
    made = synthetic_day(db, clock)
    made["clock"] = clock
    return made


def rows_by_group(out):
    return {r["group"]: r for r in out["rows"]}


def test_median_and_nearest_rank_p90():
    assert stats.median([]) is None and stats.p90([]) is None
    assert stats.median([5.0]) == 5.0 and stats.p90([5.0]) == 5.0
    assert stats.median([1, 3, 2, 10]) == 2.5
    assert stats.p90(list(range(1, 11))) == 9  # ceil(0.9*10) = 9th smallest
    assert stats.p90(list(range(1, 12))) == 10  # ceil(9.9) = 10th


def test_the_day_in_total_is_what_we_counted_by_hand(db, day):
    out = stats.queue_stats(db, DAY, DAY, "day", now=day["clock"]())
    total = out["total"]
    assert {k: total[k] for k in ("issued", "called", "served", "no_show", "transferred", "cancelled", "open",
                                  "expired", "calls", "recalls")} == {
        "issued": 6, "called": 4, "served": 3, "no_show": 1, "transferred": 1, "cancelled": 1, "open": 1,
        "expired": 0, "calls": 5, "recalls": 1}
    # waits 600, 780, 1020, 1320: median (780+1020)/2, p90 the 4th of 4
    assert (total["wait_median_s"], total["wait_p90_s"]) == (900.0, 1320.0)
    # walks 60 (T1), 60 (T2: start 09:07 after its call 09:06), 120 (T4: start 09:15 after the recall 09:13)
    assert (total["walk_median_s"], total["walk_p90_s"]) == (60.0, 120.0)
    # service 600 (T1), 300 (T2 at its last window), 540 (T4)
    assert (total["service_median_s"], total["service_p90_s"]) == (540.0, 600.0)
    # target 15 min: T1 (10) and T2 (13) within, T4 (22) not
    assert total["served_within_target"] == pytest.approx(2 / 3, abs=1e-4)
    assert [r["group"] for r in out["rows"]] == [DAY]
    assert all(f in out["rows"][0] for f in CONTRACT_FIELDS)


def test_grouped_by_service_hour_window_and_clerk(db, day):
    now = day["clock"]()
    svc = rows_by_group(stats.queue_stats(db, DAY, DAY, "service", now=now))
    assert (svc["ZH01"]["issued"], svc["ZH01"]["served"], svc["ZH01"]["transferred"], svc["ZH01"]["open"]) == (3, 2, 1, 1)
    assert svc["ZH01"]["wait_median_s"] == 690.0  # (600 + 780) / 2
    assert (svc["QY01"]["issued"], svc["QY01"]["no_show"], svc["QY01"]["cancelled"]) == (3, 1, 1)
    assert (svc["QY01"]["wait_median_s"], svc["QY01"]["wait_p90_s"]) == (1170.0, 1320.0)
    assert svc["QY01"]["served_within_target"] == 0.0
    hour = rows_by_group(stats.queue_stats(db, DAY, DAY, "hour", now=now))
    assert (hour["08:00"]["issued"], hour["09:00"]["issued"]) == (4, 2)
    assert hour["09:00"]["hour"] == 9
    cat = rows_by_group(stats.queue_stats(db, DAY, DAY, "category", now=now))
    assert cat["zonghe"]["issued"] == 3 and cat["qiye"]["issued"] == 3
    win = rows_by_group(stats.queue_stats(db, DAY, DAY, "window", now=now))
    assert (win["1"]["issued"], win["1"]["served"], win["1"]["no_show"]) == (3, 2, 1)
    assert (win["2"]["issued"], win["2"]["served"]) == (1, 1)
    assert win[None]["issued"] == 2  # T5 waiting, T6 cancelled before a call
    # open 08:30–09:30; idle when nobody of its own was at the window while someone waited:
    # w1: 08:40–08:50, 09:01–09:02, 09:04–09:06, 09:12–09:30 = 31 min
    # w2: 08:40–08:55, 09:05–09:12, 09:24–09:30 = 28 min
    assert (win["1"]["open_s"], win["1"]["idle_s"]) == (3600.0, 1860.0)
    assert (win["2"]["open_s"], win["2"]["idle_s"]) == (3600.0, 1680.0)
    clerk = rows_by_group(stats.queue_stats(db, DAY, DAY, "clerk", now=now))
    assert clerk["0101"]["idle_s"] == 1860.0 and clerk["0102"]["idle_s"] == 1680.0
    assert clerk["0101"]["served"] == 2 and "王晓明" in clerk["0101"]["label"]
    # counts add up to the total in every grouping
    for group in stats.GROUPS:
        out = stats.queue_stats(db, DAY, DAY, group, now=now)
        assert sum(r["issued"] for r in out["rows"]) == out["total"]["issued"] == 6


def test_a_number_opens_to_its_tickets_without_personal_data(db, day):
    now = day["clock"]()
    n = day["numbers"]
    served = stats.tickets_behind(db, DAY, DAY, "window", "1", "served", now=now)
    assert served["count"] == 2 and [t["number"] for t in served["tickets"]] == [n["T1"], n["T2"]]
    assert served["tickets"][1]["transferred"] is True and served["tickets"][1]["service_s"] == 300.0
    waits = stats.tickets_behind(db, DAY, DAY, "service", "QY01", "wait", now=now)
    assert [t["number"] for t in waits["tickets"]] == [n["T4"], n["T3"]]  # longest first
    late = stats.tickets_behind(db, DAY, DAY, "day", "total", "over_target", now=now)
    assert [t["number"] for t in late["tickets"]] == [n["T4"]]
    waiting = stats.tickets_behind(db, DAY, DAY, "window", "null", "open", now=now)
    assert [t["number"] for t in waiting["tickets"]] == [n["T5"]]
    allowed = {"day", "number", "service", "service_name", "category", "window", "status", "issued_at",
               "first_called_at", "started_at", "finished_at", "closed_at", "transferred", "calls", "recalls",
               "wait_s", "walk_s", "service_s", "target_s"}
    assert set(served["tickets"][0]) == allowed


def test_exports_csv_has_a_bom_and_xlsx_reads_back(db, day):
    openpyxl = pytest.importorskip("openpyxl")
    out = stats.queue_stats(db, DAY, DAY, "service", now=day["clock"]())
    rows = [*out["rows"], out["total"]]
    data = to_csv(stats.COLUMNS, rows)
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0][:3] == ["分组 Group", "名称 Name", "取号 Issued"]
    assert table[-1][2] == "6" and table[-1][12] == "15.0"  # wait median 900 s = 15.0 min
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx([("service", stats.COLUMNS, rows)], title="测试")))
    ws = book["service"]
    head = [c.value for c in ws[4]]
    assert head[2] == "取号 Issued" and head[12] == "等候中位数（分钟） Wait median (min)"
    body = {r[0]: r for r in ws.iter_rows(min_row=5, values_only=True)}
    assert body["QY01"][2] == 3 and body["QY01"][12] == 19.5
    assert body["total"][18] == pytest.approx(66.7)


def test_the_api_returns_rows_and_refuses_bad_input_with_nothing_written(db_path, db, day):
    app = create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": day["clock"]})
    try:
        client = app.test_client()
        admin = {"Authorization": f"Bearer {create_token(db, 'admin', 'stats-admin')}"}
        kiosk = {"Authorization": f"Bearer {create_token(db, 'kiosk', 'stats-kiosk')}"}
        r = client.get(f"/api/stats/queue?from={DAY}&to={DAY}&group=service", headers=admin)
        assert r.status_code == 200
        rows = r.get_json()["rows"]
        assert {x["group"] for x in rows} == {"ZH01", "QY01"} and all(f in rows[0] for f in CONTRACT_FIELDS)
        assert client.get(f"/api/stats/queue?from={DAY}&to={DAY}", headers=kiosk).status_code == 403
        bad = client.get(f"/api/stats/queue?from={DAY}&to={DAY}&group=week", headers=admin)
        assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "bad_stats_group"
        bad = client.get(f"/api/stats/queue?from=2026-11-30&to={DAY}&group=day", headers=admin)
        assert bad.get_json()["error"]["code"] == "bad_stats_range"
        drill = client.get(f"/api/stats/queue/tickets?from={DAY}&to={DAY}&group=service&key=QY01&figure=no_show",
                           headers=admin).get_json()
        assert [t["number"] for t in drill["tickets"]] == [day["numbers"]["T3"]]
        x = client.get(f"/api/stats/queue/export?from={DAY}&to={DAY}&group=day&format=xlsx", headers=admin)
        assert x.status_code == 200 and x.data[:2] == b"PK"
        c = client.get(f"/api/stats/queue/tickets/export?from={DAY}&to={DAY}&group=day&key=total&figure=served"
                       "&format=csv", headers=admin)
        assert c.data.startswith(b"\xef\xbb\xbf") and c.data.count(b"\r\n") == 4
        live = client.get("/api/stats/live", headers=admin).get_json()
        assert live["waiting_total"] == 1 and live["longest_wait_s"] == 1200.0 and live["served"] == 3
    finally:
        app.extensions["yichuang.bus"].stop()


def test_a_range_spanning_archived_and_live_days_reads_both(db_path, db, day):
    archive = str(db_path) + ".2026.archive.db"
    later = hall_time("2026-11-26", "10:00")
    live_window = stats.queue_stats(db, DAY, DAY, "window", now=later)
    result = archive_days(db, archive, before="2026-11-26")
    assert result["moved"]["tickets"] == 6
    assert db.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 0
    clock = day["clock"]
    clock.t = hall_time("2026-11-26", "09:00")
    from queue_server import queue as engine

    engine.issue_ticket(db, "ZH01", clock=clock)
    out = stats.queue_stats(db, DAY, "2026-11-26", "day", now=hall_time("2026-11-26", "10:00"))
    by_day = rows_by_group(out)
    assert by_day[DAY]["issued"] == 6 and by_day[DAY]["wait_median_s"] == 900.0
    assert by_day["2026-11-26"]["issued"] == 1
    archived_window = stats.queue_stats(db, DAY, DAY, "window", now=later)
    assert archived_window["rows"] == live_window["rows"]  # the window log went to the archive too
    assert rows_by_group(archived_window)["1"]["open_s"] > 0
    arch = sqlite3.connect(archive)
    names = {r[0] for r in arch.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    arch.close()
    assert {"admin_tickets_day", "admin_call_log_ts"} <= names


# --- exports never turn user text into a formula -------------------------------------------------

EVIL = '=HYPERLINK("http://x","y")'


def test_csv_puts_a_quote_before_text_a_spreadsheet_would_run_and_leaves_numbers_alone():
    cols = [("label", "名称", "Name", "text"), ("issued", "取号", "Issued", "int"),
            ("wait_median_s", "等候中位数", "Wait median", "seconds"), ("shown", "数值", "Value", "text")]
    rows = [{"label": EVIL, "issued": 3, "wait_median_s": 90.0, "shown": 7},
            {"label": "+1+2", "issued": -2, "wait_median_s": -60.0, "shown": "62%"},
            {"label": "-1+2", "shown": "@SUM(A1)"}, {"label": "\tTAB", "shown": "\rCR"},
            {"label": "企业设立登记 =1", "shown": "a-b"}]
    table = list(csv.reader(io.StringIO(to_csv(cols, rows).decode("utf-8-sig"))))
    assert table[1] == ["'" + EVIL, "3", "1.5", "7"]
    assert table[2] == ["'+1+2", "-2", "-1.0", "62%"]  # numbers stay numbers, negative ones too
    assert table[3] == ["'-1+2", "", "", "'@SUM(A1)"]
    assert table[4] == ["'\tTAB", "", "", "'\rCR"]
    assert table[5] == ["企业设立登记 =1", "", "", "a-b"]  # only the first character matters


def test_a_service_named_like_a_formula_exports_as_text(db_path, db, day):
    import zipfile

    openpyxl = pytest.importorskip("openpyxl")
    db.conn.execute("UPDATE services SET name = ? WHERE code = 'QY01'", (EVIL,))
    app = create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": day["clock"]})
    try:
        client = app.test_client()
        admin = {"Authorization": f"Bearer {create_token(db, 'admin', 'export-admin')}"}
        base = f"/api/stats/queue/export?from={DAY}&to={DAY}&group=service"
        table = list(csv.reader(io.StringIO(client.get(base + "&format=csv", headers=admin)
                                            .data.decode("utf-8-sig"))))
        row = next(r for r in table if r[0] == "QY01")
        assert row[1] == "'" + EVIL and row[2] == "3"
        drill = client.get(f"/api/stats/queue/tickets/export?from={DAY}&to={DAY}&group=service&key=QY01"
                           "&figure=issued&format=csv", headers=admin).data.decode("utf-8-sig")
        assert f"'{EVIL}" in drill.replace('""', '"')
        for url in (base + "&format=xlsx", f"/api/stats/queue/tickets/export?from={DAY}&to={DAY}&group=service"
                                           "&key=QY01&figure=issued&format=xlsx"):
            data = client.get(url, headers=admin).data
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                sheet = z.read("xl/worksheets/sheet1.xml")
            assert b"<f>" not in sheet and b"HYPERLINK" not in sheet  # no formula; the text is a shared string
            ws = openpyxl.load_workbook(io.BytesIO(data)).active
            cells = [c for r in ws.iter_rows() for c in r if c.value == EVIL]
            assert cells and all(c.data_type == "s" for c in cells)
    finally:
        app.extensions["yichuang.bus"].stop()
