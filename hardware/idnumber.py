"""Chinese identity numbers: validation (GB 11643, GB 32100) and masking for display.

Shared by the card reader, the kiosk and the queue server. Masking rules (DESIGN.md §11):
ID numbers show the first 4 and last 4 characters (3701**********123X); names keep the
first and last character (张*三, 李*).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I O S V Z
_USCC_RE = re.compile(r"^[0-9A-HJ-NP-RTUWXY]{18}$")


def id_check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    s = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[s % 11]


def normalize_id_number(value: str) -> str:
    """Strip spaces and upper-case the check character ('x' is common on keypads)."""
    return value.strip().replace(" ", "").upper()


def is_valid_id_number(value: str) -> bool:
    """True for an 18-character resident ID number with a valid check digit and birth date."""
    v = normalize_id_number(value)
    if not _ID_RE.match(v):
        return False
    if id_check_digit(v[:17]) != v[17]:
        return False
    return birth_date(v) is not None


def birth_date(id_number: str) -> dt.date | None:
    v = normalize_id_number(id_number)
    try:
        return dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return None


def age_on(id_number: str, day: dt.date) -> int | None:
    born = birth_date(id_number)
    if born is None:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def mask_id_number(value: str) -> str:
    """3701**********123X: first 4 and last 4 kept."""
    v = normalize_id_number(value)
    if len(v) <= 8:
        return "*" * len(v)
    return v[:4] + "*" * (len(v) - 8) + v[-4:]


def mask_name(name: str) -> str:
    """张*三 for three characters, 李* for two, 欧**华 for four; Latin names keep the first letter."""
    n = name.strip()
    if len(n) <= 1:
        return n
    if len(n) == 2:
        return n[0] + "*"
    return n[0] + "*" * (len(n) - 2) + n[-1]


def hash_id_number(value: str, salt: str = "") -> str:
    """A stable SHA-256 of the normalised ID number (salted per hall when configured)."""
    return hashlib.sha256((salt + normalize_id_number(value)).encode()).hexdigest()


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character of a unified social credit code."""
    s = sum(_USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return _USCC_ALPHABET[(31 - s % 31) % 31]


def is_valid_uscc(value: str) -> bool:
    """True for an 18-character unified social credit code (统一社会信用代码, GB 32100) whose
    check character matches: alphabet 0-9 A-Y without I O S V Z, weights 3^i mod 31, check
    (31 − S mod 31) mod 31. Case and surrounding spaces are ignored."""
    v = value.strip().upper()
    return bool(_USCC_RE.match(v)) and uscc_check_char(v[:17]) == v[17]


class MaskedIdentity:
    """Masked views for any record with ``name`` and ``id_number`` attributes (a card read,
    a verified identity): what screens and logs may show (DESIGN §11)."""

    name: str
    id_number: str

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)

    @property
    def id_masked(self) -> str:
        return mask_id_number(self.id_number)

    def age_on(self, day: dt.date) -> int | None:
        return age_on(self.id_number, day)
