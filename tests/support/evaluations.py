"""Test helpers of 好差评: a demo hall with a supervisor, finished tickets, kiosk cases, an
API client that acts as any role, and the row counts that "nothing written" compares."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from queue_server import create_app
from queue_server import queue as engine
from queue_server.auth import create_token, create_user, login
from queue_server.cases import open_case
from queue_server.db import write_tx
from queue_server.demo import make_hall

SUPERVISOR = {"username": "super1", "password": "super123", "name": "督办员"}

#: Tables a refused request must leave as they were.
WRITTEN = ("evaluations", "rectifications", "rectification_steps", "audit", "events")


def counts(db: Database) -> dict[str, int]:
    return {t: db.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in WRITTEN}


def seed(db: Database, clock: Any) -> dict[str, Any]:
    """The demo hall (windows open), one token per role plus a supervisor token and login."""
    hall = make_hall(db, clock=clock, tokens=True, appointments=0)
    hall["tokens"]["supervisor"] = create_token(db, "supervisor", "supervisor-desk")
    uid = create_user(db, SUPERVISOR["username"], SUPERVISOR["password"], display_name=SUPERVISOR["name"],
                      role="supervisor")
    hall["users"][SUPERVISOR["username"]] = {"id": uid, "password": SUPERVISOR["password"]}
    return hall


def finished_ticket(db: Database, clock: Any, *, service: str = "QY01", window: int = 1,
                    clerk: int | None = None, id_number: str | None = None) -> dict[str, Any]:
    """Issue a ticket, call it at ``window`` (as ``clerk``) and finish it; the finished ticket."""
    t = engine.issue_ticket(db, service, id_number=id_number, clock=clock)
    called = engine.call_next(db, window, clerk_user_id=clerk, clock=clock)
    assert called is not None and called["id"] == t["id"], "another ticket was waiting"
    return engine.finish(db, t["id"], clerk_user_id=clerk, clock=clock)


def kiosk_case(db: Database, clock: Any, *, kind: str = "approval", item: str = "SB01",
               item_name: str = "个人参保缴费证明打印", status: str = "approved") -> dict[str, Any]:
    from queue_server import clock as clk
    from queue_server.settings import get_setting

    now = clock()
    day = clk.business_day(now, str(get_setting(db, "timezone")))
    with write_tx(db) as conn:
        return open_case(conn, kind, item, item_name, kiosk="demo-kiosk", day=day, now=now, status=status)


class Api:
    """Flask test client that acts as a role (``as_("display").post(...)``) or without a token."""

    def __init__(self, db_path: Any, hall: dict[str, Any], clock: Any) -> None:
        self.app = create_app({"DB_PATH": str(db_path), "TESTING": True, "CLOCK": clock})
        self.client = self.app.test_client()
        self.tokens = dict(hall["tokens"])
        self.hall = hall
        self._role: str | None = None

    def as_(self, role: str | None) -> Api:
        other = Api.__new__(Api)
        other.__dict__.update(self.__dict__)
        other._role = role
        return other

    def login(self, db: Database, username: str) -> Api:
        """Act as a staff login (session token of the user's role)."""
        tok = login(db, username, self.hall["users"][username]["password"])["token"]
        other = self.as_(None)
        other.tokens = {**self.tokens, f"user:{username}": tok}
        other._role = f"user:{username}"
        return other

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[self._role]}"} if self._role else {}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self._headers(), **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(path, json=json, headers=self._headers(), **kw)

    def rate(self, **body: Any) -> Any:
        return self.post("/api/evaluations", json=body)

    def step(self, case_id: int, step: str, **body: Any) -> Any:
        return self.post(f"/api/rectifications/{case_id}/{step}", json=body)


def assert_error(resp: Any, status: int, code: str) -> None:
    """The project's error shape with ``code`` and ``status``."""
    assert resp.status_code == status, (resp.status_code, resp.get_json())
    err = resp.get_json()["error"]
    assert err["code"] == code and err["message"] and err["message_en"], err
