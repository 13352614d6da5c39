"""The licence register: loading and issuing licences, versions, revocation, lookups.

A licence is identified by its GB/T 36904 identifier; a *change* (new face data, a higher
version) gives a new row with the next version that supersedes the old one. A reload of the
same licence (same type, issuer and number, same data) changes nothing, so
``queue-server licences load`` can run twice. Holders are looked up by the keyed digest of
their ID number or USCC (:func:`queue_server.idkey.id_digests`); no full resident ID number
is stored (DESIGN §11).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from hardware.idnumber import (
    is_valid_id_number,
    is_valid_uscc,
    mask_id_number,
    mask_name,
    normalize_id_number,
)
from queue_server import idkey
from queue_server.audit.chain import append
from queue_server.db import write_tx
from queue_server.errors import Conflict, NotFound, ValidationError
from queue_server.licences import identifier
from queue_server.licences.records import LicenceIssued, LicenceRevoked

HOLDER_ID_TYPES = ("id_card", "uscc")
#: Stored statuses (the issue's); :func:`effective_status` adds ``not_yet_valid`` when read.
STATUSES = ("valid", "revoked", "expired", "superseded")
#: Effective status → (zh, en) as screens word it.
STATUS_TEXT = {
    "valid": ("有效", "Valid"),
    "revoked": ("已注销", "Revoked"),
    "expired": ("已过期", "Expired"),
    "superseded": ("已有新版本", "Superseded by a newer version"),
    "not_yet_valid": ("尚未生效", "Not yet in force"),
}
#: The fields a load row must have (the issue's file format).
REQUIRED = ("type_code", "type_name", "number", "holder_name", "holder_id_type", "holder_id", "issuer_name",
            "issuer_uscc", "issue_date", "valid_from", "valid_to")
#: valid_to values meaning "no end date".
OPEN_ENDED = ("长期", "long-term", "")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FIELDS_MAX = 20


class RowProblem(Exception):
    """A field of a licence row is wrong: ``field``, Chinese ``zh`` and English ``en``."""

    def __init__(self, name: str, zh: str, en: str) -> None:
        super().__init__(f"{name}: {en}")
        self.field, self.zh, self.en = name, zh, en


@dataclass(frozen=True)
class LicenceInput:
    """One licence's face data, checked and normalised."""

    type_code: str
    type_name: str
    number: str
    holder_name: str
    holder_id_type: str
    holder_id: str
    issuer_name: str
    issuer_uscc: str
    issue_date: str
    valid_from: str
    valid_to: str | None
    serial: str | None = None
    version: int | None = None
    fields: dict[str, str] = field(default_factory=dict)
    legal_rep_id: str | None = None
    legal_rep_key: str | None = None
    """The legal representative (operator) by keyed digest only, when the issuer has no ID
    number to hand (a 秒批 case keeps the applicant's digest, never the number)."""

    @property
    def number_is_id(self) -> bool:
        return is_valid_id_number(self.number)

    def number_shown(self) -> str:
        return mask_id_number(self.number) if self.number_is_id else self.number

    def face(self) -> dict[str, Any]:
        """What a reload compares (the keyed columns are compared separately)."""
        return {"type_name": self.type_name, "holder_name": self.holder_name, "holder_id_type": self.holder_id_type,
                "issuer_name": self.issuer_name, "issue_date": self.issue_date, "valid_from": self.valid_from,
                "valid_to": self.valid_to, "fields": self.fields}


def _text(row: dict[str, Any], name: str, max_len: int, *, required: bool = True) -> str | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowProblem(name, "缺少该字段", "missing")
        return None
    if not isinstance(value, str):
        raise RowProblem(name, "应为文本", "must be a string")
    value = value.strip()
    if len(value) > max_len:
        raise RowProblem(name, f"过长（最多 {max_len} 字）", f"longer than {max_len} characters")
    return value


