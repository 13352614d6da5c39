"""What an attacker holding the hall's SQLite files (the database, an archive — never the
key file) can read, and the brute force the issue describes: a masked ID (first 4 and last
4 shown) leaves a birth date and a few digits hidden; try every candidate, hash it the ways
a careless store would (unkeyed SHA-256/SHA-1/MD5/SHA-512, salted with anything in the
settings, HMAC with an empty or a settings-held key) and look for it among every hex
string stored anywhere.

Bounded for the suite: the birth dates searched are a window around each seeded citizen's
true birth date (``days`` either side), so a weak store is found in well under a second
and the test's control proves the search would find it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hardware.idnumber import id_check_digit

MASKED = re.compile(r"(?<![0-9A-Za-z*])([0-9]{4})(\*{10})([0-9]{3}[0-9Xx])(?![0-9A-Za-z*])")
FULL_ID = re.compile(r"(?<![0-9A-Za-z.])([1-9][0-9]{16}[0-9Xx])(?![0-9A-Za-z])")
HEX = re.compile(r"[0-9a-fA-F]{32,128}")


def cells(path: str | Path) -> Iterator[tuple[str, str, object]]:
    """``(table, column, value)`` of every cell of every table of a SQLite file (read-only)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            cur = conn.execute(f'SELECT * FROM "{table}"')
            cols = [d[0] for d in cur.description]
            for row in cur:
                for col, value in zip(cols, row, strict=True):
                    if value is not None:
                        yield table, col, value
    finally:
        conn.close()


def texts(paths: Iterable[str | Path]) -> Iterator[tuple[str, str, str]]:
    """Every text cell (blobs decoded where they are UTF-8) of the files."""
    for path in paths:
        for table, col, value in cells(path):
            if isinstance(value, bytes):
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError:
                    value = value.hex()
            if isinstance(value, str):
                yield table, col, value


def _valid_birth(first17: str) -> bool:
    try:
        born = dt.date(int(first17[6:10]), int(first17[10:12]), int(first17[12:14]))
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= born <= dt.date(2030, 12, 31)


def full_ids(paths: Iterable[str | Path]) -> list[tuple[str, str, str]]:
    """``(table, column, number)`` of every well-formed 18-character ID number stored
    anywhere (check digit and birth date valid)."""
    out = []
    for table, col, text in texts(paths):
        for m in FULL_ID.finditer(text):
            n = m.group(1).upper()
            if _valid_birth(n[:17]) and id_check_digit(n[:17]) == n[17]:
                out.append((table, col, n))
    return out


def masked_ids(paths: Iterable[str | Path]) -> set[str]:
    """Every masked ID (``3701**********123X``) stored anywhere."""
    return {"".join(m.groups()).upper() for _t, _c, text in texts(paths) for m in MASKED.finditer(text)}


@dataclass
class Haystack:
    """Every hex string of 32-128 characters stored anywhere (digests, ``k1:<hex>``, inside
    JSON), and every short text an attacker would try as a salt or key."""

    hexes: set[str] = field(default_factory=set)
    salts: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, paths: Iterable[str | Path]) -> Haystack:
        h = cls()
        for table, col, text in texts(paths):
            h.hexes.update(x.lower() for x in HEX.findall(text))
            if table == "settings" or re.search(r"salt|key|secret|pepper", col, re.I):
                if len(text) <= 200:
                    h.salts.add(text.strip('"'))
        h.salts.discard("")
        return h


def candidates(masked: str, around: dt.date, days: int) -> Iterator[str]:
    """ID numbers that fit ``masked`` with a birth date within ``days`` of ``around``: the
    hidden region digits and sequence digits in full, the check digit as the mask shows it."""
    head, tail = masked[:4], masked[-4:]
    for delta, region in itertools.product(range(-days, days + 1), range(100)):
        born = around + dt.timedelta(days=delta)
        first17 = f"{head}{region:02d}{born:%Y%m%d}{tail[:3]}"
        if id_check_digit(first17) == tail[3]:
            yield first17 + tail[3]


def digests(number: str, salts: Iterable[str]) -> Iterator[str]:
    """The ways a careless store hashes an ID number (hex)."""
    for text in (number, number.lower()):
        raw = text.encode()
        yield hashlib.sha256(raw).hexdigest()
        yield hashlib.sha1(raw).hexdigest()
        yield hashlib.md5(raw).hexdigest()  # noqa: S324 - the attacker's guess, not our storage
        yield hashlib.sha512(raw).hexdigest()
        yield hmac.new(b"", raw, hashlib.sha256).hexdigest()
    for salt in salts:
        s = salt.encode()
        for joined in (s + number.encode(), number.encode() + s, s + b":" + number.encode()):
            yield hashlib.sha256(joined).hexdigest()
        yield hmac.new(s, number.encode(), hashlib.sha256).hexdigest()
        try:
            yield hmac.new(bytes.fromhex(salt), number.encode(), hashlib.sha256).hexdigest()
        except ValueError:
            pass


def brute_force(paths: Iterable[str | Path], birth_dates: dict[str, dt.date], days: int = 20
                ) -> tuple[set[str], int]:
    """Try to recover ID numbers from the files alone: for every masked ID stored, every
    candidate with a birth date within ``days`` of one of ``birth_dates`` (the seeded
    citizens', keyed by masked ID), every way of hashing it. The numbers recovered and the
    candidate digests tried."""
    paths = list(paths)
    hay = Haystack.of(paths)
    found: set[str] = set()
    tried = 0
    for masked in masked_ids(paths):
        around = birth_dates.get(masked)
        if around is None:
            continue
        for number in candidates(masked, around, days):
            for d in digests(number, hay.salts):
                tried += 1
                if d in hay.hexes:
                    found.add(number)
                    break
    return found, tried
