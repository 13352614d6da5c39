"""Appointments from outside: the booking platform (爱山东, 政务服务网) books them, the hall
checks them in (:func:`queue_server.queue.tickets.check_in`).

One function validates and stores a booking, whichever way it comes — ``POST
/api/appointments`` (the platform's connector, token role ``booking``), ``queue-server
appointments import FILE`` (CSV or XLSX, all or nothing) and the admin page
(``queue_server/admin/appointments.py``, thin calls of this module):

* the body is ``code, service, date (YYYY-MM-DD), slot_start, slot_end (HH:MM)`` and the
  optional ``id_number`` and ``name``;
* unknown or inactive service → ``unknown_service``; a bad ID check digit → ``bad_id_number``;
  a malformed date or time, a slot on a closed day, outside the opening hours of its date or
  already ended → ``bad_slot`` (each error names its ``field``);
* the same code with the same body again (a connector retries) answers the appointment as
  it is, ``created`` false; the same code with another body → ``appointment_conflict``.

Nothing personal is stored in clear: the name masked (张*三), the ID number as its keyed
digest (:func:`queue_server.idkey.id_digest`) and masked (3701**********123X); the body is
recognised again by ``body_digest``, an HMAC of the whole body under the same key ring.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from hardware.idnumber import is_valid_id_number, mask_id_number, mask_name, normalize_id_number
from queue_server import clock as clk
from queue_server.audit.chain import append
from queue_server.db import db_path, write_tx
from queue_server.errors import Conflict, NotFound, QueueError, ValidationError, unknown_service
from queue_server.idkey import KeyRing, id_digest, key_ring
from queue_server.queue.common import Hall, hall
from queue_server.queue.records import AppointmentChanged

#: The columns of a booking, in the order the import file has them.
FIELDS = ("code", "service", "date", "slot_start", "slot_end", "id_number", "name")
STATUSES = ("booked", "checked_in", "cancelled", "expired")

_CODE = re.compile(r"^[A-Za-z0-9]{4,32}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class Booking:
    """A validated body, ready to store: nothing personal in clear."""

    code: str
    service: str
    date: str
    slot_start: str
    slot_end: str
    id_hash: str | None
    id_masked: str | None
    name_masked: str
    #: What the body is, to recognise it again: one digest per key of the ring.
    digests: tuple[str, ...]


def _bad_slot(field: str, zh: str, en: str) -> ValidationError:
    return ValidationError("bad_slot", why=zh, why_en=en, field=field)


def _text(data: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise ValidationError("missing_field", field=name)
        return None
    if not isinstance(value, str):
        raise ValidationError("bad_field", field=name)
    return value.strip()


def _body_digests(ring: KeyRing, canon: str) -> tuple[str, ...]:
    current = (ring.current, ring.keys[ring.current])
    others = [(k, v) for k, v in ring.keys.items() if k != ring.current]
    return tuple(f"{k}:{hmac.new(v, canon.encode('utf-8'), hashlib.sha256).hexdigest()}"
                 for k, v in [current, *others])


def validate(db: Database, data: Mapping[str, Any], *, services: Mapping[str, bool] | None = None,
             ring: KeyRing | None = None) -> Booking:
    """Check the body's form (not yet the calendar: see :func:`check_slot`) and return the
    :class:`Booking` to store. ``services`` (code → active) and ``ring`` spare a query per
    row when many are validated at once."""
    code = _text(data, "code", required=True)
    assert code is not None
    if not _CODE.match(code):
        raise ValidationError("bad_appointment_code", field="code")
    code = code.upper()
    service = _text(data, "service", required=True)
    assert service is not None
    if services is None:
        row = db.conn.execute("SELECT active FROM services WHERE code = ?", (service,)).fetchone()
        active = bool(row[0]) if row is not None else False
    else:
        active = bool(services.get(service, False))
    if not active:
        err = unknown_service(service)
        err.details["field"] = "service"
        raise err
    date = _text(data, "date", required=True)
    try:
        day = dt.date.fromisoformat(date or "")
        if len(date or "") != 10:
            raise ValueError(date)
    except ValueError as exc:
        raise _bad_slot("date", "日期格式应为 2026-11-25", "date must be YYYY-MM-DD") from exc
    times: dict[str, str] = {}
    for name in ("slot_start", "slot_end"):
        value = _text(data, name, required=True) or ""
        if not _HHMM.match(value):
            raise _bad_slot(name, "时间格式应为 09:00", f"{name} must be HH:MM")
        times[name] = value
    if times["slot_end"] <= times["slot_start"]:
        raise _bad_slot("slot_end", "结束时间应晚于开始时间", "slot_end must be after slot_start")
    id_number = _text(data, "id_number", required=False)
    id_hash = id_masked = None
    if id_number:
        id_number = normalize_id_number(id_number)
        if not is_valid_id_number(id_number):
            raise ValidationError("bad_id_number", field="id_number")
        id_hash = id_digest(db, id_number)
        id_masked = mask_id_number(id_number)
    name = _text(data, "name", required=False) or ""
    if len(name) > 40:
        raise ValidationError("bad_appointment", what="姓名过长（最多 40 字）", what_en="name: at most 40 characters",
                              field="name")
    canon = json.dumps([code, service, day.isoformat(), times["slot_start"], times["slot_end"], id_number or "",
                        name], ensure_ascii=False, separators=(",", ":"))
    return Booking(code, service, day.isoformat(), str(times["slot_start"]), str(times["slot_end"]), id_hash,
                   id_masked, mask_name(name) if name else "",
                   _body_digests(ring or key_ring(db_path(db)), canon))


def check_slot(h: Hall, b: Booking) -> None:
    """The calendar: not a closed day, within one opening span of its date, not yet ended."""
    reason = clk.closed_reason(h.settings, b.date)
    if reason is not None:
        raise _bad_slot("date", f"{b.date} 闭厅（{reason or '闭厅'}）", f"the hall is closed on {b.date}")
    start = int(b.slot_start[:2]) * 60 + int(b.slot_start[3:])
    end = int(b.slot_end[:2]) * 60 + int(b.slot_end[3:])
    spans = clk.spans_on(h.settings, b.date)
    if not spans:
        raise _bad_slot("date", f"{b.date} 不办理业务", f"the hall does not open on {b.date}")
    if not any(a <= start and end <= z for a, z in spans):
        hours = "、".join(f"{a // 60:02d}:{a % 60:02d}-{z // 60:02d}:{z % 60:02d}" for a, z in sorted(spans))
        raise _bad_slot("slot_start", f"{b.slot_start}-{b.slot_end} 不在当天办理时间（{hours}）内",
                        f"{b.slot_start}-{b.slot_end} is outside the opening hours of {b.date} ({hours})")
    if clk.at_local(b.date, b.slot_end, h.tz) <= h.now:
        raise _bad_slot("slot_end", f"{b.date} {b.slot_start}-{b.slot_end} 已经结束",
                        f"{b.date} {b.slot_start}-{b.slot_end} has already ended")


_SELECT = ("SELECT a.id, a.code, a.service_code, s.name, s.name_en, a.day, a.slot_start, a.slot_end, a.name_masked, "
           "a.id_masked, a.status, t.number, a.checked_in_at, a.created_at FROM appointments a "
           "JOIN services s ON s.code = a.service_code LEFT JOIN tickets t ON t.id = a.ticket_id ")


def _dict(r: Any) -> dict[str, Any]:
    """An appointment as the API shows it: masked name and ID only."""
    return {"id": r[0], "code": r[1], "service": r[2], "service_name": r[3], "service_name_en": r[4], "date": r[5],
            "slot_start": r[6], "slot_end": r[7], "name_masked": r[8] or None, "id_masked": r[9], "status": r[10],
            "ticket_number": r[11], "checked_in_at": r[12], "created_at": r[13]}


def _audit_view(a: Mapping[str, Any]) -> dict[str, Any]:
    return {"service": a["service"], "day": a["date"], "slot_start": a["slot_start"], "slot_end": a["slot_end"],
            "status": a["status"]}


def get(db: Database, code: str) -> dict[str, Any]:
    """One appointment by its code (any status); 404 ``appointment_not_found``."""
    r = db.conn.execute(_SELECT + "WHERE a.code = ?", (str(code).strip().upper(),)).fetchone()
    if r is None:
        raise NotFound("appointment_not_found")
    return _dict(r)


def list_day(db: Database, day: str) -> list[dict[str, Any]]:
    """Every appointment of ``day`` (cancelled and expired ones too), by slot then code."""
    try:
        dt.date.fromisoformat(day)
    except (TypeError, ValueError) as exc:
        raise _bad_slot("date", "日期格式应为 2026-11-25", "date must be YYYY-MM-DD") from exc
    return [_dict(r) for r in db.conn.execute(_SELECT + "WHERE a.day = ? ORDER BY a.slot_start, a.code", (day,))]


def _same(stored: str | None, b: Booking) -> bool:
    return stored is not None and stored in b.digests


def _insert(conn: sqlite3.Connection, b: Booking, now: float, actor: str) -> int:
    cur = conn.execute(
        "INSERT INTO appointments (code, service_code, day, slot_start, slot_end, name_masked, id_hash, id_masked, "
        "body_digest, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (b.code, b.service, b.date, b.slot_start, b.slot_end, b.name_masked, b.id_hash, b.id_masked, b.digests[0],
         now))
    appointment_id = int(cur.lastrowid or 0)
    append(conn, AppointmentChanged(
        appointment_id=appointment_id, code=b.code, before=None,
        after={"service": b.service, "day": b.date, "slot_start": b.slot_start, "slot_end": b.slot_end,
               "status": "booked"}), actor=actor, ts=now)
    return appointment_id


def book(db: Database, data: Mapping[str, Any], *, actor: str = "system",
         clock: clk.Clock | None = None) -> tuple[dict[str, Any], bool]:
    """Book one appointment; returns ``(appointment, created)``. ``created`` is false when
    the same code with the same body was booked before (the appointment as it is now, maybe
    since cancelled or checked in); another body under that code → ``appointment_conflict``."""
    b = validate(db, data)
    h = hall(db, clock)
    with write_tx(db) as conn:
        old = conn.execute("SELECT body_digest FROM appointments WHERE code = ?", (b.code,)).fetchone()
        if old is not None:
            if not _same(old[0], b):
                raise Conflict("appointment_conflict", appointment=b.code)
            return _dict(conn.execute(_SELECT + "WHERE a.code = ?", (b.code,)).fetchone()), False
        check_slot(h, b)
        appointment_id = _insert(conn, b, h.now, actor)
        return _dict(conn.execute(_SELECT + "WHERE a.id = ?", (appointment_id,)).fetchone()), True


@dataclass
class ImportResult:
    created: int = 0
    unchanged: int = 0
    conflicting: int = 0
    conflicts: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "unchanged": self.unchanged, "conflicting": self.conflicting,
                "conflicts": list(self.conflicts or [])}


class RowError(Exception):
    """Row ``row`` (1 = the first data row) of a batch is refused: ``field`` and ``error``."""

    def __init__(self, row: int, field: str, error: QueueError) -> None:
        super().__init__(f"row {row}: {field}: {error.zh}")
        self.row = row
        self.field = field
        self.error = error


def _field_of(err: QueueError) -> str:
    return str(err.details.get("field") or "")


def book_many(db: Database, rows: Iterable[Mapping[str, Any]], *, actor: str = "system",
              clock: clk.Clock | None = None,
              progress: Callable[[str, int], None] | None = None) -> ImportResult:
    """Book a whole batch (an import file) in one transaction: all or nothing.

    Every row is validated first; the first bad one raises :class:`RowError` (its number,
    1-based, its column and the error) and nothing is stored. Codes already booked with the
    same body count as ``unchanged``, with another body (or twice in the batch with two
    bodies) as ``conflicting`` and are left as they are. ``progress(stage, n)`` is told how
    many rows were validated (``"checked"``) and stored (``"stored"``) every 500 rows.
    """
    h = hall(db, clock)
    services = {str(r[0]): bool(r[1]) for r in db.conn.execute("SELECT code, active FROM services")}
    ring = key_ring(db_path(db))
    bookings: list[Booking] = []
    for i, data in enumerate(rows, start=1):
        try:
            b = validate(db, data, services=services, ring=ring)
            bookings.append(b)
        except QueueError as err:
            raise RowError(i, _field_of(err), err) from err
        if progress is not None and i % 500 == 0:
            progress("checked", i)
    if progress is not None:
        progress("checked", len(bookings))
    result = ImportResult(conflicts=[])
    assert result.conflicts is not None
    with write_tx(db) as conn:
        existing: dict[str, str | None] = {}
        codes = sorted({b.code for b in bookings})
        for k in range(0, len(codes), 500):
            chunk = codes[k:k + 500]
            existing.update((str(r[0]), r[1]) for r in conn.execute(
                f"SELECT code, body_digest FROM appointments WHERE code IN ({','.join('?' * len(chunk))})", chunk))
        seen: dict[str, Booking] = {}
        for i, b in enumerate(bookings, start=1):
            if b.code in existing:
                if _same(existing[b.code], b):
                    result.unchanged += 1
                else:
                    result.conflicting += 1
                    result.conflicts.append(b.code)
                continue
            first = seen.get(b.code)
            if first is not None:
                if first.digests[0] == b.digests[0]:
                    result.unchanged += 1
                else:
                    result.conflicting += 1
                    result.conflicts.append(b.code)
                continue
            try:
                check_slot(h, b)
            except QueueError as err:
                raise RowError(i, _field_of(err), err) from err
            _insert(conn, b, h.now, actor)
            seen[b.code] = b
            result.created += 1
            if progress is not None and i % 500 == 0:
                progress("stored", i)
    if progress is not None:
        progress("stored", len(bookings))
    return result


def cancel(db: Database, code: str, *, actor: str = "system", again_ok: bool = True) -> dict[str, Any]:
    """Cancel a booked appointment (one already checked in keeps its ticket: 409
    ``appointment_not_active``, as for an expired one). Cancelling a cancelled one again
    answers it as it is when ``again_ok`` (a connector retries), else 409 too."""
    with write_tx(db) as conn:
        r = conn.execute(_SELECT + "WHERE a.code = ?", (str(code).strip().upper(),)).fetchone()
        if r is None:
            raise NotFound("appointment_not_found")
        before = _dict(r)
        if before["status"] == "cancelled" and again_ok:
            return before
        if before["status"] != "booked":
            raise Conflict("appointment_not_active")
        conn.execute("UPDATE appointments SET status = 'cancelled' WHERE id = ?", (before["id"],))
        after = {**before, "status": "cancelled"}
        append(conn, AppointmentChanged(appointment_id=before["id"], code=before["code"], before=_audit_view(before),
                                        after=_audit_view(after)), actor=actor)
    return after


def new_code(db: Database) -> str:
    """A fresh 预约码 for a booking made in the hall (``YY`` + 6 digits, unused)."""
    import secrets

    for _ in range(50):
        code = f"YY{secrets.randbelow(10**6):06d}"
        if db.conn.execute("SELECT 1 FROM appointments WHERE code = ?", (code,)).fetchone() is None:
            return code
    return f"YY{secrets.randbelow(10**10):010d}"


# --- import files (queue-server appointments import) -----------------------------------------


@dataclass(frozen=True)
class FileRow:
    """A data row of an import file: ``row`` counts data rows from 1, ``line`` is the file's
    line (CSV) or sheet row (XLSX) it starts on."""

    row: int
    line: int
    data: dict[str, Any]


class FileError(Exception):
    """The file cannot be read as a bookings table (encoding, header, format); ``line``."""

    def __init__(self, line: int, zh: str, en: str) -> None:
        super().__init__(f"line {line}: {en}")
        self.line = line
        self.zh = zh
        self.en = en


def _cell(value: Any) -> Any:
    """An XLSX cell as the text a CSV would carry (dates, times, whole numbers)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if (value.hour, value.minute, value.second) == (0, 0, 0) \
            else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return str(value)


