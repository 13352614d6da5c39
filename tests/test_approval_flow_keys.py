"""The kiosk's 秒批 retry keys: a retry of the same answers sends the same Idempotency-Key (the
server returns the same case), changed answers send a new one (the server refuses a key
reused with another body: 422 ``idempotency_key_reused``). No Kivy, no server: a stub client
records what the flow sends."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kiosk.flows.approval import ApprovalFlow, ApprovalState, Item


class _Client:
    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], str]] = []
        self.fail = True

    def apply_approval(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        self.sent.append((body, key))
        if self.fail:
            raise TimeoutError("no answer")  # the kiosk does not know whether the case was made
        return {"case": "C1", "decision": "approved"}


def _flow() -> tuple[ApprovalFlow, _Client]:
    client = _Client()
    kiosk = SimpleNamespace(client=client, on_wipe=[], clock=lambda: 0.0,
                            config=SimpleNamespace(get=lambda *_a: ""))
    flow = ApprovalFlow(kiosk)  # type: ignore[arg-type]
    item = Item(code="elderly_allowance", name="高龄津贴申请", name_en="Elderly allowance", category="c",
                category_name="", category_name_en="", service="MZ01")
    flow.state = ApprovalState(item=item, name="王秀兰", id_number="370181194403021240", method="face",
                               consented=True, inputs={"bank_account": "6222020000000001"})
    return flow, client


def test_a_retry_reuses_the_key_and_changed_answers_get_a_new_one():
    flow, client = _flow()
    for _ in range(2):  # two timeouts with the same answers
        try:
            flow.submit()
        except TimeoutError:
            pass
    flow.state.inputs["bank_account"] = "6222020000000002"  # the citizen corrects an answer
    client.fail = False
    assert flow.submit()["case"] == "C1"
    keys = [k for _b, k in client.sent]
    assert keys[0] == keys[1] != keys[2]
    assert all("370181194403021240" not in k for k in keys)  # the key never carries the ID number


def test_a_sessions_ticket_requests_get_a_key_per_request():
    from kiosk.flows.state import Session

    s = Session()
    first = s.key_for("issue", "QY01", None, None, None)
    assert first == s.request_key == s.key_for("issue", "QY01", None, None, None)  # a retry
    other = s.key_for("issue", "QY02", None, None, None)  # went back, chose another service
    assert other != first and s.key_for("issue", "QY02", None, None, None) == other
