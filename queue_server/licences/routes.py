"""E-licence routes (``docs/licences.md``, ``docs/api.md``). Routes only translate.

* ``GET /api/licences/keys`` (no auth) — the public keys document for offline verifiers.
* ``GET /api/licences/purposes`` (no auth) — the purpose codes tokens carry.
* ``GET /api/licences?id_number=`` (kiosk) — a holder's licences, masked.
* ``POST /api/licences/<id>/present`` (kiosk) — start showing a licence: 201 ``{"qr", "expires_at", …}``.
* ``POST /api/licences/presentations/<id>/token`` (kiosk) — the next rotating token.
* ``POST /api/licences/presentations/<id>/end`` (kiosk) — the citizen left.
* ``POST /api/licences/verify`` (clerk, kiosk, verifier, admin) — check a scanned token.
* ``POST /api/licences/<id>/print`` (kiosk) — print a licence copy (自助打证) with a ``/v/<ref>`` QR.
* ``GET /api/licences/<id>/uses`` (admin) — the 用证 log of one licence.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from queue_server import clock as clk
from queue_server.api.common import actor, body, field, principal, roles
from queue_server.app import get_db
from queue_server.errors import ValidationError
from queue_server.licences import copies, keys, register, showing

bp = Blueprint("licences", __name__)


def _json(data: Any, status: int = 200) -> Response:
    resp = jsonify(data)
    resp.status_code = status
    return resp


def _now() -> float:
    return clk.now(current_app.config.get("CLOCK"))


@bp.get("/api/licences/keys")
def keys_document() -> Response:
    """The public keys that sign e-licence tokens (no auth): {"keys": [{"kid", "alg", "crv", "x", "not_after"?}]}."""
    resp = _json(keys.keys_document(get_db(), now=_now()))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/api/licences/purposes")
def purposes() -> Response:
    """The purpose codes a token carries (no auth): {"purposes": [{"code", "name", "name_en"}]}."""
    return _json({"purposes": showing.purposes()})


@bp.get("/api/licences")
@roles("kiosk")
def holder_licences() -> Response:
    """The licences of a holder: ?id_number= (kiosk, admin); numbers masked."""
    db = get_db()
    id_number = request.args.get("id_number", "")
    return _json(register.for_holder(db, id_number, showing.today(db, _now())))


@bp.post("/api/licences/<int:licence_id>/present")
@roles("kiosk")
def present(licence_id: int) -> Response:
    """Start showing a licence (亮证): {"holder_id_number", "verification": {"method", "score"?}, "purpose"} → 201 {"qr", "expires_at"}."""
    data = body()
    holder = field(data, "holder_id_number", str, required=True, max_len=32)
    verification = field(data, "verification", dict, required=True)
    method = field(verification, "method", str, required=True, max_len=16)
    score = field(verification, "score", (int, float))
    purpose = field(data, "purpose", int, required=True)
    if not register.is_valid_holder_id(holder):
        raise ValidationError("bad_id_number")
    out = showing.present(get_db(), licence_id, holder_id_number=holder, method=method,
                          score=None if score is None else float(score), purpose=purpose, kiosk=actor(), now=_now())
    return _json(out, 201)


@bp.post("/api/licences/presentations/<int:presentation_id>/token")
@roles("kiosk")
def next_token(presentation_id: int) -> Response:
    """The next rotating token of a presentation this kiosk started → 201 {"qr", "expires_at"}."""
    return _json(showing.refresh(get_db(), presentation_id, kiosk=actor(), now=_now()), 201)


@bp.post("/api/licences/presentations/<int:presentation_id>/end")
@roles("kiosk")
def end(presentation_id: int) -> Response:
    """End a presentation (the citizen left, or the kiosk went idle)."""
    return _json(showing.end(get_db(), presentation_id, kiosk=actor(), now=_now()))


@bp.post("/api/licences/verify")
@roles("clerk", "kiosk", "verifier")
def verify() -> Response:
    """Check a scanned e-licence token: {"qr", "purpose"?} → {"valid", "reason", "licence"?, "first_verified"?}.
    A scan of any length is answered (too long to be a token: ``bad_format``); the request body
    itself is bounded by ``MAX_CONTENT_LENGTH`` (413)."""
    data = body()
    qr = field(data, "qr", str, required=True)
    purpose = field(data, "purpose", int)
    db = get_db()
    p = principal()
    who = showing.verifier_for(db, actor=actor(), role=p.role, token_name=p.name, user_id=p.user_id,
                               user_name=p.user_name)
    return _json(showing.verify(db, qr, verifier=who, purpose=purpose, now=_now()))


@bp.post("/api/licences/<int:licence_id>/print")
@roles("kiosk")
def print_copy(licence_id: int) -> Response:
    """Print a licence copy (自助打证): {"holder_id_number", "verification", "printer"?} → 201 {"case", "ref", "url", "print"}."""
    data = body()
    holder = field(data, "holder_id_number", str, required=True, max_len=32)
    verification = field(data, "verification", dict, required=True)
    method = field(verification, "method", str, required=True, max_len=16)
    printer = field(data, "printer", str, max_len=40)
    if not register.is_valid_holder_id(holder):
        raise ValidationError("bad_id_number")
    out = copies.print_copy(get_db(), licence_id, holder_id_number=holder, method=method, kiosk=actor(),
                            printer=printer, base_url=request.host_url, now=_now())
    return _json(out, 201)


@bp.get("/api/licences/<int:licence_id>/uses")
@roles("admin")
def uses(licence_id: int) -> Response:
    """The 用证 log of a licence (admin): every check, newest first."""
    db = get_db()
    register.get_row(db, licence_id)
    limit = min(max(request.args.get("limit", 50, type=int) or 50, 1), 500)
    return _json({"uses": showing.checks(db, licence_id, limit=limit)})
