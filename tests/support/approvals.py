"""Helpers for the 秒批 tests: a demo hall with tokens and a role-aware API client, the demo
identities, and the request body of an application."""

from __future__ import annotations

from typing import Any

from queue_server.approvals.demo import IDS, NAMES


def application(item: str, who: str, *, method: str = "face", inputs: dict[str, Any] | None = None,
                **extra: Any) -> dict[str, Any]:
    """The body of ``POST /api/approvals`` for a demo identity (``IDS`` key)."""
    body: dict[str, Any] = {"item": item, "applicant": {"id_number": IDS[who], "name": NAMES[who]},
                            "verification": {"method": method, "score": 0.82}}
    if inputs is not None:
        body["inputs"] = inputs
    body.update(extra)
    return body


class Api:
    """``api.call(method, path, role, json=…)`` against a Flask test client with the demo tokens."""

    def __init__(self, client: Any, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def call(self, method: str, path: str, role: str | None = None, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if role:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return self.client.open(path, method=method, headers=headers, **kw)

    def apply(self, item: str, who: str, role: str = "kiosk", headers: dict[str, str] | None = None,
              **kw: Any) -> Any:
        return self.call("POST", "/api/approvals", role, json=application(item, who, **kw), headers=headers or {})


def counts(db: Any) -> tuple[int, ...]:
    """Rows of every table an application writes (to show that a refused one wrote nothing)."""
    return tuple(db.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in (
        "cases", "approval_cases", "approval_rulesets", "approval_idempotency", "audit", "tickets", "print_jobs",
        "verify_refs"))
