"""One error contract: every code in one registry, raised where it is registered, shown the
same way everywhere."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from queue_server.errors import Conflict, NotFound, QueueError
from yichuang.errors import CODES, AppError, body_for, lookup

ROOT = Path(__file__).resolve().parent.parent
_RAISERS = {"BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict", "ValidationError", "QueueError",
            "Unavailable", "body_for", "Refused", "hub_error"}


def codes_raised_by_the_server() -> set[str]:
    """Every code literal given to a server error class (or body_for) in queue_server/ and
    city_hub/, plus
    the codes the API's HTTP error handler answers with."""
    found: set[str] = set()
    for path in [*(ROOT / "queue_server").rglob("*.py"), *(ROOT / "city_hub").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name in _RAISERS and isinstance(node.args[0].value, str):
                    found.add(node.args[0].value)
    from queue_server.api.errors import _HTTP_CODES
    from queue_server.storage import _CODES as STORAGE_CODES

    return found | set(_HTTP_CODES.values()) | {code for _, code in STORAGE_CODES}


def test_every_code_the_server_raises_is_registered_as_a_server_code():
    raised = codes_raised_by_the_server()
    unregistered = sorted(c for c in raised if c not in CODES)
    assert not unregistered
    wrong_origin = sorted(c for c in raised if CODES[c].origin != "server")
    assert not wrong_origin


def test_every_registered_server_code_is_raised_somewhere():
    raised = codes_raised_by_the_server()
    assert sorted(c.code for c in CODES.values() if c.origin == "server" and c.code not in raised) == []


def test_every_code_has_both_languages_and_server_codes_a_4xx_or_5xx_status():
    for c in CODES.values():
        assert c.zh and c.en, c.code
        assert not c.zh.isascii(), c.code
        assert bool(c.advice_zh) == bool(c.advice_en), c.code
        assert (400 <= c.status < 600) if c.origin == "server" else c.status == 0, c.code


def test_messages_fill_their_placeholders_and_details_travel():
    e = Conflict("window_closed", window=3)
    assert (e.zh, e.en, e.status) == ("3 号窗口未开启", "Window 3 is closed", 409)
    assert e.as_dict() == {"error": {"code": "window_closed", "message": "3 号窗口未开启",
                                     "message_en": "Window 3 is closed", "details": {"window": 3}}}


def test_advice_is_part_of_the_body_when_the_code_has_some():
    body = body_for("daily_limit", limit=1)["error"]
    assert body["advice"] and body["advice_en"] and "1" in body["message"]


def test_a_class_refuses_a_code_registered_with_another_status():
    with pytest.raises(ValueError):
        NotFound("window_closed", window=3)
    with pytest.raises(KeyError):
        QueueError("no_such_code_anywhere")


def test_device_and_kiosk_codes_cannot_be_raised_as_server_errors():
    with pytest.raises(ValueError):
        QueueError("paper_out")
    assert isinstance(AppError("paper_out"), Exception) and lookup("paper_out").origin == "device"


def test_every_code_the_kiosk_words_for_citizens_is_one_the_server_raises():
    from kiosk import errors as kiosk_errors

    mapped = set(kiosk_errors._SERVER_CODES)
    raised = codes_raised_by_the_server()
    assert sorted(mapped - raised) == []