_EXCEL_DATE = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_EXCEL_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::00)?$")


def _excel_text(name: str, value: Any) -> Any:
    """What Excel makes of a date or time in a CSV (``2026/11/25``, ``9:00``, ``09:00:00``)
    back in the API's form; anything else unchanged (the validation says what is wrong)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    m = _EXCEL_DATE.match(text) if name == "date" else _EXCEL_TIME.match(text)
    if m is None:
        return value
    if name == "date":
        return f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}"
    return f"{int(m[1]):02d}:{m[2]}"


def _header(cells: list[Any], line: int) -> list[str | None]:
    names: list[str | None] = []
    for c in cells:
        name = str(c).strip().lstrip("\ufeff").lower() if c is not None else ""
        names.append(name if name in FIELDS else None)
    missing = [f for f in FIELDS[:5] if f not in names]
    if missing:
        raise FileError(line, f"表头缺少列：{', '.join(missing)}（应有 {', '.join(FIELDS)}）",
                        f"the header lacks column(s) {', '.join(missing)} (expected {', '.join(FIELDS)})")
    return names


def _rows(header: list[str | None], records: Iterable[tuple[int, list[Any]]]) -> list[FileRow]:
    out = []
    for n, (line, cells) in enumerate(records, start=1):
        values = [_cell(c) for c in cells]
        if all(v is None or not str(v).strip() for v in values):
            continue  # a blank row (Excel leaves some at the end)
        data = {name: (values[i] if i < len(values) else None) for i, name in enumerate(header) if name}
        for name in ("date", "slot_start", "slot_end"):
            data[name] = _excel_text(name, data.get(name))
        out.append(FileRow(n, line, {k: (v if v is None or str(v).strip() else None) for k, v in data.items()}))
    return out


def read_file(path: str) -> list[FileRow]:
    """The rows of a bookings file: CSV (UTF-8, with or without the BOM Excel writes) or
    XLSX (first sheet), columns :data:`FIELDS` by their header (any order; ``id_number`` and
    ``name`` may be missing). Raises :class:`FileError` naming the line."""
    import csv
    import io

    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:4] == b"PK\x03\x04":  # a zip: XLSX
        import openpyxl

        try:
            wb = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise FileError(1, f"无法读取 XLSX 文件：{exc}", f"cannot read the XLSX file: {exc}") from exc
        try:
            sheet = wb.worksheets[0]
            it = sheet.iter_rows(values_only=True)
            first = next(it, None)
            if first is None:
                raise FileError(1, "文件是空的", "the file is empty")
            header = _header(list(first), 1)
            return _rows(header, ((i, list(r)) for i, r in enumerate(it, start=2)))
        finally:
            wb.close()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise FileError(line, "不是 UTF-8 编码（在 Excel 中另存为“CSV UTF-8”）",
                        "not UTF-8 (in Excel: save as \"CSV UTF-8\")") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        first = next(reader, None)
        if first is None:
            raise FileError(1, "文件是空的", "the file is empty")
        header = _header(list(first), 1)
        records: list[tuple[int, list[Any]]] = []
        line = reader.line_num + 1
        for cells in reader:
            records.append((line, list(cells)))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise FileError(reader.line_num, f"CSV 格式错误：{exc}", f"malformed CSV: {exc}") from exc
    return _rows(header, records)
