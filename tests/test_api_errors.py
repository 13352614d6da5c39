"""Bad input never gets a 500 and never writes: each case is a 4xx with the error shape."""

from __future__ import annotations

import pytest

from queue_server import create_app
from queue_server.demo import make_hall
from tests.support.queue import wrong_check_digit


@pytest.fixture
def setup(db_path, db):
    made = make_hall(db, tokens=True, appointments=0)
    app = create_app({"DB_PATH": str(db_path), "TESTING": True})
    return app.test_client(), made["tokens"], db


def counts(db) -> tuple[int, int]:
    t = db.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
    e = db.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return t, e


def auth(tokens, role):
    return {"Authorization": f"Bearer {tokens[role]}", "Content-Type": "application/json"}


CASES = [
    # (name, role, body bytes or json, expected status, expected code)
    ("malformed json", "kiosk", b'{"service": "QY01"', 400, "malformed_json"),
    ("json array", "kiosk", b'["QY01"]', 400, "json_object_required"),
    ("not utf-8", "kiosk", b'\xff\xfe\x00', 400, "malformed_json"),
    ("missing service", "kiosk", {}, 422, "missing_field"),
    ("service not a string", "kiosk", {"service": 12}, 422, "bad_field"),
    ("unknown service", "kiosk", {"service": "XX99"}, 422, "unknown_service"),
    ("wrong check digit", "kiosk", {"service": "QY01", "id_number": wrong_check_digit()}, 422, "bad_id_number"),
    ("short id", "kiosk", {"service": "QY01", "id_number": "12345"}, 422, "bad_id_number"),
    ("bad priority", "kiosk", {"service": "QY01", "priority": "vip"}, 422, "bad_priority"),
    ("print not bool", "kiosk", {"service": "QY01", "print": "yes"}, 422, "bad_field"),
    ("huge referral", "kiosk", {"service": "QY01", "referral_reason": "x" * 500}, 422, "field_too_long"),
    ("oversize body", "kiosk", b'{"service": "' + b"x" * 200_000 + b'"}', 413, "payload_too_large"),
    ("no token", None, {"service": "QY01"}, 401, "auth_required"),
    ("invalid token", "bogus", {"service": "QY01"}, 401, "invalid_token"),
    ("display may not issue", "display", {"service": "QY01"}, 403, "forbidden"),
    ("technician may not issue", "technician", {"service": "QY01"}, 403, "forbidden"),
]


@pytest.mark.parametrize("name, role, payload, status, code", CASES, ids=[c[0] for c in CASES])
def test_bad_ticket_requests_are_4xx_with_the_error_shape_and_write_nothing(setup, name, role, payload, status,
                                                                             code):
    client, tokens, db = setup
    before = counts(db)
    if role == "bogus":
        headers = {"Authorization": "Bearer not-a-real-token", "Content-Type": "application/json"}
    elif role is None:
        headers = {"Content-Type": "application/json"}
    else:
        headers = auth(tokens, role)
    if isinstance(payload, bytes):
        r = client.post("/api/tickets", data=payload, headers=headers)
    else:
        r = client.post("/api/tickets", json=payload, headers=headers)
    assert r.status_code == status, r.get_data(as_text=True)
    err = r.json["error"]
    assert err["code"] == code
    assert err["message"] and isinstance(err["message"], str)
    assert counts(db) == before


@pytest.mark.parametrize(
    "method, path, role, status",
    [
        ("GET", "/api/nowhere", "kiosk", 404),
        ("GET", "/api/tickets/999999", "kiosk", 404),
        ("GET", "/api/tickets/abc", "kiosk", 404),
        ("POST", "/api/windows/99/call-next", "clerk", 404),
        ("POST", "/api/tickets/999999/finish", "clerk", 404),
        ("DELETE", "/api/tickets", "admin", 405),
        ("GET", "/api/tickets", "kiosk", 422),
        ("POST", "/api/windows/4/call-next", "kiosk", 403),
        ("POST", "/api/windows/4/call-next", "display", 403),
        ("PUT", "/api/notice", "kiosk", 403),
        ("GET", "/api/progress/zz", None, 422),
        ("GET", "/api/progress/doesnotexist", None, 404),
        ("POST", "/api/appointments/check-in", "kiosk", 422),
    ],
)
def test_other_bad_requests(setup, method, path, role, status):
    client, tokens, db = setup
    before = counts(db)
    headers = auth(tokens, role) if role else {}
    r = client.open(path, method=method, headers=headers)
    assert r.status_code == status
    assert set(r.json["error"]) >= {"code", "message"}
    assert counts(db) == before


def test_state_conflict_is_409(setup):
    client, tokens, db = setup
    t = client.post("/api/tickets", json={"service": "QY01"}, headers=auth(tokens, "kiosk")).json
    r = client.post(f"/api/tickets/{t['id']}/finish", headers=auth(tokens, "clerk"))
    assert r.status_code == 409 and r.json["error"]["code"] == "bad_ticket_state"


def test_write_role_tokens_are_not_accepted_in_the_url(setup):
    client, tokens, _ = setup
    assert client.get(f"/api/state?token={tokens['display']}").status_code == 200
    r = client.get(f"/api/windows/4/queue?token={tokens['clerk']}")
    assert r.status_code == 401 and r.json["error"]["code"] == "query_token_not_allowed"
    # ?token= is never read on writes.
    r = client.post(f"/api/tickets?token={tokens['kiosk']}", json={"service": "QY01"})
    assert r.status_code == 401


def test_revoked_and_expired_tokens_are_refused(setup):
    client, tokens, db = setup
    from queue_server.auth import clear_cache, create_token, revoke_token

    expired = create_token(db, "kiosk", "old-kiosk", expires_at=1.0)
    r = client.post("/api/tickets", json={"service": "QY01"}, headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and r.json["error"]["code"] == "token_expired"
    revoke_token(db, tokens["kiosk"])
    clear_cache()
    r = client.post("/api/tickets", json={"service": "QY01"}, headers=auth(tokens, "kiosk"))
    assert r.status_code == 401
