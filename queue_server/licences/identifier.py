"""E-licence identifiers (GB/T 36904-2018, 电子证照 标识规范) and the checks on their parts.

``1.2.156.3005.2.{type code}.{issuer USCC}.{serial}.{version, 3 digits}.{check}`` where the
check character is ISO 7064 MOD 37,36 (python-stdnum) over type + issuer + serial + version::

    >>> build("11100000000013338W011", "11430000006122244L", "20230000403", 1)
    '1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.iso7064 import mod_37_36

from hardware.idnumber import is_valid_uscc

ROOT = "1.2.156.3005.2"
_PART = re.compile(r"^[0-9A-Z]+$")
TYPE_CODE_MAX = 40
SERIAL_MAX = 32


@dataclass(frozen=True)
class Identifier:
    type_code: str
    issuer_uscc: str
    serial: str
    version: int
    check: str

    def __str__(self) -> str:
        return f"{ROOT}.{self.type_code}.{self.issuer_uscc}.{self.serial}.{self.version:03d}.{self.check}"


def check_character(type_code: str, issuer_uscc: str, serial: str, version: int) -> str:
    """The ISO 7064 MOD 37,36 check character over the four parts (upper case)."""
    return str(mod_37_36.calc_check_digit(f"{type_code}{issuer_uscc}{serial}{version:03d}".upper()))


def type_code_problem(code: str) -> str | None:
    """Why ``code`` cannot be a licence type code (None when it can): upper-case letters and
    digits, at most 40; GB/T 36904 type codes start with the USCC of the defining body."""
    if not isinstance(code, str) or not code or len(code) > TYPE_CODE_MAX or not _PART.match(code):
        return "letters A-Z and digits only, 1-40 characters"
    return None


def serial_problem(serial: str) -> str | None:
    if not isinstance(serial, str) or not serial or len(serial) > SERIAL_MAX or not _PART.match(serial):
        return "letters A-Z and digits only, 1-32 characters"
    return None


def build(type_code: str, issuer_uscc: str, serial: str, version: int) -> str:
    """The identifier text; ValueError when a part is malformed or the issuer's USCC is invalid."""
    type_code, issuer_uscc, serial = type_code.upper(), issuer_uscc.upper(), serial.upper()
    for problem in (type_code_problem(type_code), serial_problem(serial)):
        if problem:
            raise ValueError(problem)
    if not is_valid_uscc(issuer_uscc):
        raise ValueError("issuer code is not a valid unified social credit code (GB 32100)")
    if not 1 <= version <= 999:
        raise ValueError("version must be 1-999")
    return str(Identifier(type_code, issuer_uscc, serial, version,
                          check_character(type_code, issuer_uscc, serial, version)))


def parse(text: str) -> Identifier:
    """Split and validate an identifier; ValueError says what is wrong."""
    if not isinstance(text, str) or not text.startswith(ROOT + "."):
        raise ValueError(f"does not start with {ROOT}")
    parts = text[len(ROOT) + 1:].split(".")
    if len(parts) != 5:
        raise ValueError("needs type.issuer.serial.version.check after the root")
    type_code, issuer, serial, version, check = parts
    if type_code_problem(type_code) or serial_problem(serial):
        raise ValueError("type code and serial are letters A-Z and digits")
    if not is_valid_uscc(issuer):
        raise ValueError("issuer code is not a valid unified social credit code (GB 32100)")
    if not re.fullmatch(r"\d{3}", version) or version == "000":
        raise ValueError("version is 3 digits, 001-999")
    try:
        mod_37_36.validate(f"{type_code}{issuer}{serial}{version}{check}")
    except StdnumError as exc:
        raise ValueError("check character does not match (ISO 7064 MOD 37,36)") from exc
    return Identifier(type_code, issuer, serial, int(version), check)


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True
