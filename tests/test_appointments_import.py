"""``queue-server appointments import FILE`` (issue 18): CSV with and without a BOM, XLSX,
all or nothing (a bad row in the middle imports nothing and is named), counts of created,
unchanged and conflicting."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from queue_server.cli import main
from queue_server.demo import make_hall
from tests.support.queue import valid_id, wrong_check_digit

HEADER = "code,service,date,slot_start,slot_end,id_number,name"


def _future_day() -> str:
    """A weekday at least a week ahead (the demo hall opens 08:30-12:00 on weekdays)."""
    d = dt.date.today() + dt.timedelta(days=8)
    while d.weekday() >= 5:
        d += dt.timedelta(days=1)
    return d.isoformat()


DAY = _future_day()


@pytest.fixture
def hall_db(db_path, db):
    make_hall(db, appointments=0)
    return db_path


def rows(n: int, start: int = 0) -> list[str]:
    out = []
    for i in range(start, start + n):
        minute = 9 * 60 + (i % 5) * 30
        slot = f"{minute // 60:02d}:{minute % 60:02d}"
        end = f"{(minute + 30) // 60:02d}:{(minute + 30) % 60:02d}"
        out.append(f"IMP{i:06d},HZ02,{DAY},{slot},{end},{valid_id(f'37018119900101{i % 1000:03d}')},王小{i % 10}")
    return out


def run(hall_db: Path, path: Path):
    return CliRunner().invoke(main, ["appointments", "import", "--db", str(hall_db), str(path)])


def count(db) -> int:
    return int(db.conn.execute("SELECT COUNT(*) FROM appointments").fetchone()[0])


def test_a_csv_with_a_bom_as_excel_saves_it(hall_db, db, tmp_path):
    f = tmp_path / "bookings.csv"
    f.write_bytes(("\ufeff" + "\r\n".join([HEADER, *rows(3)]) + "\r\n").encode("utf-8"))
    r = run(hall_db, f)
    assert r.exit_code == 0, r.output
    assert "created 3, unchanged 0, conflicting 0" in r.output
    assert count(db) == 3
    stored = " ".join(str(list(x)) for x in db.conn.execute("SELECT * FROM appointments"))
    assert "王小" not in stored and valid_id("37018119900101001") not in stored


def test_a_bad_row_in_the_middle_imports_nothing_and_is_named(hall_db, db, tmp_path):
    lines = rows(5)
    bad = lines[2].split(",")
    bad[5] = wrong_check_digit()
    lines[2] = ",".join(bad)
    f = tmp_path / "bookings.csv"
    f.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    r = run(hall_db, f)
    assert r.exit_code == 1
    assert "row 3 (line 4), column id_number" in r.output and "bad_id_number" in r.output
    assert "nothing imported" in r.output
    assert count(db) == 0


def test_an_unknown_service_or_a_closed_slot_is_named_too(hall_db, db, tmp_path):
    lines = rows(4)
    lines[1] = lines[1].replace(",HZ02,", ",NOPE,")
    f = tmp_path / "a.csv"
    f.write_text("\n".join([HEADER, *lines]), encoding="utf-8")
    r = run(hall_db, f)
    assert r.exit_code == 1 and "row 2 (line 3), column service" in r.output and "unknown_service" in r.output
    lines = rows(4)
    cells = lines[3].split(",")
    cells[3:5] = ["19:00", "19:30"]  # after closing time
    lines[3] = ",".join(cells)
    f.write_text("\n".join([HEADER, *lines]), encoding="utf-8")
    r = run(hall_db, f)
    assert r.exit_code == 1 and "row 4 (line 5), column slot_start" in r.output and "bad_slot" in r.output
    assert count(db) == 0


def test_a_file_that_is_not_utf8_or_lacks_a_column_names_the_line(hall_db, db, tmp_path):
    f = tmp_path / "gbk.csv"
    f.write_bytes("\n".join([HEADER, *rows(2)]).encode("gbk"))
    r = run(hall_db, f)
    assert r.exit_code == 1 and "line 2" in r.output and "UTF-8" in r.output
    f.write_text("code,service,date\nX1,HZ02,2026-11-25\n", encoding="utf-8")
    r = run(hall_db, f)
    assert r.exit_code == 1 and "line 1" in r.output and "slot_start" in r.output
    assert count(db) == 0


def test_again_is_unchanged_and_another_body_conflicting(hall_db, db, tmp_path):
    f = tmp_path / "bookings.csv"
    f.write_text("\n".join([HEADER, *rows(4)]), encoding="utf-8")
    assert run(hall_db, f).exit_code == 0
    changed = rows(4)
    changed[1] = changed[1].replace("王小1", "李四")
    f.write_text("\n".join([HEADER, *changed, *rows(1, start=10)]), encoding="utf-8")
    r = run(hall_db, f)
    assert r.exit_code == 0, r.output
    assert "created 1, unchanged 3, conflicting 1" in r.output and "conflicting: IMP000001" in r.output
    assert count(db) == 5


def test_xlsx_with_dates_and_times_as_excel_stores_them(hall_db, db, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER.split(","))
    day = dt.date.fromisoformat(DAY)
    ws.append(["XL0001", "HZ02", day, dt.time(9, 0), dt.time(9, 30), valid_id("37018119900101001"), "张三"])
    ws.append(["XL0002", "HZ04", DAY, "10:00", "10:30", None, None])
    ws.append([None] * 7)  # Excel's trailing blank rows
    f = tmp_path / "bookings.xlsx"
    wb.save(f)
    r = run(hall_db, f)
    assert r.exit_code == 0, r.output
    assert "created 2, unchanged 0, conflicting 0" in r.output
    got = db.conn.execute("SELECT code, day, slot_start, slot_end, name_masked FROM appointments ORDER BY code")
    assert [tuple(x) for x in got] == [("XL0001", DAY, "09:00", "09:30", "张*"), ("XL0002", DAY, "10:00", "10:30", "")]


def test_a_big_file_shows_its_progress_and_imports_in_seconds(hall_db, db, tmp_path):
    f = tmp_path / "big.csv"
    f.write_text("\n".join([HEADER, *rows(2000)]), encoding="utf-8")
    t0 = time.monotonic()
    r = CliRunner().invoke(main, ["appointments", "import", "--db", str(hall_db), str(f)])
    assert r.exit_code == 0, r.output
    assert "checked 1000 of 2000 rows" in r.output and "stored 2000 of 2000 rows" in r.output
    assert "created 2000" in r.output and count(db) == 2000
    assert time.monotonic() - t0 < 20


def test_the_help_text_says_all_or_nothing():
    r = CliRunner().invoke(main, ["appointments", "import", "--help"])
    text = " ".join(r.output.split())
    assert r.exit_code == 0 and "All or nothing" in text and "row N" in text
