"""GB 32100 unified social credit codes (统一社会信用代码): instant approval checks the company's
code with ``hardware.idnumber.is_valid_uscc``."""

from __future__ import annotations

import pytest

from hardware.idnumber import is_valid_uscc, uscc_check_char

#: GB 32100-2015 table: the 31 characters (no I O S V Z) and the weights 3^(i) mod 31.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def by_hand(first17: str) -> str:
    """The check character computed straight from the standard's table."""
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


@pytest.mark.parametrize("code", [
    "91350100M000100Y43",   # the example
    "91440300708461136T",   # a real company's code, as printed on its licence
    "91110000600037341L",
])
def test_valid_codes_pass(code: str) -> None:
    assert by_hand(code[:17]) == code[17]
    assert uscc_check_char(code[:17]) == code[17]
    assert is_valid_uscc(code)
    assert is_valid_uscc(f"  {code.lower()} ")  # typed in lower case, with spaces around


@pytest.mark.parametrize("code, why", [
    ("91350100M000100Y44", "wrong check character"),
    ("91350100M000100Y4", "17 characters"),
    ("91350100M000100Y433", "19 characters"),
    ("91350100M000100I43", "I is not in the alphabet"),
    ("91350100M000100O43", "O is not in the alphabet"),
    ("9135010OM000100Y43", "O instead of 0"),
    ("", "empty"),
])
def test_invalid_codes_fail(code: str, why: str) -> None:
    assert not is_valid_uscc(code), why


def test_a_check_result_of_31_is_written_as_0() -> None:
    """(31 − S mod 31) mod 31: a sum divisible by 31 gives check character 0, not an error."""
    first17 = "91350100M000100Y4"
    for last in ALPHABET:  # vary the 17th character until the sum is divisible by 31
        candidate = first17[:16] + last
        total = sum(ALPHABET.index(c) * w for c, w in zip(candidate, WEIGHTS, strict=True))
        if total % 31 == 0:
            assert uscc_check_char(candidate) == "0" and is_valid_uscc(candidate + "0")
            return
    pytest.fail("no candidate with a sum divisible by 31")


def test_every_single_character_change_is_caught() -> None:
    code = "91350100M000100Y43"
    for i in range(17):
        for c in ALPHABET:
            if c != code[i]:
                assert not is_valid_uscc(code[:i] + c + code[i + 1:]), (i, c)
