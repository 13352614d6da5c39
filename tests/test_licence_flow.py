"""The kiosk's 亮证 flow without Kivy: who may show a licence, the rotating token's clock,
re-verification, and what a wipe forgets and ends — against a stub client."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.errors import AuthFailed
from kiosk.flows.licence import LicenceFlow, licence_flow, qr_pixels


class Client:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.reverify = False
        self.n = 0

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        self.calls.append((method, path, kw.get("json")))
        if path == "/api/licences":
            return [{"id": 7, "identifier": "x", "type_code": "T", "type_name": "机动车驾驶证",
                     "number_masked": "1101**********0019", "issuer": "交警支队", "valid_to": "2030-03-15",
                     "status": "valid"},
                    {"id": 8, "identifier": "y", "type_code": "F", "type_name": "食品经营许可证",
                     "number_masked": "JY33********2345", "issuer": "市场监管局", "valid_to": "2024-06-30",
                     "status": "expired"}]
        if path == "/api/licences/purposes":
            return {"purposes": [{"code": 1, "name": "窗口核验", "name_en": "Window"}]}
        if path.endswith("/token") and self.reverify:
            raise AuthFailed("licence_reverify", "请重新核验", 403, "verify again")
        if path.endswith("/present") or path.endswith("/token"):
            self.n += 1
            return {"qr": f"ZW1:TOKEN{self.n}", "expires_at": 1000 + 120, "issued_at": 1000, "presentation": 3,
                    "case": "LZ1", "refresh_seconds": 60, "reverify_at": 2800}
        return {}


class Kiosk:
    def __init__(self) -> None:
        self.client = Client()
        self.identity = Identity()
        self.on_wipe: list[Any] = []
        self.elder = False


class Identity:
    def begin(self, on_done: Any = None, next_screen: str = "home", purpose: str = "") -> None:
        self.on_done, self.next_screen, self.purpose = on_done, next_screen, purpose


class Face:
    def __init__(self, method: str = "face", id_number: str = "110101198001160019") -> None:
        self.method = method
        self.id_number = id_number
        self.name_masked = "林*努"
        self.id_masked = "1101**********0019"
        self.face_distance = 0.7


@pytest.fixture
def clock() -> list[float]:
    return [100.0]


@pytest.fixture
def flow(clock) -> LicenceFlow:
    kiosk = Kiosk()
    f = licence_flow(kiosk)
    f.clock = lambda: clock[0]
    return f


def test_only_a_face_match_may_show_a_licence(flow):
    assert flow.begin() == "identity_card"
    assert flow.kiosk.identity.next_screen == "licence_list" and flow.kiosk.identity.purpose == "licence"
    flow.identity_done(Face("card_only"))
    assert not flow.verified and flow.state.message_key == "licence.need_face"
    flow.identity_done(None)
    assert flow.state.message_key == "licence.cancelled"
    flow.identity_done(Face())
    assert flow.verified and flow.state.message_key == ""
    items = flow.load()
    assert [i.type_name for i in items] == ["机动车驾驶证", "食品经营许可证"]  # usable first
    assert flow.kiosk.client.calls[0][1] == "/api/licences"
    assert not flow.choose(8) and flow.choose(7)


def test_a_licence_not_yet_in_force_is_shown_as_such_and_cannot_be_chosen(flow):
    """Audit: the kiosk had no words for a licence that is not in force yet."""
    from kiosk.flows.licence import Licence

    flow.identity_done(Face())
    future = {"id": 9, "identifier": "z", "type_code": "T", "type_name": "道路运输从业资格证",
              "number_masked": "37**********01", "issuer": "交通运输局", "valid_from": "2026-12-01",
              "valid_to": "2032-11-30", "status": "not_yet_valid"}
    real = flow.kiosk.client._request

    def with_future(method: str, path: str, **kw: Any) -> Any:
        got = real(method, path, **kw)
        return [*got, future] if path == "/api/licences" else got

    flow.kiosk.client._request = with_future
    items = flow.load()
    lic = next(i for i in items if i.id == 9)
    assert not lic.usable and not flow.choose(9) and items[0].usable  # greyed, after the usable one
    assert lic.status_text("zh") == "尚未生效（2026-12-01 起生效）"
    assert lic.status_text("en") == "Not yet in force (from 2026-12-01)"
    assert Licence.from_json({**future, "valid_from": None}).status_text("zh") == "尚未生效"
    assert Licence.from_json({**future, "status": "expired"}).status_text("en") == "Expired"


def test_no_identity_check_on_this_kiosk_sends_the_citizen_to_a_window(flow):
    flow.kiosk.identity = None
    assert flow.begin() == "licence_list" and flow.state.message_key == "licence.no_identity"


def test_the_token_rotates_on_the_kiosk_clock_and_never_outlives_its_lifetime(flow, clock):
    flow.identity_done(Face())
    flow.load()
    flow.choose(7)
    shown = flow.present(1)
    body = flow.kiosk.client.calls[-1][2]
    assert body == {"holder_id_number": "110101198001160019", "verification": {"method": "face", "score": 0.7},
                    "purpose": 1}
    assert shown.qr == "ZW1:TOKEN1" and shown.modules ** 2 == len(shown.pixels)
    assert flow.seconds_to_refresh() == 60 and flow.token_fresh()
    clock[0] += 59.6
    assert flow.seconds_to_refresh() == 0
    clock[0] += 61
    assert not flow.token_fresh()  # 120 s after it arrived: hidden, never shown stale
    assert flow.next_token().qr == "ZW1:TOKEN2" and flow.token_fresh()


def test_reverify_is_asked_for_and_another_person_starts_over(flow):
    flow.identity_done(Face())
    flow.load()
    flow.choose(7)
    flow.present(1)
    flow.kiosk.client.reverify = True
    with pytest.raises(AuthFailed):
        flow.next_token()
    assert flow.state.needs_reverify
    assert flow.reverify() == "identity_card" and flow.kiosk.identity.next_screen == "licence_qr"
    flow.identity_done(Face(id_number="370102198001011237"))  # someone else's card
    assert not flow.verified and flow.state.chosen is None and flow.state.message_key == "licence.cancelled"


def test_a_wipe_forgets_the_citizen_and_ends_the_presentation(flow):
    flow.identity_done(Face())
    flow.load()
    flow.choose(7)
    flow.present(1)
    for cb in flow.kiosk.on_wipe:  # the kiosk's session wipe
        cb()
    assert not flow.verified and flow.state.shown is None and flow.state.licences is None
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(p.endswith("/end") for _, p, _ in flow.kiosk.client.calls):
        time.sleep(0.01)
    assert ("POST", "/api/licences/presentations/3/end", None) in flow.kiosk.client.calls


def test_the_qr_matrix_has_a_four_module_quiet_zone():
    pixels, n = qr_pixels("ZW1:ABC")
    rows = [pixels[i * n:(i + 1) * n] for i in range(n)]
    assert all(b == 255 for row in rows[:4] + rows[-4:] for b in row)
    assert all(row[:4] == b"\xff" * 4 and row[-4:] == b"\xff" * 4 for row in rows)


def test_done_goes_straight_to_the_rating_of_the_case_with_the_licence_forgotten(flow):
    class Rating:
        def begin(self, **kw):
            self.kw = kw

    flow.kiosk.rating = Rating()
    assert flow.finish() == "home"  # nothing shown: nothing to rate
    flow.identity_done(Face())
    flow.load()
    flow.choose(flow.state.licences[0].id)
    flow.present(1)
    assert flow.finish() == "rating"
    assert flow.kiosk.rating.kw["case"] == "LZ1" and flow.state.id_number == ""
    assert "亮证" in flow.kiosk.rating.kw["service_name"]
