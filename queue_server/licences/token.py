"""The e-licence token that a 亮证 QR carries (DESIGN §9, ``docs/licences.md``). Pure code:
no database, no Flask, so the server, the offline verifier and tests share it.

A token is ``ZW1:`` + base45 of a COSE_Sign1 (RFC 9052) in CBOR tag 18::

    18([ protected = bstr({1: alg}),            # -8 EdDSA (Ed25519); ALG_SM2_SM3 for 国密
         unprotected = {4: kid},                # key id: 4 bytes, SHA-256(public key)[:4]
         payload = bstr({4: exp, 6: iat, 7: cti,          # CWT claims (RFC 8392); cti 8 random bytes
                         -70001: handle,                  # opaque presentation handle, <= 10 bytes
                         -70002: purpose,                 # PURPOSES code, 1 = 窗口核验
                         -70003: holder_masked}),         # optional, e.g. 张*三
         signature ])                           # over ["Signature1", protected, b"", payload]

No compression (signatures do not compress), no ID number, no photo. :func:`check` runs the
offline part of verification in the fixed order prefix → base45 → CBOR → key → signature →
time (±30 s); the server adds status, replay and purpose (:mod:`queue_server.licences.verify`).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

PREFIX = "ZW1:"
COSE_SIGN1_TAG = 18
HDR_ALG, HDR_KID = 1, 4
CLAIM_EXP, CLAIM_IAT, CLAIM_CTI = 4, 6, 7
CLAIM_HANDLE, CLAIM_PURPOSE, CLAIM_HOLDER = -70001, -70002, -70003

#: COSE algorithm ids. -8 is EdDSA (IANA). SM2 with SM3 has no IANA COSE id: this value
#: is in the private-use range (< -65536) and documented in docs/licences.md.
ALG_EDDSA = -8
ALG_SM2_SM3 = -70100
ALG_NAMES = {ALG_EDDSA: "EdDSA", ALG_SM2_SM3: "SM2-SM3"}
ALG_IDS = {v: k for k, v in ALG_NAMES.items()}
CURVES = {ALG_EDDSA: "Ed25519", ALG_SM2_SM3: "SM2"}

#: Clock skew allowed on ``iat`` and ``exp``, seconds.
SKEW_SECONDS = 30
CTI_BYTES = 8
HANDLE_BYTES = 8
MAX_HANDLE_BYTES = 10
KID_BYTES = 4
#: Longer texts are not read at all (a version-9 QR holds 230 alphanumeric characters).
MAX_TOKEN_CHARS = 600
#: A masked holder name longer than this (UTF-8 bytes) is shortened to first*last.
MAX_HOLDER_BYTES = 16

#: Every answer of a verification, in the order the checks run. ``expired`` and
#: ``not_yet_valid`` are the token's own times; the status step answers ``revoked`` (revoked,
#: superseded or unknown), ``licence_expired`` or ``licence_not_yet_valid`` (the licence's
#: validity dates, on the verifier's day).
REASONS = ("ok", "bad_format", "unknown_key", "bad_signature", "expired", "not_yet_valid", "revoked",
           "licence_expired", "licence_not_yet_valid", "replayed", "wrong_purpose")
#: The status step's answer for a licence status other than ``valid``.
_STATUS_REASONS = {"expired": "licence_expired", "not_yet_valid": "licence_not_yet_valid"}


def status_reason(status: str | None) -> str:
    """What the status step answers for a licence that is not ``valid``: its validity dates
    have their own reasons; revoked, superseded or unknown is ``revoked``."""
    return _STATUS_REASONS.get(status or "", "revoked")

#: Purpose codes (claim -70002): why the licence is shown (用证事由). Code → (zh, en).
PURPOSES: dict[int, tuple[str, str]] = {
    1: ("窗口核验", "Verification at a service window"),
    2: ("用证办事（免交复印件）", "Proof for a case instead of a paper copy"),
    3: ("住宿登记", "Hotel check-in"),
    4: ("金融业务", "Banking and financial services"),
    5: ("交通出行", "Travel and transport"),
    6: ("身份核验（其他场所）", "Identity check at another venue"),
}


class TokenFormatError(ValueError):
    """The text is not a well-formed token; ``stage`` says which step refused it."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage


