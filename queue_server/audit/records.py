"""Typed audit records: one dataclass per kind of thing audited (like datasette's
``events.py``). A record's fields are all it may say: ids, codes, results and scores —
never a name, an ID number, an ID hash or an image.

Capabilities declare their own kinds next to their domain code with :func:`record_type`;
``docs/audit.md`` lists every kind and ``tests/test_docs.py`` keeps the two equal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, TypeVar

#: Every record kind → its class (filled by :func:`record_type` as modules load).
RECORD_TYPES: dict[str, type[AuditRecord]] = {}

#: Field names a record may never have (personal data, or what would recover it).
FORBIDDEN_FIELDS = frozenset({"name", "id_number", "id_hash", "id_masked", "holder_name", "image", "photo",
                              "face", "phone", "address"})

R = TypeVar("R", bound="type[AuditRecord]")


def record_type(cls: R) -> R:
    """Class decorator: register a record kind (its ``kind`` must be new)."""
    kind = cls.kind
    if kind in RECORD_TYPES and RECORD_TYPES[kind] is not cls:
        raise ValueError(f"audit record kind {kind} declared twice")
    bad = FORBIDDEN_FIELDS & set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    if bad:
        raise ValueError(f"audit record {kind} has personal fields: {sorted(bad)}")
    RECORD_TYPES[kind] = cls
    return cls


@dataclass(frozen=True)
class AuditRecord:
    """Base class: ``kind`` names the record; the dataclass fields are its data."""

    kind: ClassVar[str] = ""

    def data(self) -> dict[str, Any]:
        return asdict(self)


@record_type
@dataclass(frozen=True)
class IdentityChecked(AuditRecord):
    """A kiosk checked that the person at it holds the ID card (人证比对), or a member of
    staff did. ``result``: ``pass``, ``fail`` or ``referred`` (sent to a window, 转人工);
    ``method``: ``face``, ``card`` (card read only, no face) or ``staff``; ``score`` is the
    model's similarity (higher = more alike) and ``model`` / ``model_digest`` say which model
    gave it; ``liveness`` is ``pass``, ``fail`` or ``skipped``; ``purpose`` is what the check
    was for (``priority_ticket``, ``approval``, ``licence``); ``checked_at`` the kiosk's clock."""

    kind: ClassVar[str] = "identity.checked"
    kiosk: str
    method: str
    result: str
    purpose: str = ""
    score: float | None = None
    threshold: float | None = None
    liveness: str | None = None
    model: str | None = None
    model_digest: str | None = None
    attempts: int = 1
    reason_code: str | None = None
    checked_at: float | None = None
    ticket_id: int | None = None
    case: str | None = None


@record_type
@dataclass(frozen=True)
class SettingChanged(AuditRecord):
    """A hall setting changed (``queue-server settings set``, the admin API or pages).
    Secret settings are recorded as ``"***"``."""

    kind: ClassVar[str] = "setting.changed"
    setting: str
    before: Any
    after: Any


@record_type
@dataclass(frozen=True)
class TokenCreated(AuditRecord):
    """A device token was created (the token itself is never stored or recorded)."""

    kind: ClassVar[str] = "token.created"
    token_id: int
    token_name: str
    role: str
    user_id: int | None = None


@record_type
@dataclass(frozen=True)
class TokenRevoked(AuditRecord):
    """Tokens were revoked (by name, or one logout)."""

    kind: ClassVar[str] = "token.revoked"
    token_ids: list[int]
    token_name: str


@record_type
@dataclass(frozen=True)
class UserCreated(AuditRecord):
    """A staff account was created."""

    kind: ClassVar[str] = "user.created"
    user_id: int
    role: str


@record_type
@dataclass(frozen=True)
class HallImported(AuditRecord):
    """The hall's catalogue (categories, services, windows) was replaced from a file;
    ``before`` and ``after`` are the catalogue as ``hall export`` writes it."""

    kind: ClassVar[str] = "hall.imported"
    before: dict[str, Any]
    after: dict[str, Any]


@record_type
@dataclass(frozen=True)
class LoginUnlocked(AuditRecord):
    """An admin lifted the login waits and lock of an account (``username``) and/or a client
    address (``address_given``; the address itself is not recorded); ``cleared`` rows."""

    kind: ClassVar[str] = "login.unlocked"
    username: str
    address_given: bool
    cleared: int
