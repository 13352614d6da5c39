"""Login, logout, /api/me, token and password storage."""

from __future__ import annotations

import hashlib

import pytest

from queue_server import create_app
from queue_server.auth import check_password, create_token, hash_password
from queue_server.demo import make_hall


@pytest.fixture
def setup(db_path, db):
    made = make_hall(db, tokens=True, appointments=0)
    app = create_app({"DB_PATH": str(db_path), "TESTING": True})
    return app.test_client(), made, db


def test_login_returns_a_session_token_with_the_users_role(setup):
    client, _, _ = setup
    r = client.post("/api/login", json={"username": "clerk1", "password": "clerk123"})
    assert r.status_code == 200
    assert r.json["user"] == {**r.json["user"], "name": "王晓明", "staff_no": "0101", "role": "clerk"}
    me = client.get("/api/me", headers={"Authorization": f"Bearer {r.json['token']}"})
    assert me.status_code == 200 and me.json["role"] == "clerk" and me.json["user"]["name"] == "王晓明"


@pytest.mark.parametrize("username, password", [("clerk1", "wrong"), ("nobody", "clerk123"), ("clerk1", "")])
def test_bad_login_is_401(setup, username, password):
    client, _, _ = setup
    r = client.post("/api/login", json={"username": username, "password": password})
    assert r.status_code == 401 and r.json["error"]["code"] == "bad_login"


def test_logout_revokes_the_session(setup):
    client, _, _ = setup
    tok = client.post("/api/login", json={"username": "admin", "password": "admin123"}).json["token"]
    h = {"Authorization": f"Bearer {tok}"}
    assert client.post("/api/logout", headers=h).status_code == 200
    assert client.get("/api/me", headers=h).status_code == 401


def test_tokens_are_stored_as_sha256_only(setup):
    _, made, db = setup
    tok = create_token(db, "kiosk", "kiosk-07")
    stored = [r[0] for r in db.conn.execute("SELECT token_hash FROM tokens")]
    assert tok not in stored and hashlib.sha256(tok.encode()).hexdigest() in stored


def test_passwords_are_scrypt_hashed(setup):
    _, _, db = setup
    stored = db.conn.execute("SELECT password_hash FROM users WHERE username = 'clerk1'").fetchone()[0]
    assert stored.startswith("scrypt$") and "clerk123" not in stored
    h = hash_password("秘密-123")
    assert check_password("秘密-123", h) and not check_password("秘密-124", h)
    assert not check_password("x", "garbage")
