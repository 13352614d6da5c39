"""The city's licence trust list read as token keys: pure code (no database, no Flask) that
the hall server (:mod:`queue_server.licences.trust`) and the offline verifier share.

The list (manifest kind ``licence_trust_list``, content checked by
:func:`yichuang.citylink.check_trust_list`)::

    {"format": 1, "generated_at": 1764000000,
     "halls": [{"hall": "zhangqiu", "name": "章丘区政务服务中心",
                "keys": [{"kid", "alg", "crv", "x", "y"?, "not_after"?}],      # as GET /api/licences/keys
                "revoked": [{"handle": "<base64url>", "status": "revoked", "until": 1764001000}]}]}

A token's key id is 4 bytes, so two halls' keys may share one: :func:`pick` takes the key
whose signature holds (own keys first), and says which hall it belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from queue_server.licences import token
from yichuang import citylink


@dataclass(frozen=True)
class TrustedKey:
    """Another hall's public key, and whose it is."""

    key: token.PublicKey
    hall: str
    hall_name: str = ""


@dataclass
class TrustList:
    """Keys by kid, revoked handles by (hall, handle), the halls, and the list's date."""

    as_of: float
    keys: dict[bytes, list[TrustedKey]] = field(default_factory=dict)
    revoked: dict[tuple[str, bytes], str] = field(default_factory=dict)
    halls: dict[str, str] = field(default_factory=dict)
    content_hash: str = ""

    def add_key(self, tk: TrustedKey) -> None:
        self.keys.setdefault(tk.key.kid, []).append(tk)


def is_trust_list(doc: Any) -> bool:
    """True for a ``licence_trust_list`` manifest or its content (not a keys document)."""
    if not isinstance(doc, Mapping):
        return False
    if doc.get("kind") == citylink.TRUST_LIST_KIND:
        return True
    return "halls" in doc and "keys" not in doc


def content_of(doc: Mapping[str, Any]) -> Any:
    """The content of a trust-list manifest, or the document itself when it is the content."""
    return doc.get("content") if doc.get("kind") == citylink.TRUST_LIST_KIND else doc


def public_key(entry: Mapping[str, Any]) -> token.PublicKey | None:
    """A keys-document entry as a key (None for an algorithm this installation cannot check,
    e.g. SM2 without tongsuopy)."""
    keys = token.keys_from_document({"keys": [entry]})
    return next(iter(keys.values()), None)


def from_content(content: Any, *, skip_hall: str | None = None) -> TrustList:
    """Read a trust list's content (ValueError when it is malformed)."""
    clean = citylink.check_trust_list(content)
    out = TrustList(as_of=float(clean["generated_at"]), content_hash=citylink.content_hash(content))
    for h in clean["halls"]:
        if h["hall"] == skip_hall:
            continue
        out.halls[h["hall"]] = h["name"]
        for entry in h["keys"]:
            key = public_key(entry)
            if key is not None:
                out.add_key(TrustedKey(key, h["hall"], h["name"]))
        for r in h["revoked"]:
            out.revoked[(h["hall"], token.unb64u(r["handle"]))] = r["status"]
    return out


def pick(own: token.PublicKey | None, trusted: list[TrustedKey], env: token.Envelope,
         now: float) -> tuple[token.PublicKey | None, TrustedKey | None]:
    """The key to check ``env`` with, and the trusted hall key it is (None for an own key).
    One candidate: that one (the checks then say what is wrong). Several (a shared 4-byte
    kid): the first, own key first and keys still in date before retired ones, whose
    algorithm and signature hold; else the first."""
    cands: list[tuple[token.PublicKey, TrustedKey | None]] = [(own, None)] if own is not None else []
    cands += [(tk.key, tk) for tk in trusted]
    if not cands:
        return None, None
    cands.sort(key=lambda c: c[0].not_after is not None and now > c[0].not_after)  # stable: own first
    if len(cands) > 1:
        data = env.signed_data()
        for key, tk in cands:
            if key.alg == env.alg and key.verify(env.signature, data):
                return key, tk
    return cands[0]