def _date(row: dict[str, Any], name: str) -> str:
    value = _text(row, name, 10) or ""
    if not _DATE.match(value):
        raise RowProblem(name, "日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError as exc:
        raise RowProblem(name, "不是有效日期", "not a real date") from exc
    return value


def check_row(row: Any) -> LicenceInput:
    """Validate one licence row (the load file's, or an approval's); :class:`RowProblem`
    names the first field at fault."""
    if not isinstance(row, dict):
        raise RowProblem("row", "应为 JSON 对象", "must be a JSON object")
    for name in REQUIRED:
        if name not in row:
            raise RowProblem(name, "缺少该字段", "missing")
    type_code = (_text(row, "type_code", identifier.TYPE_CODE_MAX) or "").upper()
    if identifier.type_code_problem(type_code):
        raise RowProblem("type_code", "只能是大写字母和数字（最多 40 位）", "letters A-Z and digits, at most 40")
    type_name = _text(row, "type_name", 60) or ""
    number = _text(row, "number", 64) or ""
    if _CONTROL.search(number):
        raise RowProblem("number", "证照编号含有不允许的字符", "licence number has characters that are not allowed")
    holder_name = _text(row, "holder_name", 100) or ""
    id_type = _text(row, "holder_id_type", 10)
    if id_type not in HOLDER_ID_TYPES:
        raise RowProblem("holder_id_type", "应为 id_card 或 uscc", "must be id_card or uscc")
    holder_id = normalize_id_number(_text(row, "holder_id", 32) or "")
    if id_type == "id_card" and not is_valid_id_number(holder_id):
        raise RowProblem("holder_id", "不是有效的居民身份证号码（GB 11643）", "not a valid resident ID number (GB 11643)")
    if id_type == "uscc" and not is_valid_uscc(holder_id):
        raise RowProblem("holder_id", "不是有效的统一社会信用代码（GB 32100）",
                         "not a valid unified social credit code (GB 32100)")
    issuer_name = _text(row, "issuer_name", 100) or ""
    issuer_uscc = (_text(row, "issuer_uscc", 18) or "").upper()
    if not is_valid_uscc(issuer_uscc):
        raise RowProblem("issuer_uscc", "不是有效的统一社会信用代码（GB 32100）",
                         "not a valid unified social credit code (GB 32100)")
    issue_date = _date(row, "issue_date")
    valid_from = _date(row, "valid_from")
    raw_to = row.get("valid_to")
    valid_to: str | None
    if raw_to is None or (isinstance(raw_to, str) and raw_to.strip() in OPEN_ENDED):
        valid_to = None
    else:
        valid_to = _date(row, "valid_to")
        if valid_to < valid_from:
            raise RowProblem("valid_to", "有效期截止早于起始日期", "ends before valid_from")
    serial = row.get("serial")
    if serial is not None:
        if isinstance(serial, int) and not isinstance(serial, bool):
            serial = str(serial)
        if not isinstance(serial, str) or identifier.serial_problem(serial.upper()):
            raise RowProblem("serial", "流水号只能是字母和数字（最多 32 位）", "letters and digits, at most 32")
        serial = serial.upper()
    version = row.get("version")
    if version is not None:
        if isinstance(version, str) and version.isdigit():
            version = int(version)
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= 999:
            raise RowProblem("version", "版本号应为 1 到 999", "must be 1-999")
    fields = row.get("fields") or {}
    if not isinstance(fields, dict) or len(fields) > _FIELDS_MAX or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 40 and len(v) <= 200 for k, v in fields.items()):
        raise RowProblem("fields", f"应为文本键值对（最多 {_FIELDS_MAX} 项）", f"must map text to text (at most {_FIELDS_MAX})")
    legal_rep = row.get("legal_rep_id")
    if legal_rep is not None:
        if not isinstance(legal_rep, str) or not is_valid_id_number(legal_rep):
            raise RowProblem("legal_rep_id", "不是有效的居民身份证号码", "not a valid resident ID number")
        legal_rep = normalize_id_number(legal_rep)
    if "identifier" in row and row["identifier"] is not None:
        try:
            parsed = identifier.parse(str(row["identifier"]))
        except ValueError as exc:
            raise RowProblem("identifier", "证照标识校验未通过（GB/T 36904）", str(exc)) from exc
        if (parsed.type_code, parsed.issuer_uscc) != (type_code, issuer_uscc) or (
                serial is not None and parsed.serial != serial) or (version is not None and parsed.version != version):
            raise RowProblem("identifier", "证照标识与类型、颁发机构、流水号或版本不一致",
                             "does not match type_code, issuer_uscc, serial or version")
        serial, version = parsed.serial, parsed.version
    return LicenceInput(type_code, type_name, number, holder_name, id_type, holder_id, issuer_name, issuer_uscc,
                        issue_date, valid_from, valid_to, serial, version, dict(fields), legal_rep)


