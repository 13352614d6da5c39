"""The wire between a hall and the city hub: signed event batches up, signed manifests down.

Both sides import this module (the hall's ``queue_server.uplink`` and ``city_hub``); it has
no Flask, no database and no network code, only the formats and the checks.

* **Canonical JSON** (:func:`canonical`): UTF-8, keys sorted, no spaces. Manifests are signed
  over it; batches are signed over the exact bytes sent (which the hall makes with it).
* **Keys**: Ed25519 (``cryptography``), passed around as base64 of the 32 raw bytes; a key's
  id is the first 16 hex digits of the SHA-256 of its public key.
* **Batches** (:func:`make_batch`): ``POST /ingest/<hall>`` with the body's Ed25519 signature
  in the ``X-Yichuang-Signature`` header. The body says which hall sent it, the cursor
  (``after``) and the last id it covers (``upto``: the hall vouches that it holds no other
  event in ``(after, upto]``), the events, the audit chain head, the check of the hub's
  anchor and the day's figures.
* **Event schemas** (:data:`EVENT_SCHEMAS`): every event type the hub reads, with its
  version and required fields. An event carries ``v`` (its type's version); a known type
  whose data does not match is quarantined by the hub; an unknown type is stored as it came.
* **Manifests** (:func:`sign_manifest`, :func:`verify_manifest`): kind, version, content,
  content hash (``sha256:<hex>`` of the canonical content), created_at, key id and the hub's
  signature over the canonical header (everything but ``content`` and ``signature``).
* **Licence trust** (:func:`check_licence_trust`, :func:`check_trust_list`): what a hall
  reports of its e-licence keys and revocations in the optional batch part
  ``licence_trust``, and the ``licence_trust_list`` manifest the hub assembles from every
  hall's report — what makes a licence shown in one hall verify in another.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

#: Version of the batch envelope itself.
BATCH_FORMAT = 1
#: Version of the manifest envelope.
MANIFEST_FORMAT = 1
SIGNATURE_HEADER = "X-Yichuang-Signature"
KEY_ID_HEADER = "X-Yichuang-Key-Id"


def is_loopback(host: str | None) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): traffic that stays on the machine."""
    if not host:
        return False
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_transport(url: str) -> bool:
    """True when ``url`` is plain ``http://`` to a host other than this machine: signatures
    still hold, but anyone on the way reads the hall's events (production is HTTPS)."""
    u = urlparse(url)
    return u.scheme == "http" and not is_loopback(u.hostname)


def canonical(data: Any) -> bytes:
    """The one byte string of a JSON value that signatures and hashes cover."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def content_hash(content: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical(content)).hexdigest()


# -- keys ---------------------------------------------------------------------------------
def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.strip().encode("ascii"), validate=True)


def new_private_key() -> str:
    """A fresh Ed25519 private key as base64 of its 32 raw bytes."""
    return _b64(Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def load_private(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_unb64(text))


def load_public(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_unb64(text))


def public_of(private_text: str) -> str:
    return _b64(load_private(private_text).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def key_id(public_text: str) -> str:
    return hashlib.sha256(_unb64(public_text)).hexdigest()[:16]


def sign(private_text: str, data: bytes) -> str:
    return _b64(load_private(private_text).sign(data))


def verify(public_text: str, data: bytes, signature: str) -> bool:
    """True when ``signature`` (base64) is the key's signature of exactly ``data``."""
    try:
        load_public(public_text).verify(_unb64(signature), data)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


# -- event schemas ------------------------------------------------------------------------
@dataclass(frozen=True)
class EventSchema:
    """What the hub requires of one event type at one version: field → accepted types.
    Fields not named may be present; ``one_of`` lists groups of which one must be present."""

    name: str
    version: int
    required: dict[str, tuple[type, ...]]
    one_of: tuple[tuple[str, ...], ...] = ()


_INT = (int,)
_STR = (str,)
_NUM = (int, float)
_TICKET = {"ticket_id": _INT, "number": _STR}

