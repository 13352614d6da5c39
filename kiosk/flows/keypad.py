"""On-screen keypad input: what may be typed, and what counts as complete and valid."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hardware.idnumber import is_valid_id_number, normalize_id_number
from kiosk.errors import InputInvalid

TICKET_NUMBER = re.compile(r"^[A-Z]\d{3,4}$")


@dataclass
class KeypadInput:
    """A text being typed on the keypad.

    ``kind``: ``id`` (18 chars, digits and a final X), ``code`` (appointment code: digits
    and letters), ``number`` (ticket number: one letter + three digits, four after 999).
    """

    kind: str
    text: str = ""

    @property
    def max_length(self) -> int:
        return {"id": 18, "code": 32, "number": 5}[self.kind]

    def keys(self) -> list[str]:
        """The keys the keypad shows for this kind (digits always, letters as needed)."""
        digits = list("1234567890")
        if self.kind == "id":
            return digits + ["X"]
        if self.kind == "code":  # appointment codes may carry letters (e.g. YY107473)
            return digits + [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
        return digits

    def press(self, key: str) -> str:
        """Add one key; returns the new text. Keys that cannot go here are ignored."""
        key = key.upper()
        if len(key) != 1 or len(self.text) >= self.max_length:
            return self.text
        if self.kind == "id":
            ok = key.isdigit() or (key == "X" and len(self.text) == 17)
        elif self.kind == "number":
            ok = key.isalpha() if not self.text else key.isdigit()
        else:
            ok = key.isalnum() and key.isascii()
        if ok:
            self.text += key
        return self.text

    def delete(self) -> str:
        self.text = self.text[:-1]
        return self.text

    def clear(self) -> None:
        self.text = ""

    def key(self, key: str) -> str:
        """One key of the on-screen keypad: ``DEL``, ``CLR`` or a character; returns the text."""
        if key == "DEL":
            return self.delete()
        if key == "CLR":
            self.clear()
            return self.text
        return self.press(key)

    def set(self, value: str) -> str:
        self.text = ""
        for ch in value:
            self.press(ch)
        return self.text

    def validated(self) -> str:
        """The value to send, or :class:`InputInvalid` with a message for the citizen."""
        text = self.text.strip().upper()
        if self.kind == "id":
            if not is_valid_id_number(text):
                raise InputInvalid("invalid id number", code="id_number_invalid")
            return normalize_id_number(text)
        if self.kind == "number":
            if not TICKET_NUMBER.match(text):
                raise InputInvalid("invalid ticket number", code="ticket_number_invalid")
            return text
        if len(text) < 4:
            raise InputInvalid("appointment code too short", code="appointment_code_invalid")
        return text
