"""The OpenAPI 3 document at ``/api/openapi.json``.

The queue API's operations are described here in detail. Any other ``/api`` route in the
app (the display stream, printers, …) is added from the URL map with its view's
docstring as summary, so the document always lists every path the server answers.

Every status the server can answer is documented (``tests/test_api_fuzz.py`` fuzzes the
document with schemathesis and fails on any status or body it does not describe):

* the rules that hold for every route are added in one place, :func:`_common_responses`:
  401 without a valid token (not on public operations), 413 for an oversized body (every
  operation that takes one), 503 for a storage fault (full disk, read-only database, lock
  held elsewhere — ``queue_server/api/errors.py`` answers it for every route);
* a route added from the URL map gets its path parameters from the URL converters
  (``<int:x>`` → an integer, bounded to SQLite's int64 by :mod:`queue_server.api.common`,
  so a larger one is a 404 like any id that does not exist), the error statuses any
  capability route answers (:data:`AUTO_ERRORS`) and its success status from
  :data:`AUTO_SUCCESS` (default 200).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

_ERR = {"$ref": "#/components/responses/Error"}
_TICKET = {"$ref": "#/components/schemas/Ticket"}
_APPOINTMENT = {"$ref": "#/components/schemas/Appointment"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741
N = {"type": "number"}
B = {"type": "boolean"}


def _op(summary: str, roles: str, *, ok: Any = None, status: str = "200", req: Any = None,
        errors: tuple[int, ...] = (401, 403, 404), public: bool = False, extra: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "description": f"Roles: {roles}."}
    if public:
        op["security"] = []
    if req is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": req}}}
    responses: dict[str, Any] = {status: {"description": "OK"}}
    if ok is not None:
        responses[status]["content"] = {"application/json": {"schema": ok}}
    for code in errors:
        responses[str(code)] = _ERR
    if extra:
        responses.update(extra)
    op["responses"] = responses
    if params:
        op["parameters"] = params
    return op


#: Error statuses a capability route added from the URL map may answer: bad JSON (400),
#: role (403), unknown id (404), state conflict (409), invalid field (422).
AUTO_ERRORS = (400, 403, 404, 409, 422)

#: Success status of the capability routes that do not answer 200 (endpoint → status).
AUTO_SUCCESS: dict[str, str] = {
    "admin.create_category": "201", "admin.create_service": "201", "admin.create_window": "201",
    "admin.create_user": "201", "admin.create_token": "201", "admin.book_appointment": "201",
    "admin.make_report": "201", "audit.identity_check": "201", "approvals.apply": "201",
    "licences.present": "201", "licences.next_token": "201", "licences.print_copy": "201",
    "evaluations.create_evaluation": "201", "evaluations.calendar_add": "201", "printing.reprint": "202", "printing.test_print": "202",
    "devices.queue_action": "202",
}

#: Responses that are not JSON (endpoint → media type).
AUTO_MEDIA: dict[str, str] = {
    "displays.events": "text/event-stream",
}


def _path_param(name: str, kind: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": kind}


TICKET_ID = [_path_param("ticket_id", I)]
IDEMPOTENCY = [{"name": "Idempotency-Key", "in": "header", "required": False, "schema": S,
                "description": "Retry key (≤100 chars, per token): a repeat returns the first ticket"}]
WINDOW_NO = [_path_param("number", I)]
STAFF = "clerk (at the windows they have open; docs/security.md), admin"

PATHS: dict[str, dict[str, Any]] = {
    "/api/health": {"get": _op("Liveness check", "none", ok=_obj({"ok": B, "storage": {"type": "object"}}),
                               public=True, errors=(), extra={"503": {
                                   "description": "A storage fault (ok false, storage says which)",
                                   "content": {"application/json": {"schema": _obj({"ok": B, "storage": {
                                       "type": "object"}})}}}})},
    "/api/openapi.json": {"get": _op("This document", "none", public=True, errors=())},
    "/api/categories": {"get": _op("Service categories (业务类别)", "any",
                                   ok={"type": "array", "items": _obj({"code": S, "name": S, "name_en": S,
                                                                        "prefix": S})})},
    "/api/services": {"get": _op("Active services (事项)", "any",
                                 ok={"type": "array", "items": {"$ref": "#/components/schemas/Service"}})},
    "/api/windows": {"get": _op("Windows and their status", "any",
                                ok={"type": "array", "items": {"$ref": "#/components/schemas/Window"}})},
    "/api/state": {"get": _op("Hall state for displays (also the SSE snapshot)", "any",
                              ok={"$ref": "#/components/schemas/State"})},
    "/api/tickets": {
        "post": _op(
            "Issue a ticket (取号)", "kiosk, clerk, admin", status="201", ok=_TICKET,
            req=_obj({"service": S, "id_number": S, "priority": {"type": "string",
                      "enum": ["elderly", "disabled", "military", "green"]}, "appointment": S,
                      "referral_reason": S, "print": B, "printer": S, "accept_ordinary": B}, ["service"]),
            errors=(400, 401, 403, 404, 409, 413, 422), params=IDEMPOTENCY,
        ),
        "get": _op("Today's ticket by number (?number=A012)", "any", ok=_TICKET, errors=(401, 404, 422),
                   params=[{"name": "number", "in": "query", "required": True, "schema": S}]),
    },
    "/api/tickets/{ticket_id}": {"get": _op("One ticket with people ahead and wait estimate", "any",
                                            ok=_TICKET, params=TICKET_ID)},
    "/api/tickets/{ticket_id}/recall": {"post": _op(
        "Recall (重呼) a called ticket or a recent no-show", STAFF, ok=_TICKET, params=TICKET_ID,
        req=_obj({"window": I}), errors=(401, 403, 404, 409))},
    "/api/tickets/{ticket_id}/start": {"post": _op("Start serving: called → serving", STAFF, ok=_TICKET,
                                                   params=TICKET_ID, errors=(401, 403, 404, 409))},
    "/api/tickets/{ticket_id}/finish": {"post": _op("Finish (办结): serving/called → done", STAFF, ok=_TICKET,
                                                    params=TICKET_ID, errors=(401, 403, 404, 409))},
    "/api/tickets/{ticket_id}/no-show": {"post": _op("No-show (过号): called → no_show", STAFF, ok=_TICKET,
                                                     params=TICKET_ID, errors=(401, 403, 404, 409))},
    "/api/tickets/{ticket_id}/cancel": {"post": _op(
        "Cancel a waiting, called or no-show ticket; a waiting ticket not for one of the caller's windows needs "
        "a reason (audited)", STAFF, ok=_TICKET, params=TICKET_ID, req=_obj({"reason": S}),
        errors=(401, 403, 404, 409, 422))},
    "/api/tickets/{ticket_id}/transfer": {"post": _op(
        "Transfer (转窗/转办) to a window and/or service; keeps number and issue time", STAFF, ok=_TICKET,
        params=TICKET_ID, req=_obj({"window": I, "service": S, "note": S}),
        errors=(400, 401, 403, 404, 409, 422))},
    "/api/windows/{number}/call-next": {"post": _op(
        "Call the next ticket (叫号); 409 just_called within call_repeat_guard_seconds of the last call "
        "unless confirm is true", STAFF, ok=_TICKET, params=WINDOW_NO, req=_obj({"confirm": B}),
        errors=(400, 401, 403, 404, 409, 422),
        extra={"204": {"description": "Nobody waits for this window"}})},
    "/api/windows/{number}/call": {"post": _op(
        "特呼: call one waiting ticket (or a recallable no-show) out of order; audited", STAFF, ok=_TICKET,
        params=WINDOW_NO, req=_obj({"number": S, "reason": S}, ["number"]),
        errors=(400, 401, 403, 404, 409, 422))},
    "/api/windows/{number}/no-shows": {"get": _op(
        "Today's 过号 tickets of the window, newest first, with recallable / not_recallable", STAFF,
        ok={"type": "array", "items": {"allOf": [_TICKET, _obj({
            "recallable": B, "not_recallable": {"type": "string", "nullable": True,
                                                "enum": ["too_old", "not_among_last", None]}})]}},
        params=WINDOW_NO, errors=(401, 403, 404))},
    "/api/windows/{number}/queue": {"get": _op("Waiting tickets in call-next order", STAFF,
                                               ok={"type": "array", "items": _TICKET}, params=WINDOW_NO)},
    "/api/windows/{number}/open": {"post": _op("Open the window (clerk signs in)", STAFF,
                                               ok={"$ref": "#/components/schemas/Window"}, params=WINDOW_NO,
                                               errors=(401, 403, 404, 409))},
    "/api/windows/{number}/pause": {"post": _op("Pause (暂停服务) with a reason", STAFF,
                                                ok={"$ref": "#/components/schemas/Window"}, params=WINDOW_NO,
                                                req=_obj({"reason": S}, ["reason"]),
                                                errors=(400, 401, 403, 404, 409, 422))},
    "/api/windows/{number}/resume": {"post": _op("Resume a paused window", STAFF,
                                                 ok={"$ref": "#/components/schemas/Window"}, params=WINDOW_NO,
                                                 errors=(401, 403, 404, 409))},
    "/api/windows/{number}/close": {"post": _op("Close the window (clerk signs out)", STAFF,
                                                ok={"$ref": "#/components/schemas/Window"}, params=WINDOW_NO)},
    "/api/appointments/check-in": {"post": _op(
        "Appointment check-in (预约签到) by code or ID number → ticket", "kiosk, clerk, admin", status="201",
        ok=_TICKET, req=_obj({"code": S, "id_number": S, "accept_ordinary": B}), errors=(400, 401, 403, 404, 409, 422),
        params=IDEMPOTENCY)},
    "/api/appointments": {
        "post": _op(
            "Book an appointment from the booking platform (201; the same body again 200, another 409)",
            "booking, admin", status="201", ok=_APPOINTMENT,
            req=_obj({"code": S, "service": S, "date": S, "slot_start": S, "slot_end": S,
                      "id_number": {"type": "string", "nullable": True}, "name": {"type": "string", "nullable": True}},
                     ["code", "service", "date", "slot_start", "slot_end"]),
            errors=(400, 401, 403, 409, 422), extra={"200": {"description": "The same body was booked before", "content": {
                "application/json": {"schema": _APPOINTMENT}}}}),
        "get": _op("Every appointment of a day (?date=YYYY-MM-DD, default today), cancelled ones included",
                   "booking, clerk, admin", errors=(401, 403, 422),
                   ok=_obj({"date": S, "appointments": {"type": "array", "items": _APPOINTMENT}}),
                   params=[{"name": "date", "in": "query", "required": False, "schema": S}]),
    },
    "/api/appointments/{code}": {"delete": _op(
        "Cancel an appointment (a later check-in: 409 appointment_cancelled)", "booking, admin", ok=_APPOINTMENT,
        params=[_path_param("code", S)], errors=(401, 403, 404, 409))},
    "/api/prefixes": {"get": _op("Every letter a ticket number can start with (the kiosk's progress keypad)", "any",
                                 ok=_obj({"prefixes": {"type": "array", "items": S}}))},
    "/api/progress/{code}": {"get": _op(
        "Public ticket progress (the ticket's QR); no personal data", "none", public=True,
        params=[_path_param("code", S)], errors=(404, 422),
        ok=_obj({"number": S, "service": S, "service_name": S, "status": S, "waiting_ahead": I,
                 "estimated_wait_minutes": I, "window": I, "window_name": S}))},
    "/api/notice": {"put": _op("Set the hall notice line", "admin", req=_obj({"notice": S}, ["notice"]),
                               ok=_obj({"notice": S}), errors=(400, 401, 403, 422))},
    "/api/settings": {"get": _op("Hall settings with defaults and help", "admin")},
    "/api/settings/{name}": {"put": _op("Change a hall setting", "admin", req=_obj({"value": {}}, ["value"]),
                                        params=[_path_param("name", S)], errors=(400, 401, 403, 422))},
    "/api/login": {"post": _op(
        "Log in with username + password → session token", "none", public=True,
        req=_obj({"username": S, "password": S}, ["username", "password"]), errors=(400, 401, 422, 429, 503),
        ok=_obj({"token": S, "expires_at": N, "user": _obj({"id": I, "username": S, "name": S,
                                                            "staff_no": S, "role": S})}))},
    "/api/logout": {"post": _op("Revoke the session token", "any", ok=_obj({"ok": B}), errors=(401,))},
    "/api/me": {"get": _op("Who am I", "any", errors=(401,),
                           ok=_obj({"role": S, "name": S, "user": {"type": "object", "nullable": True}}))},
}

SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": _obj({"code": S, "message": S, "message_en": S, "details": {"type": "object"}},
                                 ["code", "message"])}, ["error"]),
    "Service": _obj({"code": S, "name": S, "name_en": S, "category": S, "category_name": S, "prefix": S,
                     "self_service": B, "daily_limit_per_id": {"type": "integer", "nullable": True},
                     "id_required": B}),
    "Window": _obj({"number": I, "name": S, "services": {"type": "array", "items": S}, "status": {
        "type": "string", "enum": ["open", "paused", "closed"]}, "pause_reason": {"type": "string", "nullable": True}, "kind": S}),
    "Ticket": _obj({
        "id": I, "number": S, "service": S, "service_name": S, "category": S,
        "status": {"type": "string", "enum": ["waiting", "called", "serving", "done", "no_show", "cancelled",
                                              "expired"]},
        "priority": {"type": "string", "nullable": True}, "waiting_ahead": I, "estimated_wait_minutes": I,
        "issued_at": N, "progress_code": S, "window": {"type": "integer", "nullable": True},
        "referral_reason": {"type": "string", "nullable": True}, "id_masked": {"type": "string", "nullable": True},
        "appointment": {"type": "object", "nullable": True},
        "print": _obj({"status": {"type": "string", "enum": ["queued", "not_configured", "error"]}, "job_id": I}),
        "receipt": {"type": "object", "description": "POST /api/tickets and check-in: what the printed "
                    "ticket says (number, hall_name, service_name, people_ahead, wait_minutes, issued_at, "
                    "tip, progress_url, …); a kiosk prints exactly this"},
    }, ["id", "number", "service", "status", "waiting_ahead", "estimated_wait_minutes", "issued_at"]),
    "Appointment": _obj({
        "code": S, "service": S, "service_name": S, "date": S, "slot_start": S, "slot_end": S,
        "status": {"type": "string", "enum": ["booked", "checked_in", "cancelled", "expired"]},
        "id_masked": {"type": "string", "nullable": True}, "name_masked": {"type": "string", "nullable": True},
        "ticket_number": {"type": "string", "nullable": True}, "created_at": N,
    }, ["code", "service", "date", "slot_start", "slot_end", "status"]),
    "State": _obj({"hall": {"type": "object"}, "windows": {"type": "array", "items": {"type": "object"}},
                   "recent_calls": {"type": "array", "items": {"type": "object"}},
                   "waiting": {"type": "array", "items": {"type": "object"}}, "last_event_id": I}),
}


def openapi_path(rule: str) -> str:
    """``/api/tickets/<int:ticket_id>`` → ``/api/tickets/{ticket_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


_BODY_METHODS = ("post", "put", "patch")


def _rule_params(rule: Any) -> list[dict[str, Any]]:
    """Path parameters of a URL rule, typed from its converters."""
    out = []
    for name, conv in sorted(rule._converters.items()):
        kind = {"type": "integer", "minimum": 0} if type(conv).__name__.lower().startswith("int") else S
        out.append(_path_param(name, kind))
    return out


def _auto_op(app: Flask, rule: Any, method: str) -> dict[str, Any]:
    view = app.view_functions.get(rule.endpoint)
    doc = (view.__doc__ or rule.endpoint).strip().splitlines()[0] if view else rule.endpoint
    ok: dict[str, Any] = {"description": "OK"}
    media = AUTO_MEDIA.get(rule.endpoint)
    if media:
        ok["content"] = {media: {"schema": S}}
    responses: dict[str, Any] = {AUTO_SUCCESS.get(rule.endpoint, "200"): ok}
    for code in AUTO_ERRORS:
        responses[str(code)] = _ERR
    op: dict[str, Any] = {"summary": doc, "responses": responses}
    params = _rule_params(rule)
    if params:
        op["parameters"] = params
    return op


def _common_responses(op: dict[str, Any], method: str) -> dict[str, Any]:
    """The statuses every route answers by the server-wide rules (see the module doc)."""
    op = dict(op)
    responses = dict(op["responses"])
    if op.get("security") != []:
        responses.setdefault("401", _ERR)
    if method in _BODY_METHODS:
        responses.setdefault("413", _ERR)
    responses.setdefault("503", _ERR)
    op["responses"] = responses
    return op


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3 document of ``app``: :data:`PATHS` plus every other ``/api`` route."""
    paths: dict[str, dict[str, Any]] = {k: dict(v) for k, v in PATHS.items()}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method.lower() not in paths.get(path, {}):
                paths.setdefault(path, {})[method.lower()] = _auto_op(app, rule, method)
    paths = {path: {m: _common_responses(op, m) for m, op in ops.items()} for path, ops in paths.items()}
    return {
        "openapi": "3.0.3",
        "info": {"title": "一窗通 Yichuang queue server", "version": "1",
                 "description": "JSON API of the hall's queue server. Errors: {\"error\": {\"code\", \"message\"}}."},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
            "responses": {"Error": {"description": "Error", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
    }
