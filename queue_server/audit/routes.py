"""Audit routes.

* ``POST /api/audit/identity-checks`` (kiosk, clerk) — a kiosk reports an identity check it
  made (result, score, liveness, method, model; never an image); 201 ``{"id"}``.
* ``GET /api/audit?kind=&limit=&before=`` (admin) — newest records first.
* ``GET /api/audit/head`` (admin, technician) — the chain head to anchor elsewhere.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from queue_server.api.common import actor, body, field, principal, roles
from queue_server.app import get_db
from queue_server.audit import chain
from queue_server.audit.records import IdentityChecked
from queue_server.db import write_tx
from queue_server.errors import ValidationError

bp = Blueprint("audit", __name__)

_METHODS = ("face", "card", "staff")
_RESULTS = ("pass", "fail", "referred")
_LIVENESS = ("pass", "fail", "skipped")


def _json(data: Any, status: int = 200) -> Response:
    resp = jsonify(data)
    resp.status_code = status
    return resp


def _one_of(data: dict[str, Any], name: str, allowed: tuple[str, ...], *, required: bool = False) -> str | None:
    value = field(data, name, str, required=required, max_len=32)
    if value is not None and value not in allowed:
        raise ValidationError("bad_identity_check", what=f"{name} must be one of {', '.join(allowed)}")
    return value


@bp.post("/api/audit/identity-checks")
@roles("kiosk", "clerk")
def identity_check() -> Response:
    """Record an identity check made at a kiosk (no image, no ID number); 201 {"id"}."""
    data = body()
    score = field(data, "score", (int, float))
    threshold = field(data, "threshold", (int, float))
    record = IdentityChecked(
        kiosk=principal().name,
        method=_one_of(data, "method", _METHODS, required=True) or "",
        result=_one_of(data, "result", _RESULTS, required=True) or "",
        purpose=field(data, "purpose", str, max_len=32) or "",
        score=None if score is None else float(score),
        threshold=None if threshold is None else float(threshold),
        liveness=_one_of(data, "liveness", _LIVENESS),
        model=field(data, "model", str, max_len=100),
        model_digest=field(data, "model_digest", str, max_len=128),
        attempts=field(data, "attempts", int) or 1,
        reason_code=field(data, "reason_code", str, max_len=64),
        checked_at=field(data, "checked_at", (int, float)),
        ticket_id=field(data, "ticket_id", int),
        case=field(data, "case", str, max_len=64),
    )
    with write_tx(get_db()) as conn:
        row_id = chain.append(conn, record, actor=actor())
    return _json({"id": row_id}, 201)


@bp.get("/api/audit")
@roles("admin")
def audit_list() -> Response:
    """Newest audit records first: ?kind=identity.checked&limit=100&before=ID (admin)."""
    limit = min(max(request.args.get("limit", 100, type=int) or 100, 1), 1000)
    before = request.args.get("before", type=int)
    return _json({"records": chain.recent(get_db(), kind=request.args.get("kind") or None, limit=limit,
                                          before_id=before)})


@bp.get("/api/audit/head")
@roles("technician")
def audit_head() -> Response:
    """The audit chain head {"id", "hash", "ts"} (technician, admin)."""
    return _json(chain.head(get_db()).as_dict())
