"""HTTP client of the queue server, as the kiosk uses it.

Every call has a timeout; every failure becomes a :mod:`kiosk.errors` exception:
connection problems, timeouts and 5xx → :class:`ServerUnavailable` (retryable);
401/403 → :class:`AuthFailed`; 404 → :class:`NotFound`; other 4xx → :class:`ServerRejected`
carrying the server's stable error code. No Kivy here: the screens call it from a worker
thread (see ``kiosk.screens.base.run_in_background``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from kiosk.errors import AuthFailed, NotFound, ServerRejected, ServerUnavailable


@dataclass(frozen=True)
class Service:
    """A 事项 as the kiosk lists it."""

    code: str
    name: str
    category: str
    prefix: str
    name_en: str = ""
    category_name: str = ""
    category_name_en: str = ""
    self_service: bool = False
    id_required: bool = False

    def label(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Service:
        return cls(
            code=str(d["code"]), name=str(d["name"]), category=str(d.get("category", "")),
            prefix=str(d.get("prefix", "")), name_en=str(d.get("name_en") or ""),
            category_name=str(d.get("category_name") or ""),
            category_name_en=str(d.get("category_name_en") or ""),
            self_service=bool(d.get("self_service", False)),
            id_required=d.get("daily_limit_per_id") is not None or bool(d.get("id_required")),
        )


@dataclass(frozen=True)
class Ticket:
    """A ticket as the server returns it (POST /api/tickets, check-in, progress)."""

    id: int
    number: str
    service: str
    status: str
    waiting_ahead: int | None
    estimated_wait_minutes: float | None
    issued_at: float | None
    progress_code: str
    service_name: str = ""
    service_name_en: str = ""
    window: int | None = None
    window_name: str = ""
    #: What the paper ticket says, as the server built it (``TicketData`` as a dict; POST
    #: /api/tickets and check-in answers): the kiosk prints exactly this. None: not given.
    receipt: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Ticket:
        svc = d.get("service")
        if isinstance(svc, dict):  # tolerate {"code","name"} as well as a bare code
            service, sname, sname_en = str(svc.get("code", "")), str(svc.get("name", "")), str(
                svc.get("name_en") or "")
        else:
            service = str(svc or d.get("service_code") or "")
            sname = str(d.get("service_name") or "")
            sname_en = str(d.get("service_name_en") or "")
        wait = d.get("estimated_wait_minutes")
        ahead = d.get("waiting_ahead")
        win = d.get("window")
        if isinstance(win, dict):
            window, window_name = win.get("number"), str(win.get("name") or "")
        else:
            window, window_name = win, str(d.get("window_name") or "")
        return cls(
            id=int(d.get("id") or d.get("ticket_id") or 0), number=str(d["number"]),
            service=service, status=str(d.get("status", "waiting")),
            waiting_ahead=None if ahead is None else int(ahead),
            estimated_wait_minutes=None if wait is None else float(wait),
            issued_at=d.get("issued_at"), progress_code=str(d.get("progress_code") or ""),
            service_name=sname, service_name_en=sname_en,
            window=None if window is None else int(window), window_name=window_name,
            receipt=d["receipt"] if isinstance(d.get("receipt"), dict) else None, raw=d,
        )


class QueueClient:
    """The queue server's JSON API with the kiosk's bearer token."""

    def __init__(self, base_url: str, token: str = "", timeout: float = 4.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        self.http.headers["Accept"] = "application/json"
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    # -- reads ---------------------------------------------------------------------------
    def services(self) -> list[Service]:
        data = self._request("GET", "/api/services")
        items = data.get("services", data) if isinstance(data, dict) else data
        return [Service.from_json(d) for d in items]

    def categories(self) -> list[dict[str, Any]]:
        """Categories with names, if the server lists them (``GET /api/categories``)."""
        try:
            data = self._request("GET", "/api/categories")
        except NotFound:
            return []
        return list(data.get("categories", data) if isinstance(data, dict) else data)

    def windows(self) -> list[dict[str, Any]]:
        data = self._request("GET", "/api/windows")
        return list(data.get("windows", data) if isinstance(data, dict) else data)

    def ticket_by_number(self, number: str) -> Ticket:
        data = self._request("GET", "/api/tickets", params={"number": number.upper()})
        items = data.get("tickets", data) if isinstance(data, dict) else data
        if isinstance(items, dict):
            return Ticket.from_json(items)
        if not items:
            raise NotFound("ticket_not_found", f"no ticket {number}", 404)
        return Ticket.from_json(items[-1])

    def progress(self, progress_code: str) -> Ticket:
        data = self._request("GET", f"/api/progress/{progress_code}")
        return Ticket.from_json(data.get("ticket", data))

    def hours(self) -> dict[str, Any]:
        """Opening hours now (``GET /api/hours``): ``open_now``, ``issuing``, ``closed_reason``,
        ``next_opening`` (``{"at", "day", "time", "text", "open_now"}`` or None) …"""
        return dict(self._request("GET", "/api/hours"))

    def prefixes(self) -> list[str]:
        """Every letter a ticket number of the hall can start with (``GET /api/prefixes``)."""
        data = self._request("GET", "/api/prefixes")
        return [str(p) for p in (data.get("prefixes") or [])] if isinstance(data, dict) else []

    # -- writes --------------------------------------------------------------------------
    def issue_ticket(self, service: str, *, id_number: str | None = None,
                     priority: str | None = None, referral_reason: str | None = None,
                     idempotency_key: str | None = None) -> Ticket:
        """Issue a ticket. The kiosk prints on its own printer, so ``print`` is false.

        ``idempotency_key`` is sent as ``Idempotency-Key``: a retry after a timeout with
        the same key must not create a second ticket on a server that honours it.
        """
        body: dict[str, Any] = {"service": service, "print": False}
        if id_number:
            body["id_number"] = id_number
        if priority:
            body["priority"] = priority
        if referral_reason:
            body["referral_reason"] = referral_reason
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        return Ticket.from_json(self._request("POST", "/api/tickets", json=body,
                                              headers=headers))

    def check_in(self, *, code: str | None = None, id_number: str | None = None,
                 idempotency_key: str | None = None, accept_ordinary: bool = False) -> Ticket:
        """预约签到 by code or ID number. A missed slot is :class:`ServerRejected`
        ``appointment_late`` (``details``: slot, minutes_late, service, service_name) unless
        ``accept_ordinary`` (the citizen chose the ordinary ticket of the same service)."""
        body: dict[str, Any] = {"print": False}
        if code:
            body["code"] = code
        if id_number:
            body["id_number"] = id_number
        if accept_ordinary:
            body["accept_ordinary"] = True
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        data = self._request("POST", "/api/appointments/check-in", json=body, headers=headers)
        return Ticket.from_json(data.get("ticket", data))

    def post_identity_check(self, record: dict[str, Any]) -> int:
        """Report an identity check made at this kiosk to the server's audit trail
        (``POST /api/audit/identity-checks``); returns the audit row id. ``record``: method,
        result, purpose, reason_code, liveness, attempts, checked_at and, when known, score,
        threshold, model, model_digest — never an image or an ID number."""
        data = self._request("POST", "/api/audit/identity-checks", json=record)
        return int(data.get("id") or 0) if isinstance(data, dict) else 0
    # -- 好差评 ---------------------------------------------------------------------------
    def evaluation_reasons(self) -> dict[str, Any]:
        """The current 差评 reason list: ``{"version", "reasons": [{"code", "name", "name_en"}]}``."""
        return dict(self._request("GET", "/api/evaluations/reasons"))

    def evaluate(self, *, level: int, case: str | None = None, ticket: int | None = None,
                 reasons: list[str] | None = None, comment: str | None = None,
                 evaluator: str | None = None) -> dict[str, Any]:
        """Rate a kiosk case (or a finished ticket) on channel ``kiosk``; the server's
        ``{"id", "level", "count", "rectification"?}``."""
        body: dict[str, Any] = {"level": level, "channel": "kiosk"}
        if case is not None:
            body["case"] = case
        if ticket is not None:
            body["ticket"] = ticket
        if reasons:
            body["reasons"] = reasons
        if comment:
            body["comment"] = comment
        if evaluator:
            body["evaluator"] = evaluator
        return dict(self._request("POST", "/api/evaluations", json=body))

    # -- 秒批 -----------------------------------------------------------------------------
    def approval_items(self) -> list[dict[str, Any]]:
        """The 秒批 items with their inputs (``GET /api/approvals/items``)."""
        return list(self._request("GET", "/api/approvals/items"))

    def apply_approval(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Apply for an item (``POST /api/approvals``): the decision, with the certificate
        or the referral ticket. The key makes a retry after a timeout return the same case."""
        return dict(self._request("POST", "/api/approvals", json=body,
                                  headers={"Idempotency-Key": idempotency_key}))

    def print_job(self, job_id: int) -> dict[str, Any]:
        """One server print job's state (``GET /api/print-jobs/<id>``)."""
        return dict(self._request("GET", f"/api/print-jobs/{job_id}"))

    # -- device health (the device watcher, yichuang-kiosk doctor) -------------------------
    def me(self) -> dict[str, Any]:
        """Who the token is: ``{"role", "name", …}`` (``GET /api/me``)."""
        return dict(self._request("GET", "/api/me"))

    def heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/devices/heartbeat``; the answer carries the queued ``actions``."""
        return dict(self._request("POST", "/api/devices/heartbeat", json=body))

    def post_action_result(self, name: str, action_id: int, ok: bool, detail: str) -> dict[str, Any]:
        """The result of a test action the server handed out with a heartbeat."""
        from urllib.parse import quote

        return dict(self._request("POST", f"/api/devices/{quote(name, safe='')}/actions/{int(action_id)}/result",
                                  json={"ok": ok, "detail": detail[:500]}))

    # -- plumbing ------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base_url + path
        try:
            resp = self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            raise ServerUnavailable(f"{method} {path}: timeout after {self.timeout}s") from exc
        except requests.RequestException as exc:
            raise ServerUnavailable(f"{method} {path}: {exc.__class__.__name__}") from exc
        if resp.status_code >= 500:
            raise ServerUnavailable(f"{method} {path}: HTTP {resp.status_code}")
        try:
            data = resp.json() if resp.content else {}
        except ValueError as exc:
            if resp.ok:
                raise ServerUnavailable(f"{method} {path}: response is not JSON") from exc
            data = {}
        if resp.ok:
            return data
        err = data.get("error", {}) if isinstance(data, dict) else {}
        code = str(err.get("code") or f"http_{resp.status_code}")
        message = str(err.get("message") or "")
        message_en = str(err.get("message_en") or "")
        advice = (str(err.get("advice") or ""), str(err.get("advice_en") or ""))
        if resp.status_code in (401, 403):
            raise AuthFailed(code, message, resp.status_code, message_en)
        details = err.get("details") if isinstance(err.get("details"), dict) else None
        if resp.status_code == 404:
            raise NotFound(code, message, resp.status_code, message_en, *advice, details=details)
        raise ServerRejected(code, message, resp.status_code, message_en, *advice, details=details)