#: Every event type the hub reads, at its current version. A capability that changes the
#: data of an event bumps the version here (the hub keeps reading the older versions it
#: lists in :data:`EVENT_SCHEMAS`).
_SCHEMAS: tuple[EventSchema, ...] = (
    EventSchema("ticket.issued", 1, {**_TICKET, "service": _STR, "category": _STR}),
    EventSchema("ticket.called", 1, {**_TICKET, "window": _INT, "service": _STR}),
    EventSchema("ticket.recalled", 1, {**_TICKET, "window": _INT}),
    EventSchema("ticket.started", 1, dict(_TICKET)),
    EventSchema("ticket.finished", 1, dict(_TICKET)),
    EventSchema("ticket.no_show", 1, dict(_TICKET)),
    EventSchema("ticket.cancelled", 1, dict(_TICKET)),
    EventSchema("ticket.transferred", 1, dict(_TICKET)),
    EventSchema("window.opened", 1, {"window": _INT, "status": _STR}),
    EventSchema("window.paused", 1, {"window": _INT, "status": _STR}),
    EventSchema("window.resumed", 1, {"window": _INT, "status": _STR}),
    EventSchema("window.closed", 1, {"window": _INT, "status": _STR}),
    EventSchema("notice.changed", 1, {"notice": _STR}),
    EventSchema("day.reset", 1, {}),
    EventSchema("hall.configured", 1, {}),
    EventSchema("printer.status", 1, {"printer": _STR, "status": _STR}),
    # The 好差评 capability's events (issue 13) and the devices capability's (issue 15).
    EventSchema("evaluation.created", 1,
                {"id": _INT + _STR, "level": _INT, "channel": _STR, "service": _STR, "count": _INT,
                 "reasons": (list,)}, one_of=(("case", "ticket"),)),
    EventSchema("rectification.changed", 1, {"id": _INT + _STR, "step": _STR, "status": _STR, "deadline": _STR}),
    EventSchema("device.state_changed", 1, {"name": _STR, "state": _STR}),
)
EVENT_SCHEMAS: dict[tuple[str, int], EventSchema] = {(s.name, s.version): s for s in _SCHEMAS}
#: The version a hall stamps on each type it sends (1 for a type not listed).
EVENT_VERSIONS: dict[str, int] = {}
for _s in _SCHEMAS:
    EVENT_VERSIONS[_s.name] = max(EVENT_VERSIONS.get(_s.name, 0), _s.version)


def event_version(type_: str) -> int:
    return EVENT_VERSIONS.get(type_, 1)