@dataclass(frozen=True)
class Claims:
    """The payload of a token."""

    exp: int
    iat: int
    cti: bytes
    handle: bytes
    purpose: int
    holder_masked: str | None = None

    def to_map(self) -> dict[int, Any]:
        out: dict[int, Any] = {CLAIM_EXP: self.exp, CLAIM_IAT: self.iat, CLAIM_CTI: self.cti,
                               CLAIM_HANDLE: self.handle, CLAIM_PURPOSE: self.purpose}
        if self.holder_masked:
            out[CLAIM_HOLDER] = self.holder_masked
        return out


def short_holder(masked: str | None) -> str | None:
    """A masked name that keeps the token small: ``欧*华`` when the mask is too long."""
    if not masked:
        return None
    if len(masked.encode("utf-8")) <= MAX_HOLDER_BYTES:
        return masked
    return masked[0] + "*" + masked[-1]


# --- keys -------------------------------------------------------------------------------------


def kid_for(public: bytes) -> bytes:
    """The key id of a public key (its raw bytes): the first 4 bytes of its SHA-256."""
    return hashlib.sha256(public).digest()[:KID_BYTES]


class Signer(Protocol):
    alg: int
    kid: bytes

    def sign(self, data: bytes) -> bytes: ...


class PublicKey(Protocol):
    alg: int
    kid: bytes
    not_after: float | None

    def verify(self, signature: bytes, data: bytes) -> bool: ...


class Ed25519Signer:
    """Signs with an Ed25519 private key (deterministic signatures)."""

    alg = ALG_EDDSA

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._key = private
        self.public = private.public_key().public_bytes_raw()
        self.kid = kid_for(self.public)

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


class Ed25519Key:
    """An Ed25519 public key from the keys document (``x`` = 32 raw bytes)."""

    alg = ALG_EDDSA

    def __init__(self, x: bytes, kid: bytes | None = None, not_after: float | None = None) -> None:
        self._key = Ed25519PublicKey.from_public_bytes(x)
        self.x = x
        self.kid = kid if kid is not None else kid_for(x)
        self.not_after = not_after

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self._key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


def sm2_available() -> bool:
    """True when ``tongsuopy`` (SM2/SM3 through Tongsuo) is installed (extra ``gm``)."""
    try:
        import tongsuopy.crypto.asymciphers.ec  # noqa: F401
    except ImportError:
        return False
    return True


class SM2Signer:
    """Signs with SM2 over SM3 through ``tongsuopy`` (the nonce comes from Tongsuo's RNG;
    the signer ID is the GM/T 0009 default ``1234567812345678``). The COSE signature is
    ``r || s``, 32 bytes each, as COSE writes ECDSA signatures."""

    alg = ALG_SM2_SM3

    def __init__(self, private: Any) -> None:
        from tongsuopy.crypto import serialization

        self._key = private
        point = private.public_key().public_bytes(serialization.Encoding.X962,
                                                  serialization.PublicFormat.UncompressedPoint)
        self.public = bytes(point[1:])  # x || y
        self.kid = kid_for(self.public)

    @classmethod
    def generate(cls) -> SM2Signer:
        from tongsuopy.crypto.asymciphers import ec

        return cls(ec.generate_private_key(ec.SM2()))

    @classmethod
    def from_private_value(cls, value: bytes) -> SM2Signer:
        from tongsuopy.crypto.asymciphers import ec

        return cls(ec.derive_private_key(int.from_bytes(value, "big"), ec.SM2()))

    def private_value(self) -> bytes:
        return int(self._key.private_numbers().private_value).to_bytes(32, "big")

    def sign(self, data: bytes) -> bytes:
        from tongsuopy.crypto import hashes
        from tongsuopy.crypto.asymciphers import ec

        r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SM3())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class SM2Key:
    """An SM2 public key from the keys document (``x``, ``y`` = 32 bytes each)."""

    alg = ALG_SM2_SM3

    def __init__(self, x: bytes, y: bytes, kid: bytes | None = None, not_after: float | None = None) -> None:
        from tongsuopy.crypto.asymciphers import ec

        self._key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), b"\x04" + x + y)
        self.x, self.y = x, y
        self.kid = kid if kid is not None else kid_for(x + y)
        self.not_after = not_after

    def verify(self, signature: bytes, data: bytes) -> bool:
        from tongsuopy.crypto import hashes
        from tongsuopy.crypto.asymciphers import ec
        from tongsuopy.crypto.exceptions import InvalidSignature as SM2Invalid

        if len(signature) != 64:
            return False
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            self._key.verify(der, data, ec.ECDSA(hashes.SM3()))
        except SM2Invalid:
            return False
        return True


