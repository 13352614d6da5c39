"""Importing a day of bookings from the provincial platform: ``queue-server appointments
import FILE`` with 5,000 rows (CSV with a BOM, as Excel saves it, and XLSX), each run into
a fresh demo hall. Prints median and p99 over the runs of the whole command (read, validate,
store with an audit record per appointment, one transaction). Target: under 5 s.

    .venv/bin/python bench/bench_appointments.py            # 5,000 rows, 7 runs each
    .venv/bin/python bench/bench_appointments.py --rows 20000 --runs 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from hardware.idnumber import id_check_digit
from queue_server.cli import main
from queue_server.demo import make_hall
from queue_server.migrations import open_db

HEADER = ["code", "service", "date", "slot_start", "slot_end", "id_number", "name"]
SERVICES = ["HZ02", "HZ04", "SB02", "GJ01", "GJ02"]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def weekday_ahead(days: int) -> str:
    d = dt.date.today() + dt.timedelta(days=days)
    while d.weekday() >= 5:
        d += dt.timedelta(days=1)
    return d.isoformat()


def table(n: int) -> list[list[str]]:
    day = weekday_ahead(7)
    out = []
    for i in range(n):
        start = 8 * 60 + 30 + (i % 7) * 30  # 08:30 .. 11:30, inside the morning span
        first17 = f"370181{1950 + i % 50}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
        out.append([f"BK{i:08d}", SERVICES[i % len(SERVICES)], day, f"{start // 60:02d}:{start % 60:02d}",
                    f"{(start + 30) // 60:02d}:{(start + 30) % 60:02d}", first17 + id_check_digit(first17),
                    "王小明" if i % 3 else ""])
    return out


def write_csv(path: Path, rows: list[list[str]]) -> None:
    text = "\r\n".join(",".join(r) for r in [HEADER, *rows]) + "\r\n"
    path.write_bytes(("\ufeff" + text).encode("utf-8"))


def write_xlsx(path: Path, rows: list[list[str]]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    for r, row in enumerate([HEADER, *rows]):
        ws.write_row(r, 0, row)
    wb.close()


def once(tmp: Path, file: Path, n: int) -> float:
    db_path = tmp / f"hall-{time.monotonic_ns()}.db"
    db = open_db(db_path)
    make_hall(db, appointments=0, approvals_data=False)
    db.conn.close()
    t0 = time.perf_counter()
    r = CliRunner().invoke(main, ["appointments", "import", "--quiet", "--db", str(db_path), str(file)])
    took = time.perf_counter() - t0
    if r.exit_code != 0 or f"created {n}," not in r.output:
        raise SystemExit(f"import failed: {r.output}")
    return took


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    rows = table(args.rows)
    print(f"importing {args.rows} bookings, {args.runs} runs per format (fresh hall each run)")
    print(f"{'file':<14}{'median s':>10}{'p99 s':>10}{'n':>5}")
    with tempfile.TemporaryDirectory(prefix="bench-appointments-") as d:
        tmp = Path(d)
        for kind, writer in (("csv (BOM)", write_csv), ("xlsx", write_xlsx)):
            file = tmp / f"bookings.{kind[:4].strip()}"
            writer(file, rows)
            times = [once(tmp, file, args.rows) for _ in range(args.runs)]
            print(f"{kind:<14}{statistics.median(times):>10.2f}{pct(times, 99):>10.2f}{len(times):>5}")
    print("target: under 5 s for 5,000 rows")


if __name__ == "__main__":
    main_()
