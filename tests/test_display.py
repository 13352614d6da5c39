"""Display pages, console page and announcement audio over HTTP (Flask test client)."""

from __future__ import annotations

import io
import re
import wave
from pathlib import Path
from typing import Any

import pytest

from queue_server import create_app
from queue_server import queue as engine
from queue_server.db import connect
from tests.support.web import seeded_hall

STATIC = Path(__file__).resolve().parent.parent / "queue_server" / "web" / "static"


@pytest.fixture
def hall(db_path: Path) -> dict[str, Any]:
    return seeded_hall(db_path)


@pytest.fixture
def client(db_path: Path, hall):
    app = create_app({"DB_PATH": str(db_path), "TESTING": True})
    yield app.test_client()
    app.extensions["yichuang.bus"].stop()


def test_pages_are_static_shells_without_hall_data(client):
    for path in ("/display", "/display/window/3", "/counter"):
        r = client.get(path)
        assert r.status_code == 200 and r.mimetype == "text/html"
        html = r.get_data(as_text=True)
        assert "济南市章丘区" not in html  # everything shown comes from the authorised stream
        for src in re.findall(r'src="([^"]+\.js)"', html):
            assert client.get(src).status_code == 200
        for href in re.findall(r'href="([^"]+\.css)"', html):
            assert client.get(href).status_code == 200
        assert "http://" not in html and "https://" not in html  # no CDN: halls are offline


def test_layout_parameter_is_whitelisted(client):
    assert 'data-layout="portrait"' in client.get("/display?layout=portrait").get_data(as_text=True)
    html = client.get('/display?layout="><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert" not in html and 'data-layout=""' in html
    assert 'data-window="12"' in client.get("/display/window/12").get_data(as_text=True)
    assert client.get("/display/window/abc").status_code == 404


def test_page_scripts_never_insert_html():
    for js in STATIC.glob("*.js"):
        code = js.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in code, f"{js.name} uses {sink}"


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


def test_announcement_wav_for_a_number_and_window(client, hall):
    token = hall["tokens"]["display"]
    r = client.get(f"/api/voice/announce.wav?number=A012&window=3&kind=call&token={token}")
    assert r.status_code == 200 and r.mimetype == "audio/wav"
    assert 2.0 <= wav_seconds(r.data) <= 6.0
    recall = client.get(f"/api/voice/announce.wav?number=A012&window=3&kind=recall&token={token}")
    assert wav_seconds(recall.data) > wav_seconds(r.data)


@pytest.mark.parametrize("query, code", [
    ("number=A012&window=3&kind=shout", "bad_announcement"),
    ("number=<b>&window=3", "bad_announcement"),
    ("number=A012&window=0", "bad_announcement"),
    ("number=A012&window=x", "bad_announcement"),
])
def test_bad_announcement_requests_are_422_with_a_code(client, hall, query, code):
    r = client.get(f"/api/voice/announce.wav?{query}&token={hall['tokens']['display']}")
    assert r.status_code == 422
    assert r.json["error"]["code"] == code and r.json["error"]["message"]


def test_announcement_needs_a_read_token(client, hall):
    assert client.get("/api/voice/announce.wav?number=A012&window=3").status_code == 401
    assert client.get("/api/voice/announce.wav?number=A012&window=3&token=nope").status_code == 401


def test_announcement_by_ticket_id(client, hall, db_path):
    db = connect(db_path)
    waiting = engine.issue_ticket(db, "SB01")
    still_waiting = engine.issue_ticket(db, "SB01")
    db.conn.close()
    headers = {"Authorization": f"Bearer {hall['tokens']['admin']}"}
    first = client.post("/api/windows/1/call-next", headers=headers).json
    assert first["id"] == waiting["id"]  # oldest first
    token = hall["tokens"]["display"]
    ok = client.get(f"/api/voice/call/{first['id']}.wav?token={token}")
    assert ok.status_code == 200 and 2.0 <= wav_seconds(ok.data) <= 6.0
    r = client.get(f"/api/voice/call/{still_waiting['id']}.wav?token={token}")
    assert r.status_code == 409 and r.json["error"]["code"] == "ticket_not_called"
    assert client.get(f"/api/voice/call/999999.wav?token={token}").status_code == 404


def test_stream_stats_are_for_technicians(client, hall):
    r = client.get("/api/events/stats", headers={"Authorization": f"Bearer {hall['tokens']['technician']}"})
    assert r.status_code == 200 and r.json["streams"] == 0
    assert client.get("/api/events/stats", headers={"Authorization": f"Bearer {hall['tokens']['display']}"}).status_code == 403
