"""Kiosk cases (办件): numbers for what a citizen does at a kiosk beyond a queue ticket, and
the random references behind printed documents' QR codes (``/v/<ref>``).

Capabilities keep their own details keyed by the case number (the 秒批 rule trace, the
licence presented); 好差评 rates a case by its number. See ``schema.py`` for the tables.
"""

from queue_server.cases.store import (
    KIND_PREFIXES,
    find_case_by_ticket,
    get_case,
    link_ticket,
    new_verify_ref,
    open_case,
    ref_check,
    resolve_ref,
    set_case_status,
)

__all__ = ["KIND_PREFIXES", "find_case_by_ticket", "get_case", "link_ticket", "new_verify_ref", "open_case",
           "ref_check", "resolve_ref", "set_case_status"]
