"""The API, fuzzed: every operation of ``/api/openapi.json``, called by schemathesis with
generated paths, queries and bodies (integers of any size, strings of any shape) as admin,
clerk and kiosk, must answer what the document says: never a 5xx, never an undocumented
status, never a body that does not match its schema.

Bounded for CI: ``FUZZ_EXAMPLES`` examples per operation and role (env
``YICHUANG_FUZZ_EXAMPLES`` raises it for a deeper run), in-process (the WSGI app, no
server), the event stream left out (it never ends; ``tests/test_display.py`` owns it).
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis import checks as st_checks  # noqa: E402

from queue_server import create_app  # noqa: E402
from queue_server.auth import create_token  # noqa: E402
from queue_server.demo import make_hall  # noqa: E402

FUZZ_EXAMPLES = int(os.environ.get("YICHUANG_FUZZ_EXAMPLES", "4"))
ROLES = ("admin", "clerk", "kiosk")
CHECKS = [st_checks.not_a_server_error, st_checks.status_code_conformance,
          st_checks.response_schema_conformance, st_checks.content_type_conformance]
#: Operations the fuzz leaves out: the endless event stream, and logging our own token out.
SKIP = {"GET /api/events", "POST /api/logout"}


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    from queue_server.migrations import open_db

    path = tmp_path_factory.mktemp("fuzz") / "hall.db"
    db = open_db(path)
    made = make_hall(db, tokens=True, appointments=4)
    app = create_app({"DB_PATH": str(path), "TESTING": True})
    yield app, made["tokens"], path
    db.conn.close()
    # close the request connections the app's thread opened
    from queue_server import app as app_module

    for conn in getattr(app_module._local, "conns", {}).values():
        conn.conn.close()
    app_module._local.conns = {}


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented(hall, role):
    app, tokens, path = hall
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    token = {"value": tokens[role]}
    failures: list[str] = []
    ran = {"examples": 0, "operations": 0}
    t0 = time.perf_counter()

    def fresh_token() -> None:
        """A fuzzed call may revoke our token (POST /api/admin/tokens/{id}/revoke): get another."""
        from queue_server.db import connect

        db = connect(path)
        try:
            token["value"] = create_token(db, role, f"fuzz-{role}")
        finally:
            db.conn.close()

    for result in schema.get_all_operations():
        op = result.ok()
        if op.label in SKIP:
            continue
        ran["operations"] += 1

        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        @given(case=op.as_strategy())
        def check(case: Any) -> None:
            ran["examples"] += 1
            response = case.call(headers={"Authorization": f"Bearer {token['value']}"})
            try:
                case.validate_response(response, checks=CHECKS)
            except BaseException as exc:  # noqa: BLE001 - schemathesis raises a BaseExceptionGroup
                subs = getattr(exc, "exceptions", [exc])
                reasons = "; ".join(" ".join(str(s).split())[:200] for s in subs)
                failures.append(f"{case.operation.label} {case.path_parameters or ''} {case.query or ''}: {reasons}")
            if response.status_code == 401 and b"invalid_token" in response.content:
                fresh_token()

        check()
    elapsed = time.perf_counter() - t0
    print(f"fuzz {role}: {ran['operations']} operations, {ran['examples']} examples, {elapsed:.1f} s")
    assert ran["operations"] > 50
    assert not failures, f"{len(failures)} undocumented answers:\n" + "\n".join(sorted(set(failures))[:40])


HUGE = "9" * 40


@pytest.mark.parametrize("method, url, payload, status, code", [
    ("GET", f"/api/tickets/{HUGE}", None, 404, "not_found"),
    ("GET", f"/api/tickets/{2**63}", None, 404, "not_found"),
    ("POST", f"/api/tickets/{HUGE}/start", None, 404, "not_found"),
    ("GET", f"/api/evaluations/ticket/{HUGE}", None, 404, "not_found"),
    ("POST", "/api/tickets", b'{"service": "QY01", "print": false, "x": ' + HUGE.encode() + b"}", 422,
     "number_out_of_range"),
    ("POST", "/api/tickets/1/transfer", b'{"window": ' + HUGE.encode() + b"}", 422, "number_out_of_range"),
    ("POST", "/api/tickets/1/transfer", b'{"window": 1e999}', 422, "number_out_of_range"),
    ("POST", "/api/tickets/1/transfer", b'{"window": NaN}', 422, "number_out_of_range"),
    ("GET", f"/api/cases?ticket={HUGE}", None, 422, "number_out_of_range"),
    ("GET", f"/api/admin/audit?before={HUGE}", None, 422, "number_out_of_range"),
])
def test_numbers_of_any_size_get_a_documented_4xx(hall, method, url, payload, status, code):
    app, tokens, _path = hall
    client = app.test_client()
    r = client.open(url, method=method, data=payload,
                    headers={"Authorization": f"Bearer {tokens['admin']}", "Content-Type": "application/json"})
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.json["error"]["code"] == code
