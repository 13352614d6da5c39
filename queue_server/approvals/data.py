"""``queue-server data load``: fill the embedded data source from a JSON file.

The file has one list per collection (:data:`~queue_server.approvals.datasets.COLLECTIONS`)::

    {"persons": [{"id_number": "370114194403021234", "name": "王秀兰",
                  "hukou_region": "370114", "death_date": null}],
     "benefits": [{"id_number": "…", "benefit": "elderly_allowance", "since": "2024-05-01"}],
     "social_insurance": [{"id_number": "…", "region": "370114", "kind": "pension",
                           "from_month": "2015-03", "to_month": "2026-11", "status": "normal"}]}

A bad file is refused whole — nothing is written — with the line and field at fault
(``line 12, persons[3].death_date: must be an ISO date``). Each collection in the file
replaces the stored one in the same transaction, so a reload is atomic; collections not in
the file stay as they are. ID numbers are never stored: rows are keyed by
:func:`queue_server.idkey.id_digest` (a keyed HMAC whose key is not in the database), and
ID numbers inside rows (a spouse) become digests too.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import json.decoder
import json.scanner
import re
import time
from typing import Any

from sqlite_utils import Database

from queue_server.approvals.datasets import COLLECTIONS, Field, check_value, normalize_key
from queue_server.db import write_tx
from queue_server.errors import ValidationError
from queue_server.idkey import id_digest

#: Largest file ``data load`` reads (the embedded source is for demos and small halls).
MAX_BYTES = 200 * 1024 * 1024


class _Located(dict[str, Any]):
    """A JSON object that remembers where it starts and ends in the text."""

    start: int = 0
    end: int = 0


def _decoder() -> json.JSONDecoder:
    dec = json.JSONDecoder()

    def parse_object(s_and_end: tuple[str, int], strict: bool, scan_once: Any, object_hook: Any,
                     object_pairs_hook: Any, memo: Any = None) -> tuple[Any, int]:
        start = s_and_end[1] - 1
        obj, end = json.decoder.JSONObject(  # type: ignore[attr-defined]
            s_and_end, strict, scan_once, None, None, memo)
        located = _Located(obj)
        located.start, located.end = start, end
        return located, end

    dec.parse_object = parse_object  # type: ignore[attr-defined]
    # the pure-Python scanner calls parse_object (the C one would not)
    dec.scan_once = json.scanner.py_make_scanner(dec)  # type: ignore[attr-defined]
    return dec


class _Lines:
    def __init__(self, text: str) -> None:
        self.text = text
        self.breaks = [m.start() for m in re.finditer("\n", text)]

    def of(self, index: int) -> int:
        return bisect.bisect_left(self.breaks, index) + 1

    def of_field(self, obj: Any, name: str) -> int:
        if not isinstance(obj, _Located):
            return 0
        m = re.compile(r'"' + re.escape(name) + r'"\s*:').search(self.text, obj.start, obj.end)
        return self.of(m.start() if m else obj.start)


def _bad(line: int, where: str, what: str) -> ValidationError:
    return ValidationError("bad_data_file", line=line, where=where, what=what)


def parse_file(text: str, db: Database) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """``{collection: [(subject, row data), …]}`` ready to store, or ``bad_data_file``."""
    lines = _Lines(text)
    try:
        data, end = _decoder().raw_decode(text, len(text) - len(text.lstrip()))
    except json.JSONDecodeError as exc:
        raise _bad(exc.lineno, "(file)", f"not valid JSON: {exc.msg}") from exc
    if text[end:].strip():
        raise _bad(lines.of(end), "(file)", "text after the JSON object")
    if not isinstance(data, dict):
        raise _bad(1, "(file)", "must be a JSON object with one list per collection")
    out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name, rows in data.items():
        line = lines.of_field(data, name)
        coll = COLLECTIONS.get(name)
        if coll is None:
            raise _bad(line, name, f"unknown collection (known: {', '.join(COLLECTIONS)})")
        if not isinstance(rows, list):
            raise _bad(line, name, "must be a list of records")
        known = {coll.key} | {f.name for f in coll.fields}
        seen: set[str] = set()
        parsed = []
        for i, row in enumerate(rows):
            where = f"{name}[{i}]"
            if not isinstance(row, dict):
                raise _bad(line, where, "must be an object")
            row_line = lines.of(row.start) if isinstance(row, _Located) else line
            for key in row:
                if key not in known:
                    raise _bad(lines.of_field(row, key), f"{where}.{key}",
                               f"unknown field (fields: {', '.join(sorted(known))})")
            key_value = row.get(coll.key)
            if not isinstance(key_value, str) or not key_value.strip():
                raise _bad(lines.of_field(row, coll.key) or row_line, f"{where}.{coll.key}", "required")
            if coll.key_kind in ("id_number", "uscc"):
                _, problem = check_value(Field(coll.key, coll.key_kind), key_value)
                if problem:
                    raise _bad(lines.of_field(row, coll.key), f"{where}.{coll.key}", problem)
                subject = (id_digest(db, key_value) if coll.key_kind == "id_number"
                           else normalize_key(coll.key_kind, key_value))
            else:
                subject = normalize_key(coll.key_kind, key_value)
            values: dict[str, Any] = {}
            for f in coll.fields:
                value, problem = check_value(f, row.get(f.name))
                if problem:
                    raise _bad(lines.of_field(row, f.name) if f.name in row else row_line,
                               f"{where}.{f.name}", problem)
                if f.kind == "id_number" and value is not None:
                    value = id_digest(db, value)
                values[f.name] = value
            if coll.single:
                if subject in seen:
                    raise _bad(row_line, where, f"a second record for the same {coll.key}")
                seen.add(subject)
            parsed.append((subject, values))
        out[name] = parsed
    return out


def load_data(db: Database, text: str, *, now: float | None = None) -> dict[str, int]:
    """Check the whole file, then replace each collection it names in one transaction;
    returns rows per collection. ``bad_data_file`` (nothing written) when anything is wrong."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise _bad(0, "(file)", f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    parsed = parse_file(text, db)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    t = time.time() if now is None else now
    with write_tx(db) as conn:
        for name, rows in parsed.items():
            conn.execute("DELETE FROM source_records WHERE collection = ?", (name,))
            conn.executemany(
                "INSERT INTO source_records (collection, subject, data) VALUES (?, ?, ?)",
                [(name, subject, json.dumps(values, ensure_ascii=False, separators=(",", ":")))
                 for subject, values in rows])
            conn.execute(
                "INSERT INTO source_loads (collection, rows, file_sha256, loaded_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (collection) DO UPDATE SET rows = excluded.rows, file_sha256 = excluded.file_sha256, "
                "loaded_at = excluded.loaded_at", (name, len(rows), digest, t))
    return {name: len(rows) for name, rows in parsed.items()}


def loaded(db: Database) -> list[dict[str, Any]]:
    """What the embedded source holds: rows per collection and when each was loaded."""
    return [{"collection": r[0], "rows": r[1], "file_sha256": r[2], "loaded_at": r[3]}
            for r in db.conn.execute("SELECT collection, rows, file_sha256, loaded_at FROM source_loads "
                                     "ORDER BY collection")]
