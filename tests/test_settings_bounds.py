"""Settings are validated with bounds and types (issue 16): every integer setting has
bounds, ``public_url`` is http(s) only, the ID-hash key is not a setting, and a bad value is
a 422 with a clear code — never a stored value that breaks the hall later."""

from __future__ import annotations

import pytest

from queue_server import create_app
from queue_server.demo import make_hall
from queue_server.settings import INT_RANGES, SETTINGS, set_setting


@pytest.fixture
def api(db_path, db, clock):
    hall = make_hall(db, clock=clock, tokens=True, appointments=0)
    client = create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock}).test_client()
    admin = {"Authorization": f"Bearer {hall['tokens']['admin']}"}

    def put(name, value):
        return client.put(f"/api/settings/{name}", headers=admin, json={"value": value})

    return client, hall, put


def test_every_integer_setting_has_bounds():
    ints = {s.name for s in SETTINGS if isinstance(s.default, int) and not isinstance(s.default, bool)}
    assert ints == set(INT_RANGES)
    for s in SETTINGS:
        if s.name in INT_RANGES:
            low, high = INT_RANGES[s.name]
            assert low <= s.default <= high, s.name


@pytest.mark.parametrize("value", [10**30, 2**63, 1441, -1])
def test_an_oversized_max_wait_is_refused_and_calling_goes_on(api, value):
    client, hall, put = api
    r = put("max_wait_minutes", value)
    assert r.status_code == 422
    if value < 2**63:  # larger numbers are refused when the body is read (number_out_of_range)
        assert r.json["error"]["code"] == "setting_out_of_range"
        assert r.json["error"]["details"] == {"name": "max_wait_minutes", "low": 0, "high": 1440}
    from queue_server.errors import ValidationError
    from queue_server.migrations import open_db
    from queue_server.settings import set_setting

    db = open_db(client.application.config["DB_PATH"])
    try:  # the CLI path (settings set) takes any Python int: the bound holds there too
        with pytest.raises(ValidationError) as exc:
            set_setting(db, "max_wait_minutes", value)
        assert exc.value.code == "setting_out_of_range"
    finally:
        db.conn.close()
    kiosk = {"Authorization": f"Bearer {hall['tokens']['kiosk']}"}
    admin = {"Authorization": f"Bearer {hall['tokens']['admin']}"}
    client.post("/api/tickets", headers=kiosk, json={"service": "QY01"})
    assert client.post("/api/windows/4/call-next", headers=admin).status_code == 200


def test_a_bad_value_stored_before_validation_does_not_stop_calling(api, db):
    client, hall, _ = api
    db.conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('max_wait_minutes', ?)", (str(10**30),))
    from queue_server.settings import invalidate

    invalidate()
    kiosk = {"Authorization": f"Bearer {hall['tokens']['kiosk']}"}
    admin = {"Authorization": f"Bearer {hall['tokens']['admin']}"}
    client.post("/api/tickets", headers=kiosk, json={"service": "QY01"})
    assert client.post("/api/windows/4/call-next", headers=admin).status_code == 200


@pytest.mark.parametrize("name", sorted(INT_RANGES))
def test_each_integer_setting_refuses_out_of_range_and_wrong_types(api, name):
    _, _, put = api
    low, high = INT_RANGES[name]
    assert put(name, high + 1).json["error"]["code"] == "setting_out_of_range"
    assert put(name, low - 1).json["error"]["code"] == "setting_out_of_range"
    for bad in ("12", 1.5, True, None, [1]):
        r = put(name, bad)
        assert r.status_code == 422, (name, bad)
    assert put(name, high).status_code == 200


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "ftp://hall",
                                 "//hall.example", "http://", "http:///x", "http://a b", "http://x\"onmouseover=1",
                                 "http://user:pw@hall.example", " http://hall.example", "http://hall:99999"])
def test_public_url_is_http_or_https_only(api, url):
    _, _, put = api
    r = put("public_url", url)
    assert r.status_code == 422 and r.json["error"]["code"] == "bad_public_url"


@pytest.mark.parametrize("url", ["", "http://hall.example:8000", "https://zwfw.example.gov.cn/hall", "http://10.0.0.5"])
def test_public_url_accepts_addresses(api, url):
    _, _, put = api
    assert put("public_url", url).status_code == 200


def test_strings_are_bounded_and_the_id_key_is_not_a_setting(api, db):
    _, _, put = api
    assert put("hall_name", "大" * 201).json["error"]["code"] == "bad_setting_value"
    assert put("notice", "x" * 501).status_code == 422
    r = put("id_salt", "anything")
    assert r.status_code == 422 and r.json["error"]["code"] == "unknown_setting"
    from queue_server.errors import ValidationError

    with pytest.raises(ValidationError):
        set_setting(db, "id_salt", "x")