def b64u(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_entry(key: PublicKey) -> dict[str, Any]:
    """One entry of the keys document (``GET /api/licences/keys``)."""
    if not isinstance(key, (Ed25519Key, SM2Key)):
        raise TypeError(f"not a key this module writes: {key!r}")
    entry: dict[str, Any] = {"kid": b64u(key.kid), "alg": ALG_NAMES[key.alg], "crv": CURVES[key.alg],
                             "x": b64u(key.x)}
    if isinstance(key, SM2Key):
        entry["y"] = b64u(key.y)
    if key.not_after is not None:
        entry["not_after"] = int(key.not_after)
    return entry


def keys_from_document(doc: Mapping[str, Any]) -> dict[bytes, PublicKey]:
    """The trust list of a keys document: kid → public key. Entries of an algorithm this
    installation cannot check (SM2 without tongsuopy) or malformed ones are skipped."""
    out: dict[bytes, PublicKey] = {}
    for entry in doc.get("keys", []) if isinstance(doc, Mapping) else []:
        try:
            kid = unb64u(entry["kid"])
            not_after = entry.get("not_after")
            not_after = float(not_after) if not_after is not None else None
            if entry.get("alg") == "EdDSA" and entry.get("crv") == "Ed25519":
                out[kid] = Ed25519Key(unb64u(entry["x"]), kid, not_after)
            elif entry.get("alg") == "SM2-SM3" and sm2_available():
                out[kid] = SM2Key(unb64u(entry["x"]), unb64u(entry["y"]), kid, not_after)
        except (KeyError, TypeError, ValueError):
            continue
    return out


# --- encoding ---------------------------------------------------------------------------------


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """What COSE_Sign1 signs: ``["Signature1", protected, external_aad = b"", payload]``."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def encode_cbor(claims: Claims, signer: Signer) -> bytes:
    """The COSE_Sign1 bytes (tag 18) of ``claims`` signed by ``signer``."""
    protected = cbor2.dumps({HDR_ALG: signer.alg})
    payload = cbor2.dumps(claims.to_map())
    signature = signer.sign(sig_structure(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {HDR_KID: signer.kid}, payload, signature]))


def encode(claims: Claims, signer: Signer) -> str:
    """The token text: ``ZW1:`` + base45 of the COSE_Sign1."""
    return PREFIX + base45.b45encode(encode_cbor(claims, signer)).decode("ascii")


# --- decoding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """A token taken apart (not yet verified)."""

    protected: bytes
    alg: int
    kid: bytes
    payload: bytes
    signature: bytes
    claims: Claims

    def signed_data(self) -> bytes:
        return sig_structure(self.protected, self.payload)


def _loads_exact(data: bytes) -> Any:
    """One CBOR item that is the whole of ``data`` (trailing bytes refused)."""
    fp = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(fp).decode()
    except Exception as exc:  # cbor2 raises several kinds on garbage  # noqa: BLE001
        raise TokenFormatError("cbor", f"not CBOR ({type(exc).__name__})") from exc
    if fp.tell() != len(data):
        raise TokenFormatError("cbor", "trailing bytes")
    return item


def _int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _claims(payload: bytes) -> Claims:
    m = _loads_exact(payload)
    if not isinstance(m, Mapping):
        raise TokenFormatError("cbor", "payload is not a map")
    exp, iat, cti = m.get(CLAIM_EXP), m.get(CLAIM_IAT), m.get(CLAIM_CTI)
    handle, purpose, holder = m.get(CLAIM_HANDLE), m.get(CLAIM_PURPOSE), m.get(CLAIM_HOLDER)
    if not (_int(exp) and _int(iat) and 0 <= iat <= exp < 2**40):
        raise TokenFormatError("cbor", "exp/iat missing or out of order")
    if not (isinstance(cti, bytes) and 1 <= len(cti) <= 32):
        raise TokenFormatError("cbor", "cti missing")
    if not (isinstance(handle, bytes) and 1 <= len(handle) <= MAX_HANDLE_BYTES):
        raise TokenFormatError("cbor", "licence handle missing or longer than 10 bytes")
    if not (_int(purpose) and 0 <= purpose < 2**16):
        raise TokenFormatError("cbor", "purpose missing")
    if holder is not None and not (isinstance(holder, str) and len(holder) <= 64):
        raise TokenFormatError("cbor", "holder is not a short text")
    return Claims(exp=exp, iat=iat, cti=bytes(cti), handle=bytes(handle), purpose=purpose, holder_masked=holder)


def decode_cbor(raw: bytes) -> Envelope:
    """Take a COSE_Sign1 apart; :class:`TokenFormatError` (stage ``cbor``) if it is not one of ours."""
    obj = _loads_exact(raw)
    if not isinstance(obj, cbor2.CBORTag) or obj.tag != COSE_SIGN1_TAG:
        raise TokenFormatError("cbor", "not a COSE_Sign1 (tag 18)")
    parts = obj.value
    if not isinstance(parts, (list, tuple)) or len(parts) != 4:
        raise TokenFormatError("cbor", "COSE_Sign1 is not an array of 4")
    protected, unprotected, payload, signature = parts
    if not (isinstance(protected, bytes) and isinstance(unprotected, Mapping) and isinstance(payload, bytes)
            and isinstance(signature, bytes)):
        raise TokenFormatError("cbor", "COSE_Sign1 members have the wrong types")
    header = _loads_exact(protected) if protected else {}
    if not isinstance(header, Mapping):
        raise TokenFormatError("cbor", "protected header is not a map")
    alg = header.get(HDR_ALG)
    kid = header.get(HDR_KID, unprotected.get(HDR_KID))
    if not _int(alg):
        raise TokenFormatError("cbor", "no alg in the protected header")
    if not (isinstance(kid, bytes) and 1 <= len(kid) <= 32):
        raise TokenFormatError("cbor", "no kid")
    return Envelope(bytes(protected), alg, bytes(kid), bytes(payload), bytes(signature), _claims(payload))


def decode(text: str) -> Envelope:
    """Prefix → base45 → CBOR; :class:`TokenFormatError` says which step failed."""
    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise TokenFormatError("prefix", f"does not start with {PREFIX}")
    if len(text) > MAX_TOKEN_CHARS:
        raise TokenFormatError("prefix", "too long")
    try:
        raw = base45.b45decode(text[len(PREFIX):])
    except (ValueError, TypeError) as exc:
        raise TokenFormatError("base45", "not base45") from exc
    return decode_cbor(raw)


def clean_scan(text: str) -> str:
    """What a scanner sends, tidied: leading whitespace and the line end a keyboard-wedge
    scanner types (Enter) are removed. A trailing space is kept: base45 uses the space, so
    it can be the token's last character."""
    return text.lstrip().rstrip("\r\n\t") if isinstance(text, str) else text


# --- checking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """The offline part of a verification. ``reason`` is ``ok`` when format, key, signature
    and time pass (the server then checks status, replay and purpose)."""

    reason: str
    envelope: Envelope | None = None
    detail: str = ""

    @property
    def claims(self) -> Claims | None:
        return self.envelope.claims if self.envelope else None


def check(text: str, keys: Mapping[bytes, PublicKey] | Callable[[bytes], PublicKey | None], now: float,
          *, skew: int = SKEW_SECONDS) -> Checked:
    """Prefix → base45 → CBOR → key → signature → time (±``skew`` s), the first failure wins.

    ``keys`` maps kid → public key (or is a lookup function); a key whose ``not_after`` has
    passed is no longer trusted (``unknown_key``).
    """
    try:
        env = decode(clean_scan(text))
    except TokenFormatError as exc:
        return Checked("bad_format", None, str(exc))
    key = keys(env.kid) if callable(keys) else keys.get(env.kid)
    if key is None or (key.not_after is not None and now > key.not_after):
        return Checked("unknown_key", env, "kid not in the trust list")
    if key.alg != env.alg or not key.verify(env.signature, env.signed_data()):
        return Checked("bad_signature", env)
    if now < env.claims.iat - skew:
        return Checked("not_yet_valid", env)
    if now > env.claims.exp + skew:
        return Checked("expired", env)
    return Checked("ok", env)
