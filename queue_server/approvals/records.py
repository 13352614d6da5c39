"""The audit record kinds of 秒批 (``docs/audit.md`` lists them).

A decision record is complete on its own (Guangdong's rule: electronic data produced during
approval is accepted in later handling and audits): which rule set (version and content
hash, stored once under the hash), the application date, every rule's result and code with
the source of each fact it used, the parameters in force, a reference to what each source
said (which source, adapter, when, status, keyed digest — never the data), the decision and
who made it, the kiosk and the verification method. No name, ID number, ID hash or image.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from queue_server.audit.records import AuditRecord, record_type


@record_type
@dataclass(frozen=True)
class ApprovalDecided(AuditRecord):
    """The engine decided an approval case (``approved`` or ``referred``, never a refusal).
    ``rules``: ``[{rule, result, code, facts: {fact: source}, missing?, error?}]``;
    ``sources``: ``[{source, adapter, at, status, digest}]`` where ``digest`` is a keyed
    HMAC of the facts that source gave (the applicant, inputs and settings count as sources
    too), so the facts stored with the case can be checked against this record."""

    kind: ClassVar[str] = "approval.decided"
    case: str
    item: str
    ruleset_version: str
    ruleset_hash: str
    application_date: str
    rules: list[dict[str, Any]]
    parameters: dict[str, Any]
    sources: list[dict[str, Any]]
    decision: str
    decided_by: str
    kiosk: str
    verification_method: str
    verification_score: float | None = None
    licence: str | None = None
    """Approved, for an item whose result is a licence: the GB/T 36904 identifier issued."""

    def data(self) -> dict[str, Any]:
        # the fields are plain JSON values already: no deep copy (asdict) needed on the hot path
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["licence"] is None:
            del out["licence"]  # records of items without a licence read as before
        return out


@record_type
@dataclass(frozen=True)
class ApprovalHumanDecided(AuditRecord):
    """A member of staff decided a referred case by hand: ``approved``, or ``rejected`` with
    a written note (the actor is ``user:<id>``). The note may name the citizen, so the
    record keeps its keyed digest ``note_digest`` (:func:`queue_server.idkey.text_digest`;
    None without a note); the text is in ``approval_cases.staff_note`` until it is purged."""

    kind: ClassVar[str] = "approval.human_decided"
    case: str
    item: str
    decision: str
    note_digest: str | None
    engine_decision: str
    ruleset_hash: str
    licence: str | None = None
    """Approved, for an item whose result is a licence: the identifier issued."""

    def data(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["licence"] is None:
            del out["licence"]
        return out
