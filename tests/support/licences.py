"""Test helpers for the e-licence tests: licence rows, a hall with licences, an API client
with a settable clock, and an independent COSE decoder (cbor2 + cryptography only)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import base45
import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hardware.idnumber import id_check_digit, uscc_check_char

#: The demo hall's card holders (queue_server.demo.DEMO_CITIZENS).
LIN = "110101198001160019"
ZHANG = "370102198001011237"
#: Someone with no licence.
NOBODY = "37018119900101" + "123" + id_check_digit("37018119900101123")
ISSUER = "11370100004190567B"
TYPE_DL = "11100000000014213W002"


def uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def licence_row(**over: Any) -> dict[str, Any]:
    """A valid 驾驶证 row for 林曼努; keyword arguments replace fields."""
    row = {"type_code": TYPE_DL, "type_name": "机动车驾驶证", "number": LIN, "holder_name": "林曼努",
           "holder_id_type": "id_card", "holder_id": LIN, "issuer_name": "济南市公安局交通警察支队",
           "issuer_uscc": ISSUER, "issue_date": "2020-03-15", "valid_from": "2020-03-15", "valid_to": "2030-03-15",
           "fields": {"准驾车型": "C1"}}
    row.update(over)
    return row


def licence_file(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"licences": [copy.deepcopy(r) for r in rows]}


class Api:
    """Flask test client with the hall's tokens: ``api.post("/path", "kiosk", json=...)``."""

    def __init__(self, client: Any, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def call(self, method: str, path: str, role: str | None = None, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if role:
            headers["Authorization"] = f"Bearer {self.tokens.get(role, role)}"
        return self.client.open(path, method=method, headers=headers, **kw)

    def get(self, path: str, role: str | None = None, **kw: Any) -> Any:
        return self.call("GET", path, role, **kw)

    def post(self, path: str, role: str | None = None, **kw: Any) -> Any:
        return self.call("POST", path, role, **kw)

    def present(self, licence_id: int, holder: str = LIN, method: str = "face", purpose: int = 1,
                role: str = "kiosk") -> Any:
        return self.post(f"/api/licences/{licence_id}/present", role, json={
            "holder_id_number": holder, "verification": {"method": method, "score": 0.71}, "purpose": purpose})

    def verify(self, qr: str, role: str = "verifier", purpose: int | None = None) -> Any:
        body: dict[str, Any] = {"qr": qr}
        if purpose is not None:
            body["purpose"] = purpose
        return self.post("/api/licences/verify", role, json=body)


def licence_ids(api: Api, holder: str = LIN) -> dict[str, int]:
    """type_name → id of the holder's licences."""
    r = api.get(f"/api/licences?id_number={holder}", "kiosk")
    assert r.status_code == 200, r.json
    return {item["type_name"]: item["id"] for item in r.json}


# --- an independent decoder: nothing from queue_server --------------------------------------


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def independent_verify(qr: str, keys_document: dict[str, Any]) -> dict[Any, Any]:
    """Verify a token the way a third party would from docs/licences.md: strip ``ZW1:``,
    base45, CBOR tag 18, find the key by kid, check the Ed25519 signature over the COSE
    Sig_structure; returns the claims map. Raises on any failure."""
    assert qr.startswith("ZW1:")
    raw = base45.b45decode(qr[4:])
    tagged = cbor2.loads(raw)
    assert isinstance(tagged, cbor2.CBORTag) and tagged.tag == 18
    protected, unprotected, payload, signature = tagged.value
    assert cbor2.loads(protected) == {1: -8}
    kid = unprotected[4]
    entry = next(k for k in keys_document["keys"] if b64u_decode(k["kid"]) == kid)
    assert entry["alg"] == "EdDSA" and entry["crv"] == "Ed25519"
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    Ed25519PublicKey.from_public_bytes(b64u_decode(entry["x"])).verify(signature, to_sign)
    claims = cbor2.loads(payload)
    return dict(claims)


def tamper(qr: str, index: int = -5) -> str:
    """The same token with one byte of its signed CBOR changed (re-encoded in base45)."""
    raw = bytearray(base45.b45decode(qr[4:]))
    raw[index] ^= 0x01
    return "ZW1:" + base45.b45encode(bytes(raw)).decode("ascii")


# --- the clerk console in a browser ---------------------------------------------------------


def open_console(browser: Any, url: str, user: str = "clerk1", password: str = "clerk123", window: int = 1) -> Any:
    """A logged-in clerk console at ``window`` (1366×900)."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{url}/counter")
    page.fill("#login-user", user)
    page.fill("#login-pass", password)
    page.press("#login-pass", "Enter")
    page.click(f"#window-list button[data-window='{window}']")
    page.wait_for_selector("#view-desk:not([hidden])")
    page.wait_for_selector("#btn-call:not([disabled])")
    return page


def console_scan(page: Any, qr: str, *, paste: bool = False) -> str:
    """Scan ``qr`` into the console's 核验亮证 box as a keyboard-wedge scanner does (typed keys
    and Enter, wherever the focus is) or by pasting; returns the reason the box shows."""
    page.evaluate("() => { const r = document.getElementById('lic-result'); r.dataset.reason = ''; }")
    if paste:
        page.fill("#lic-scan", qr)
        page.press("#lic-scan", "Enter")
    else:
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.keyboard.type(qr)
        page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('lic-result').dataset.reason", timeout=10000)
    return str(page.get_attribute("#lic-result", "data-reason"))