# --- writing ----------------------------------------------------------------------------------


def _db(conn: sqlite3.Connection) -> Database:
    """A Database view of ``conn`` for the keyed digests (they need the database's path)."""
    return Database(conn, recursive_triggers=False, execute_plugins=False)


def _find_current(conn: sqlite3.Connection, inp: LicenceInput) -> sqlite3.Row | None:
    keys = idkey.id_digests(_db(conn), inp.number)
    marks = ",".join("?" * len(keys))
    return conn.execute(
        f"SELECT * FROM licences WHERE type_code = ? AND issuer_uscc = ? AND number_key IN ({marks}) "
        "AND status != 'superseded' ORDER BY version DESC LIMIT 1", (inp.type_code, inp.issuer_uscc, *keys),
    ).fetchone()


def _same(conn: sqlite3.Connection, row: sqlite3.Row, inp: LicenceInput) -> bool:
    stored = {"type_name": row["type_name"], "holder_name": row["holder_name"],
              "holder_id_type": row["holder_id_type"], "issuer_name": row["issuer_name"],
              "issue_date": row["issue_date"], "valid_from": row["valid_from"], "valid_to": row["valid_to"],
              "fields": json.loads(row["fields"])}
    if stored != inp.face():
        return False
    if row["holder_key"] not in idkey.id_digests(_db(conn), inp.holder_id):
        return False
    if inp.legal_rep_id is None:
        return bool(row["legal_rep_key"] == inp.legal_rep_key)
    return row["legal_rep_key"] in idkey.id_digests(_db(conn), inp.legal_rep_id)


def _new_serial(conn: sqlite3.Connection, inp: LicenceInput) -> str:
    n = conn.execute("SELECT COUNT(DISTINCT serial) FROM licences WHERE type_code = ? AND issuer_uscc = ?",
                     (inp.type_code, inp.issuer_uscc)).fetchone()[0]
    year = inp.issue_date[:4]
    while True:
        n += 1
        serial = f"{year}{n:07d}"
        if conn.execute("SELECT 1 FROM licences WHERE type_code = ? AND issuer_uscc = ? AND serial = ?",
                        (inp.type_code, inp.issuer_uscc, serial)).fetchone() is None:
            return serial


def write_licence(conn: sqlite3.Connection, inp: LicenceInput, *, source: str, case: str | None = None,
                  actor: str = "system", now: float | None = None) -> tuple[int, str]:
    """Store ``inp`` inside the caller's write transaction: ``(licence id, outcome)`` where
    outcome is ``new``, ``version`` (a new version superseding the current one) or
    ``unchanged``. :class:`RowProblem` when the version goes backwards."""
    t = time.time() if now is None else now
    if inp.version is not None:
        keys = idkey.id_digests(_db(conn), inp.number)
        same_version = conn.execute(
            f"SELECT * FROM licences WHERE type_code = ? AND issuer_uscc = ? AND number_key IN "
            f"({','.join('?' * len(keys))}) AND version = ? ORDER BY id DESC LIMIT 1",
            (inp.type_code, inp.issuer_uscc, *keys, inp.version)).fetchone()
        if same_version is not None and (inp.serial is None or inp.serial == same_version["serial"]):
            if _same(conn, same_version, inp):
                return int(same_version["id"]), "unchanged"
            raise RowProblem("version", f"版本 {inp.version} 已存在且内容不同，请使用更高的版本号",
                             f"version {inp.version} exists with other data; give a higher version")
    current = _find_current(conn, inp)
    supersedes: int | None = None
    if current is not None:
        if inp.serial is not None and inp.serial != current["serial"]:
            current = None  # another licence with the same number (a re-issue under a new serial)
    if current is not None:
        same = _same(conn, current, inp)
        if inp.version is None or inp.version == current["version"]:
            if same:
                return int(current["id"]), "unchanged"
            if inp.version is not None:
                raise RowProblem("version", f"版本 {inp.version} 已存在且内容不同，请使用更高的版本号",
                                 f"version {inp.version} exists with other data; give a higher version")
            version = int(current["version"]) + 1
        elif inp.version < current["version"]:
            raise RowProblem("version", f"版本号低于现有版本 {current['version']}",
                             f"lower than the current version {current['version']}")
        else:
            version = inp.version
        serial = str(current["serial"])
        supersedes = int(current["id"])
    else:
        serial = inp.serial or _new_serial(conn, inp)
        version = inp.version or 1
    ident = identifier.build(inp.type_code, inp.issuer_uscc, serial, version)
    if conn.execute("SELECT 1 FROM licences WHERE identifier = ?", (ident,)).fetchone():
        raise RowProblem("serial", "该证照标识已被另一证照使用", f"identifier {ident} belongs to another licence")
    db = _db(conn)
    holder_masked_id = inp.holder_id if inp.holder_id_type == "uscc" else mask_id_number(inp.holder_id)
    cur = conn.execute(
        "INSERT INTO licences (identifier, type_code, type_name, number_shown, number_key, holder_name, "
        "holder_id_type, holder_key, holder_id_masked, holder_uscc, legal_rep_key, issuer_name, issuer_uscc, "
        "issue_date, valid_from, valid_to, serial, version, status, fields, source, case_number, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'valid', ?, ?, ?, ?, ?)",
        (ident, inp.type_code, inp.type_name, inp.number_shown(), idkey.id_digest(db, inp.number), inp.holder_name,
         inp.holder_id_type, idkey.id_digest(db, inp.holder_id), holder_masked_id,
         inp.holder_id if inp.holder_id_type == "uscc" else None,
         idkey.id_digest(db, inp.legal_rep_id) if inp.legal_rep_id else inp.legal_rep_key, inp.issuer_name,
         inp.issuer_uscc,
         inp.issue_date, inp.valid_from, inp.valid_to, serial, version,
         json.dumps(inp.fields, ensure_ascii=False, sort_keys=True), source, case, t, t),
    )
    licence_id = int(cur.lastrowid or 0)
    if supersedes is not None:
        conn.execute("UPDATE licences SET status = 'superseded', superseded_by = ?, updated_at = ? WHERE id = ?",
                     (licence_id, t, supersedes))
    append(conn, LicenceIssued(licence_id=licence_id, type_code=inp.type_code, version=version, source=source,
                               case=case, supersedes=supersedes), actor=actor, ts=t)
    return licence_id, ("version" if supersedes is not None else "new")


