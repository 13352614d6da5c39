"""What a resident ID card holds, and the 256-byte text block layout (UTF-16LE, space padded).

======================  =====  =====================================
field                   bytes  content
======================  =====  =====================================
name 姓名                30     15 characters
sex 性别                 2      GB/T 2261.1 code ('1' 男, '2' 女)
nation 民族              4      GB 3304 code ('01' 汉)
birth 出生               16     YYYYMMDD
address 住址             70     35 characters
id number 公民身份号码    36     18 characters
authority 签发机关        30     15 characters
valid from 有效期起始     16     YYYYMMDD
valid to 有效期截止       16     YYYYMMDD or '长期'
reserved                36     card type marker at byte 248 ('I' foreign permanent
                               residence card, 'J' HK/Macao/Taiwan residence permit)
======================  =====  =====================================
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hardware.idnumber import MaskedIdentity, is_valid_id_number
from hardware.idnumber import birth_date as id_birth_date

from .codes import nation_name, sex_name
from .errors import InvalidCardData

LAYOUT: tuple[tuple[str, int], ...] = (
    ("name", 30),
    ("sex", 2),
    ("nation", 4),
    ("birth", 16),
    ("address", 70),
    ("id_number", 36),
    ("authority", 30),
    ("valid_from", 16),
    ("valid_to", 16),
    ("reserved", 36),
)
assert sum(n for _, n in LAYOUT) == 256


def _date(s: str) -> dt.date | None:
    try:
        return dt.date(int(s[0:4]), int(s[4:6]), int(s[6:8]))
    except (ValueError, IndexError):
        return None


@dataclass(repr=False)
class IdCardData(MaskedIdentity):
    """One card as read. ``photo`` is the decoded 102×126 BGR image when a WLT decoder exists.

    Lives in memory for one session only (DESIGN §11): call :meth:`wipe` when it ends. The
    ``repr`` shows masked values only, so logging the object never leaks the card.
    """

    name: str
    sex_code: str
    nation_code: str
    birth_date: dt.date
    address: str
    id_number: str
    authority: str
    valid_from: dt.date | None
    valid_to: dt.date | None  # None = 长期 (no expiry)
    photo_wlt: bytes = b""
    photo: Any = None  # numpy BGR array or None
    card_type: str = "resident"

    @property
    def sex(self) -> str:
        return sex_name(self.sex_code)

    @property
    def nation(self) -> str:
        return nation_name(self.nation_code)

    def is_expired(self, today: dt.date) -> bool:
        return self.valid_to is not None and today > self.valid_to

    def wipe(self) -> None:
        """Drop every personal field (best effort: Python strings cannot be zeroed in place)."""
        self.name = self.address = self.id_number = self.authority = ""
        self.photo_wlt = b""
        self.photo = None

    def __repr__(self) -> str:
        return f"IdCardData({self.name_masked}, {self.id_masked}, photo={'yes' if self.photo is not None else 'no'})"


def split_text(text: bytes) -> dict[str, str]:
    """The 256-byte text block → field name → stripped string."""
    if len(text) != 256:
        raise InvalidCardData(f"text block is {len(text)} bytes, expected 256")
    out: dict[str, str] = {}
    pos = 0
    for name, size in LAYOUT:
        chunk = text[pos : pos + size]
        pos += size
        try:
            out[name] = chunk.decode("utf-16-le").replace("\x00", "").strip()
        except UnicodeDecodeError as e:
            raise InvalidCardData(f"{name} is not UTF-16LE") from e
    return out


def parse_text(text: bytes, photo_wlt: bytes = b"") -> IdCardData:
    """Parse and validate the text block of a resident ID card.

    Raises :class:`InvalidCardData` when the ID number's check digit, the birth date or the
    sex digit disagree, or for card types this layout does not describe.
    """
    f = split_text(text)
    marker = text[248:250].decode("utf-16-le", errors="replace")
    if marker == "I":
        raise InvalidCardData("foreign permanent residence card (外国人永久居留身份证) layout not supported")
    card_type = "hmt_residence" if marker == "J" else "resident"
    idn = f["id_number"].upper()
    if not is_valid_id_number(idn):
        raise InvalidCardData("ID number check digit or birth date invalid")
    born = _date(f["birth"])
    if born is None or born != id_birth_date(idn):
        raise InvalidCardData("birth date does not match the ID number")
    if f["sex"] in ("1", "2") and int(idn[16]) % 2 != (1 if f["sex"] == "1" else 0):
        raise InvalidCardData("sex code does not match the ID number")
    return IdCardData(
        name=f["name"],
        sex_code=f["sex"],
        nation_code=f["nation"],
        birth_date=born,
        address=f["address"],
        id_number=idn,
        authority=f["authority"],
        valid_from=_date(f["valid_from"]),
        valid_to=None if f["valid_to"].startswith("长期") else _date(f["valid_to"]),
        photo_wlt=photo_wlt,
        card_type=card_type,
    )


def encode_text(
    name: str,
    sex_code: str,
    nation_code: str,
    birth: str,
    address: str,
    id_number: str,
    authority: str,
    valid_from: str,
    valid_to: str,
    reserved: str = "",
) -> bytes:
    """Build a 256-byte text block (the simulator's card contents)."""
    values = {
        "name": name, "sex": sex_code, "nation": nation_code, "birth": birth, "address": address,
        "id_number": id_number, "authority": authority, "valid_from": valid_from,
        "valid_to": valid_to, "reserved": reserved,
    }
    out = b""
    for key, size in LAYOUT:
        raw = values[key].encode("utf-16-le")
        if len(raw) > size:
            raise ValueError(f"{key} longer than {size // 2} characters")
        out += raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)
    return out