def check_event(ev: Any) -> tuple[str, str]:
    """Classify one event of a batch: ``("ok", "")`` for a known type whose data matches,
    ``("unknown_type", "")`` for a type the hub does not read (stored raw), or
    ``("quarantine", reason)`` for anything it cannot read."""
    if not isinstance(ev, dict):
        return "quarantine", "event is not an object"
    if isinstance(ev.get("id"), bool) or not isinstance(ev.get("id"), int) or ev["id"] < 1:
        return "quarantine", "id must be a positive integer"
    if not isinstance(ev.get("type"), str) or not ev["type"] or len(ev["type"]) > 64:
        return "quarantine", "type must be a short string"
    if isinstance(ev.get("ts"), bool) or not isinstance(ev.get("ts"), int | float) or not 0 < ev["ts"] < 32503680000:
        return "quarantine", "ts must be a Unix time"
    version = ev.get("v", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        return "quarantine", "v must be an integer"
    data = ev.get("data")
    if not isinstance(data, dict):
        return "quarantine", "data must be an object"
    if ev["type"] not in EVENT_VERSIONS:
        return "unknown_type", ""
    schema = EVENT_SCHEMAS.get((ev["type"], version))
    if schema is None:
        return "quarantine", f"{ev['type']} version {version} is not known to this hub"
    for name, types in schema.required.items():
        value = data.get(name)
        if value is None or isinstance(value, bool) or not isinstance(value, types):
            return "quarantine", f"{ev['type']}: field {name} missing or of the wrong type"
    for group in schema.one_of:
        if not any(data.get(name) is not None for name in group):
            return "quarantine", f"{ev['type']}: one of {', '.join(group)} is required"
    return "ok", ""


# -- batches ------------------------------------------------------------------------------
#: Optional parts a batch may carry beside its events and figures, each added by a hall
#: capability (``queue_server.uplink.parts``). A hub that does not know a part ignores it,
#: so halls and hubs of different versions keep working together.
BATCH_PARTS = ("licence_trust",)


def make_batch(*, hall: str, after: int, upto: int, events: list[dict[str, Any]], audit_head: dict[str, Any],
               audit_check: dict[str, Any] | None, figures: dict[str, Any], last_event_id: int,
               tz: str, reports: list[dict[str, Any]] | None = None, sent_at: float,
               parts: dict[str, Any] | None = None) -> bytes:
    """The body of one ``POST /ingest/<hall>``: canonical JSON bytes, to be signed as they are.
    ``parts`` adds optional parts named in :data:`BATCH_PARTS` (others are left out)."""
    body: dict[str, Any] = {
        "format": BATCH_FORMAT, "hall": hall, "batch": uuid.uuid4().hex, "sent_at": sent_at,
        "after": after, "upto": upto, "last_event_id": last_event_id, "tz": tz,
        "events": events, "audit_head": audit_head, "audit_check": audit_check,
        "figures": figures, "reports": reports or [],
    }
    for name, value in (parts or {}).items():
        if name in BATCH_PARTS and value is not None:
            body[name] = value
    return canonical(body)


# -- manifests ----------------------------------------------------------------------------
class ManifestError(ValueError):
    """A manifest that must be refused; ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


_HEADER_FIELDS = ("format", "kind", "version", "content_hash", "created_at", "key_id")


def manifest_header(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m.get(k) for k in _HEADER_FIELDS}


def sign_manifest(private_text: str, kind: str, version: int, content: Any, created_at: float) -> dict[str, Any]:
    """A signed manifest (a JSON object) of ``content``."""
    m: dict[str, Any] = {
        "format": MANIFEST_FORMAT, "kind": kind, "version": int(version), "content_hash": content_hash(content),
        "created_at": float(created_at), "key_id": key_id(public_of(private_text)),
    }
    m["signature"] = sign(private_text, canonical(manifest_header(m)))
    m["content"] = content
    return m


def verify_manifest(public_text: str, m: Any) -> dict[str, Any]:
    """Check a manifest's shape, content hash and signature; returns it or raises
    :class:`ManifestError` (``bad_shape``, ``bad_hash``, ``bad_signature``, ``wrong_key``)."""
    if not isinstance(m, dict):
        raise ManifestError("bad_shape", "not an object")
    if m.get("format") != MANIFEST_FORMAT:
        raise ManifestError("bad_shape", f"format {m.get('format')!r}")
    if not isinstance(m.get("kind"), str) or not m["kind"]:
        raise ManifestError("bad_shape", "kind")
    if isinstance(m.get("version"), bool) or not isinstance(m.get("version"), int) or m["version"] < 1:
        raise ManifestError("bad_shape", "version")
    if not isinstance(m.get("signature"), str) or "content" not in m:
        raise ManifestError("bad_shape", "signature or content missing")
    if m.get("key_id") != key_id(public_text):
        raise ManifestError("wrong_key", f"signed by key {m.get('key_id')!r}")
    if not verify(public_text, canonical(manifest_header(m)), m["signature"]):
        raise ManifestError("bad_signature")
    if content_hash(m["content"]) != m.get("content_hash"):
        raise ManifestError("bad_hash", "content does not match content_hash")
    return m


# -- licence trust: keys and revocations up, the trust list down ---------------------------
#: The manifest kind of the city's licence trust list.
TRUST_LIST_KIND = "licence_trust_list"
TRUST_LIST_FORMAT = 1
#: What a revocation entry may say of the licence behind a presentation handle.
REVOKED_STATUSES = ("revoked", "superseded", "expired")
MAX_TRUST_KEYS = 32
MAX_REVOKED = 20000
MAX_TRUST_HALLS = 5000
#: alg → (crv, whether the key has ``y``), as in the licences keys document.
TRUST_KEY_ALGS = {"EdDSA": ("Ed25519", False), "SM2-SM3": ("SM2", True)}
_B64U = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64u_bytes(text: Any, what: str, lo: int, hi: int) -> bytes:
    """Base64url without padding → bytes, ``lo`` to ``hi`` long; ValueError otherwise."""
    if not isinstance(text, str) or not text or len(text) > 4 * hi or not set(text) <= _B64U:
        raise ValueError(f"{what} must be base64url without padding")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise ValueError(f"{what} must be base64url without padding") from exc
    if not lo <= len(raw) <= hi or base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        raise ValueError(f"{what} must be {lo}-{hi} bytes in canonical base64url")
    return raw


def _unix(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 2**40:
        raise ValueError(f"{what} must be Unix seconds")
    return int(value)


def check_trust_key(entry: Any) -> dict[str, Any]:
    """One entry of a licences keys document (``GET /api/licences/keys``), checked: the key id
    must be the first 4 bytes of SHA-256 of the public key (``x``, or ``x || y`` for SM2).
    Returns the entry with only the fields that matter, in their canonical form."""
    if not isinstance(entry, dict):
        raise ValueError("a key must be an object")
    alg = entry.get("alg")
    if alg not in TRUST_KEY_ALGS:
        raise ValueError(f"key alg must be one of {', '.join(TRUST_KEY_ALGS)}")
    crv, has_y = TRUST_KEY_ALGS[alg]
    if entry.get("crv") != crv:
        raise ValueError(f"key crv must be {crv} for {alg}")
    kid = b64u_bytes(entry.get("kid"), "key kid", 4, 4)
    x = b64u_bytes(entry.get("x"), "key x", 32, 32)
    public = x + (b64u_bytes(entry.get("y"), "key y", 32, 32) if has_y else b"")
    if hashlib.sha256(public).digest()[:4] != kid:
        raise ValueError("key kid is not the first 4 bytes of SHA-256 of the public key")
    out: dict[str, Any] = {"kid": entry["kid"], "alg": alg, "crv": crv, "x": entry["x"]}
    if has_y:
        out["y"] = entry["y"]
    if entry.get("not_after") is not None:
        out["not_after"] = _unix(entry["not_after"], "key not_after")
    return out


def check_revocation(entry: Any) -> dict[str, Any]:
    """One revocation entry: ``{"handle", "status", "until"}`` — the presentation handle a
    token carries (claim -70001, base64url, at most 10 bytes), what became of its licence, and
    the time after which no token of that handle can pass the time check any more."""
    if not isinstance(entry, dict):
        raise ValueError("a revocation must be an object")
    b64u_bytes(entry.get("handle"), "revocation handle", 1, 10)
    if entry.get("status") not in REVOKED_STATUSES:
        raise ValueError(f"revocation status must be one of {', '.join(REVOKED_STATUSES)}")
    return {"handle": entry["handle"], "status": entry["status"], "until": _unix(entry.get("until"), "revocation until")}


def _keys_and_revoked(part: dict[str, Any], where: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    keys, revoked = part.get("keys"), part.get("revoked")
    if not isinstance(keys, list) or len(keys) > MAX_TRUST_KEYS:
        raise ValueError(f"{where}keys must be a list of at most {MAX_TRUST_KEYS}")
    if not isinstance(revoked, list) or len(revoked) > MAX_REVOKED:
        raise ValueError(f"{where}revoked must be a list of at most {MAX_REVOKED}")
    clean_keys = sorted((check_trust_key(k) for k in keys), key=lambda k: (k["kid"], k["x"]))
    if len({(k["kid"], k["x"]) for k in clean_keys}) != len(clean_keys):
        raise ValueError(f"{where}a key is listed twice")
    clean_revoked = sorted((check_revocation(r) for r in revoked), key=lambda r: r["handle"])
    if len({r["handle"] for r in clean_revoked}) != len(clean_revoked):
        raise ValueError(f"{where}a handle is listed twice")
    return clean_keys, clean_revoked


def check_licence_trust(part: Any) -> dict[str, Any]:
    """The batch part ``licence_trust`` a hall sends: ``{"keys": [keys document entries],
    "revoked": [{"handle", "status", "until"}]}``, checked and put in canonical order (so equal
    reports hash equally). Raises ValueError."""
    if not isinstance(part, dict):
        raise ValueError("licence_trust must be an object")
    keys, revoked = _keys_and_revoked(part, "licence_trust: ")
    return {"keys": keys, "revoked": revoked}


def _hall_code(code: Any) -> str:
    if not isinstance(code, str) or not code or len(code) > 64 or not all(c.isalnum() or c in "-_" for c in code):
        raise ValueError("hall code: letters, digits, - and _ (at most 64)")
    return code


def check_trust_list(content: Any) -> dict[str, Any]:
    """The content of a ``licence_trust_list`` manifest: ``{"format": 1, "generated_at",
    "halls": [{"hall", "name", "keys", "revoked"}]}``, checked (hall codes unique, every key
    and revocation well formed). Raises ValueError; returns it in canonical order."""
    if not isinstance(content, dict) or content.get("format") != TRUST_LIST_FORMAT:
        raise ValueError(f"a trust list is an object with format {TRUST_LIST_FORMAT}")
    generated_at = _unix(content.get("generated_at"), "generated_at")
    halls = content.get("halls")
    if not isinstance(halls, list) or len(halls) > MAX_TRUST_HALLS:
        raise ValueError(f"halls must be a list of at most {MAX_TRUST_HALLS}")
    out: list[dict[str, Any]] = []
    for h in halls:
        if not isinstance(h, dict):
            raise ValueError("a hall entry must be an object")
        code = _hall_code(h.get("hall"))
        name = h.get("name", "")
        if not isinstance(name, str) or len(name) > 200:
            raise ValueError(f"hall {code}: name must be a short text")
        keys, revoked = _keys_and_revoked(h, f"hall {code}: ")
        out.append({"hall": code, "name": name, "keys": keys, "revoked": revoked})
    out.sort(key=lambda h: str(h["hall"]))
    if len({h["hall"] for h in out}) != len(out):
        raise ValueError("a hall is listed twice")
    return {"format": TRUST_LIST_FORMAT, "generated_at": generated_at, "halls": out}