def issue_licence(conn: sqlite3.Connection, *, type_code: str, type_name: str, number: str, holder_name: str,
                  holder_id_type: str, holder_id: str, issuer_name: str, issuer_uscc: str, issue_date: str,
                  valid_from: str, valid_to: str | None, serial: str | None = None, version: int | None = None,
                  fields: dict[str, str] | None = None, legal_rep_id: str | None = None,
                  legal_rep_key: str | None = None, case: str | None = None,
                  source: str = "approval", actor: str = "system", now: float | None = None) -> dict[str, Any]:
    """Issue an e-licence inside the caller's write transaction (what a 秒批 approval whose
    result is a licence calls, with its case number); returns ``{"id", "identifier",
    "outcome"}``. ``legal_rep_key``: the operator's keyed ID digest instead of the number.
    422 ``bad_licence`` names the field at fault."""
    row = {"type_code": type_code, "type_name": type_name, "number": number, "holder_name": holder_name,
           "holder_id_type": holder_id_type, "holder_id": holder_id, "issuer_name": issuer_name,
           "issuer_uscc": issuer_uscc, "issue_date": issue_date, "valid_from": valid_from,
           "valid_to": valid_to if valid_to is not None else "长期", "serial": serial, "version": version,
           "fields": fields or {}, "legal_rep_id": legal_rep_id}
    try:
        inp = check_row(row)
        if legal_rep_id is None and legal_rep_key is not None:
            if not re.fullmatch(r"[a-z]\d+:[0-9a-f]{64}", legal_rep_key):
                raise RowProblem("legal_rep_key", "不是有效的证件摘要", "not a keyed ID digest")
            inp = dataclasses.replace(inp, legal_rep_key=legal_rep_key)
        licence_id, outcome = write_licence(conn, inp, source=source, case=case, actor=actor, now=now)
    except RowProblem as exc:
        raise ValidationError("bad_licence", field=exc.field, problem=exc.zh, problem_en=exc.en) from exc
    ident = conn.execute("SELECT identifier FROM licences WHERE id = ?", (licence_id,)).fetchone()[0]
    return {"id": licence_id, "identifier": ident, "outcome": outcome}


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _org_code_check(body: str) -> str:
    """The check character of an organisation code (GB 11714: weights 3 7 9 10 5 8 4 2)."""
    total = sum(int(c, 36) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def new_uscc(conn: sqlite3.Connection, prefix: str, region: str) -> str:
    """A unified social credit code for a newly registered entity (GB 32100): ``prefix``
    (registration authority and kind, e.g. ``92`` a 个体工商户), the 6-digit region, a random
    organisation code with its GB 11714 check character and the code's own check character;
    never one the register already holds."""
    from hardware.idnumber import uscc_check_char

    while True:
        body = "".join(secrets.choice(_USCC_CHARS) for _ in range(8))
        head = f"{prefix}{region}{body}{_org_code_check(body)}"
        code = head + uscc_check_char(head)
        if conn.execute("SELECT 1 FROM licences WHERE holder_uscc = ? OR number_shown = ?",
                        (code, code)).fetchone() is None:
            return code


def load(db: Database, data: Any, *, actor: str = "cli", now: float | None = None) -> dict[str, Any]:
    """Load ``{"licences": [...]}`` in one transaction; a bad row refuses the whole file
    (422 ``bad_licence_row`` with the row, 1-based, and the field). Returns counts."""
    if not isinstance(data, dict) or not isinstance(data.get("licences"), list):
        raise ValidationError("bad_licence_file")
    rows = data["licences"]
    inputs = []
    for i, row in enumerate(rows, start=1):
        try:
            inputs.append(check_row(row))
        except RowProblem as exc:
            raise ValidationError("bad_licence_row", row=i, index=i - 1, field=exc.field, problem=exc.zh,
                                  problem_en=exc.en) from exc
    counts = {"new": 0, "version": 0, "unchanged": 0}
    ids = []
    with write_tx(db) as conn:
        for i, inp in enumerate(inputs, start=1):
            try:
                licence_id, outcome = write_licence(conn, inp, source="load", actor=actor, now=now)
            except RowProblem as exc:
                raise ValidationError("bad_licence_row", row=i, index=i - 1, field=exc.field, problem=exc.zh,
                                      problem_en=exc.en) from exc
            counts[outcome] += 1
            ids.append(licence_id)
    return {"rows": len(rows), **counts, "ids": ids}


# --- reading ----------------------------------------------------------------------------------


def effective_status(row: sqlite3.Row | dict[str, Any], today: str) -> str:
    """The stored status as of the hall's day ``today``: a stored ``valid`` reads
    ``not_yet_valid`` before ``valid_from`` and ``expired`` once ``valid_to`` has passed (the
    stored status stays ``valid``)."""
    status = str(row["status"])
    if status == "valid" and row["valid_from"] and str(row["valid_from"]) > today:
        return "not_yet_valid"
    if status == "valid" and row["valid_to"] and str(row["valid_to"]) < today:
        return "expired"
    return status


def require_in_force(row: sqlite3.Row | dict[str, Any], today: str) -> None:
    """409 unless the licence may be used today: ``licence_not_yet_valid`` (with the date it
    comes into force) before ``valid_from``, ``licence_not_valid`` when revoked, expired or
    superseded."""
    status = effective_status(row, today)
    if status == "not_yet_valid":
        raise Conflict("licence_not_yet_valid", valid_from=str(row["valid_from"]))
    if status != "valid":
        raise Conflict("licence_not_valid", status=status, status_zh=STATUS_TEXT[status][0])


def mask_number(number: str) -> str:
    """A licence number as lists show it: 3701**********123X, C1*34."""
    if "*" in number:
        return number
    n = len(number)
    if n > 8:
        return number[:4] + "*" * (n - 8) + number[-4:]
    if n > 4:
        return number[:2] + "*" * (n - 4) + number[-2:]
    return "*" * n


def holder_masked(row: sqlite3.Row | dict[str, Any]) -> str:
    """The holder as people may see it: 张*三; a company's name in full (public register)."""
    name = str(row["holder_name"])
    return name if row["holder_id_type"] == "uscc" else mask_name(name)


def get_row(db: Database | sqlite3.Connection, licence_id: int) -> sqlite3.Row:
    conn = db.conn if isinstance(db, Database) else db
    row = conn.execute("SELECT * FROM licences WHERE id = ?", (licence_id,)).fetchone()
    if row is None:
        raise NotFound("licence_not_found", licence=licence_id)
    return row


def public_item(row: sqlite3.Row, today: str) -> dict[str, Any]:
    """A licence in ``GET /api/licences``: no holder data, the number masked."""
    return {"id": row["id"], "identifier": row["identifier"], "type_code": row["type_code"],
            "type_name": row["type_name"], "number_masked": mask_number(row["number_shown"]),
            "issuer": row["issuer_name"], "valid_from": row["valid_from"], "valid_to": row["valid_to"],
            "status": effective_status(row, today)}


def face_summary(row: sqlite3.Row, today: str) -> dict[str, Any]:
    """The holder-safe details a verifier sees (``licence`` in a verification)."""
    return {"type": row["type_code"], "type_name": row["type_name"], "number": row["number_shown"],
            "holder_masked": holder_masked(row), "issuer": row["issuer_name"], "valid_from": row["valid_from"],
            "valid_to": row["valid_to"], "status": effective_status(row, today)}


def is_valid_holder_id(value: str) -> bool:
    """A resident ID number (GB 11643) or a unified social credit code (GB 32100)."""
    return isinstance(value, str) and (is_valid_id_number(value) or is_valid_uscc(value))


def holder_keys(db: Database, id_number: str) -> list[str]:
    return idkey.id_digests(db, normalize_id_number(id_number))


def for_holder(db: Database, id_number: str, today: str) -> list[dict[str, Any]]:
    """The licences an ID number (or a company's USCC) holds, current versions only; a
    company's licences are also listed for its legal representative."""
    if not is_valid_holder_id(id_number):
        raise ValidationError("bad_id_number")
    keys = holder_keys(db, id_number)
    marks = ",".join("?" * len(keys))
    rows = db.conn.execute(
        f"SELECT * FROM licences WHERE (holder_key IN ({marks}) OR legal_rep_key IN ({marks})) "
        "AND status != 'superseded' ORDER BY holder_id_type, type_code, id", (*keys, *keys)).fetchall()
    return [public_item(r, today) for r in rows]


def is_holder(db: Database, row: sqlite3.Row, id_number: str) -> bool:
    keys = set(holder_keys(db, id_number))
    return row["holder_key"] in keys or (row["legal_rep_key"] is not None and row["legal_rep_key"] in keys)


def find(db: Database, ref: str) -> sqlite3.Row:
    """A licence by id or identifier."""
    ref = str(ref).strip()
    if ref.isdigit():
        return get_row(db, int(ref))
    row = db.conn.execute("SELECT * FROM licences WHERE identifier = ?", (ref,)).fetchone()
    if row is None:
        raise NotFound("licence_not_found", licence=ref)
    return row


def revoke(db: Database, ref: str, reason: str, *, actor: str = "cli", now: float | None = None) -> dict[str, Any]:
    """Revoke a licence (吊销/注销): its tokens answer ``revoked`` from now on, and printed
    copies' online checks say so."""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 100:
        raise ValidationError("revoke_reason_required")
    t = time.time() if now is None else now
    row = find(db, ref)
    if row["status"] != "valid":
        raise Conflict("licence_not_valid", status=row["status"],
                              status_zh=STATUS_TEXT.get(row["status"], (row["status"],))[0])
    with write_tx(db) as conn:
        conn.execute("UPDATE licences SET status = 'revoked', revoked_at = ?, revoke_reason = ?, updated_at = ? "
                     "WHERE id = ?", (t, reason.strip(), t, row["id"]))
        append(conn, LicenceRevoked(licence_id=int(row["id"]), reason=reason.strip()), actor=actor, ts=t)
        on_revoked(conn, int(row["id"]), t)
    return {"id": row["id"], "identifier": row["identifier"], "status": "revoked"}


def on_revoked(conn: sqlite3.Connection, licence_id: int, now: float) -> None:
    """Printed copies of a revoked licence: their online check (``/v/<ref>``) says revoked."""
    conn.execute("UPDATE cases SET status = 'revoked', updated_at = ? WHERE kind = 'licence_print' AND number IN "
                 "(SELECT case_number FROM licence_prints WHERE licence_id = ?)", (now, licence_id))


def list_all(db: Database, today: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """Every licence version (newest first) for the CLI: masked, never an ID number."""
    rows = db.conn.execute("SELECT * FROM licences ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [{**public_item(r, today), "version": r["version"], "holder_masked": holder_masked(r),
             "holder_id_masked": r["holder_id_masked"], "source": r["source"]} for r in rows]
