"""Audit record kinds of the e-licence capability (listed in ``docs/audit.md``).

They carry licence ids, purposes, verifier identity and results — never a holder's name,
ID number or licence number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from queue_server.audit.records import AuditRecord, record_type


@record_type
@dataclass(frozen=True)
class LicenceIssued(AuditRecord):
    """A licence (version) entered the register: loaded from a file or issued by a 秒批
    approval. ``supersedes`` is the id of the version it replaced."""

    kind: ClassVar[str] = "licence.issued"
    licence_id: int
    type_code: str
    version: int
    source: str
    case: str | None = None
    supersedes: int | None = None


@record_type
@dataclass(frozen=True)
class LicenceRevoked(AuditRecord):
    """A licence was revoked (吊销/注销); ``reason`` is the staff's short reason."""

    kind: ClassVar[str] = "licence.revoked"
    licence_id: int
    reason: str


@record_type
@dataclass(frozen=True)
class LicencePresented(AuditRecord):
    """A holder started showing a licence (亮证) at a kiosk after a face or staff check."""

    kind: ClassVar[str] = "licence.presented"
    licence_id: int
    presentation_id: int
    purpose: int
    method: str
    kiosk: str
    case: str | None = None
    score: float | None = None


@record_type
@dataclass(frozen=True)
class LicenceVerified(AuditRecord):
    """A token was checked (the 用证 log): who checked (``verifier`` actor, ``role``, window),
    for which purpose, with which result (a reason code of ``POST /api/licences/verify``).
    ``issuer_hall`` is the hall (its code at the city hub) whose key signed a token of
    another hall, found through the city's trust list."""

    kind: ClassVar[str] = "licence.verified"
    result: str
    verifier: str
    role: str
    licence_id: int | None = None
    presentation_id: int | None = None
    purpose: int | None = None
    purpose_asked: int | None = None
    window: int | None = None
    issuer_hall: str | None = None


@record_type
@dataclass(frozen=True)
class LicencePrinted(AuditRecord):
    """A licence copy was printed at a kiosk (自助打证) with an online check reference."""

    kind: ClassVar[str] = "licence.printed"
    licence_id: int
    kiosk: str
    case: str
    job_id: int | None = None


@record_type
@dataclass(frozen=True)
class LicenceKeyRotated(AuditRecord):
    """A new signing key became current; the previous one verifies until ``not_after``."""

    kind: ClassVar[str] = "licence.key_rotated"
    kid: str
    alg: str
    retired_kid: str | None = None
    not_after: float | None = None


@record_type
@dataclass(frozen=True)
class LicenceTrustApplied(AuditRecord):
    """The city hub's licence trust list was applied: other halls' public keys are trusted for
    verifying (never for signing) and their revocations known, as of ``generated_at``."""

    kind: ClassVar[str] = "licence.trust_applied"
    content_hash: str
    generated_at: float
    halls: int
    keys: int
    revoked: int
