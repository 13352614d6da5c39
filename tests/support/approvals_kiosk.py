"""Kiosk scenarios of 自助办理 (秒批), run inside a headless kiosk process by
``tests/support/kiosk_harness.run_scenario`` (tests/test_kiosk_approvals.py), and the kiosk part of
``bench/bench_approvals.py`` (:func:`bench_taps`)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.kiosk_harness import Driver, run_scenario
from tests.support.kiosk_server import HallServer, start_hall

ROOT = Path(__file__).resolve().parents[2]
ID_PHOTO = ROOT / "assets" / "demo" / "lin-manuel-miranda.png"


def config(hall: HallServer) -> dict[str, Any]:
    return {
        "server": {"url": hall.url, "token": hall.kiosk_token, "timeout": 5.0, "retry_seconds": 1.0},
        "kiosk": {"hall_name": "章丘区政务服务中心", "name": "kiosk-01"},
        "printer": {"url": "sim://kiosk-01-tickets", "paper": 80},
        "idcard": {"driver": "sim", "sim_photo": str(ID_PHOTO)},
        "identity": {"verify_face_for_priority": True},
        "approvals": {"printer": "kiosk-01"},
    }


# -- scenarios (run inside the kiosk process) ---------------------------------------------

def _shot(d: Driver, shots: str | None, name: str, mode: str) -> None:
    if shots:
        from kiosk.screenshots import _compact  # 256 colours, as every kiosk screen is saved

        _compact(d.screenshot(Path(shots) / f"approval-{name}-{mode}.png"))


def _start(d: Driver, mode: str) -> None:
    from kiosk.flows.identity import attach_identity

    assert attach_identity(d.kiosk, demo=True) is not None
    if mode == "en":
        d.tap_key("language")
    elif mode == "elder":
        d.tap_key("elder")
    d.tap_key("approvals")
    d.wait_for(lambda: d.screen.name == "approval_items" and d.screen.ids.grid.children, what="items")
    d.pump(0.3)


def _identity(d: Driver, face: bool = True) -> None:
    """The identity steps with the demo card the items screen placed: consent, face, result."""
    d.wait_for(lambda: d.screen.name == "identity_consent", 15, "identity consent")
    d.pump(0.2)
    d.tap_key("identity_agree" if face else "identity_decline")
    d.wait_for(lambda: d.screen.name == "identity_result", 90, "identity result")
    d.pump(0.2)
    d.tap_key("identity_continue")
    d.wait_for(lambda: d.screen.name == "approval_form", 10, "the form")
    d.pump(0.3)


def _decide(d: Driver, out: dict[str, Any]) -> None:
    """同意并查询 → the first frame that shows the decision (timed)."""
    d.tap_key("approval_next")
    d.wait_for(lambda: d.screen.name == "approval_consent", 10, "consent")
    d.pump(0.2)
    out["consent_texts"] = d.texts()
    tap = time.perf_counter()
    d.tap_key("approval_agree", settle=0.0)
    d.wait_for(lambda: d.screen.name == "approval_result" and d.screen.decision, 20, "decision")
    out["tap_to_decision_ms"] = (time.perf_counter() - tap) * 1000
    d.pump(0.3)


def _approved(d: Driver, shots: str | None = None, mode: str = "zh", item: str = "elderly_allowance",
              months: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _start(d, mode)
    out["items_texts"] = d.texts()
    _shot(d, shots, "items", mode)
    d.tap_key(f"item:{item}")
    _identity(d)
    if months:  # 参保证明: from two years back … last month, pension only
        d.tap_key("month:from_month:-12")
        d.tap_key("opt:kind:pension")
        out["inputs"] = dict(d.kiosk.approval.state.inputs)
    out["form_texts"] = d.texts()
    _shot(d, shots, "form" if not months else "form-inputs", mode)
    d.tap_key("approval_next")
    d.wait_for(lambda: d.screen.name == "approval_consent", 10, "consent")
    d.pump(0.2)
    out["consent_texts"] = d.texts()
    _shot(d, shots, "consent", mode)
    tap = time.perf_counter()
    d.tap_key("approval_agree", settle=0.0)
    d.wait_for(lambda: d.screen.name == "approval_result" and d.screen.decision, 20, "decision")
    out["tap_to_decision_ms"] = (time.perf_counter() - tap) * 1000
    d.wait_for(lambda: d.screen.print_text and "…" not in d.screen.print_text, 20, "printed")
    d.pump(0.3)
    out["result"] = {k: v for k, v in (d.kiosk.approval.state.result or {}).items() if k != "rules"}
    out["result_texts"] = d.texts()
    out["decision"] = d.screen.decision
    _shot(d, shots, "approved" if not months else "approved-certificate", mode)
    d.tap_key("approval_done")
    d.wait_for(lambda: d.screen.name == "rating", 10, "rating screen")
    out["rating_target"] = d.kiosk.rating.target.case if d.kiosk.rating.target else None
    d.root.home()
    d.pump(0.2)
    s = d.kiosk.approval.state
    out["after_wipe"] = [d.screen.name, s.item is None, s.id_number == "", s.name == "", s.result is None,
                         d.kiosk.identity.card is None]
    return out


def _referred(d: Driver, shots: str | None = None, mode: str = "zh") -> dict[str, Any]:
    out: dict[str, Any] = {}
    _start(d, mode)
    d.tap_key("demo:refer")
    d.tap_key("item:elderly_allowance")
    _identity(d)
    _decide(d, out)
    d.wait_for(lambda: d.screen.print_text and "…" not in d.screen.print_text, 20, "printed")
    d.pump(0.3)
    out["result"] = dict(d.kiosk.approval.state.result or {})
    out["result_texts"] = d.texts()
    out["number"] = d.screen.number
    _shot(d, shots, "referred", mode)
    return out


def _licence_item(d: Driver, shots: str | None = None, mode: str = "zh") -> dict[str, Any]:
    """个体工商户设立登记 approved: the result screen says the 营业执照 is now under 亮证."""
    out: dict[str, Any] = {}
    _start(d, mode)
    d.tap_key("item:sole_proprietor_registration")
    _identity(d)
    # the text fields as the on-screen keyboard / IME would fill them
    fields = {w.key: w for w in d.walk() if getattr(w, "key", "").startswith("text:")}
    fields["text:trade_name"].text = "泉香居"
    fields["text:address"].text = "济南市章丘区明水街道百脉泉街88号"
    d.pump(0.1)
    d.tap_key("opt:scope:1001")
    d.pump(0.2)
    out["inputs"] = dict(d.kiosk.approval.state.inputs)
    _decide(d, out)
    d.wait_for(lambda: d.screen.print_text and "…" not in d.screen.print_text, 20, "printed")
    d.pump(0.3)
    out["result"] = {k: v for k, v in (d.kiosk.approval.state.result or {}).items() if k != "rules"}
    out["result_texts"] = d.texts()
    out["decision"] = d.screen.decision
    _shot(d, shots, "approved-licence", mode)
    return out


def _manual_midway(d: Driver, shots: str | None = None, mode: str = "zh") -> dict[str, Any]:
    out: dict[str, Any] = {}
    _start(d, mode)
    d.tap_key("item:elderly_allowance")
    _identity(d, face=False)  # declines the face check: card only
    out["form_texts"] = d.texts()
    _shot(d, shots, "form-card-only", mode)
    d.tap_key("manual")
    d.wait_for(lambda: d.screen.name == "ticket" and d.screen.number, 15, "ticket")
    d.pump(0.3)
    out["number"] = d.screen.number
    out["ticket_texts"] = d.texts()
    return out



def _taps(d: Driver, n: int) -> dict[str, Any]:
    """Verify once (card + face), then ``n`` times: 同意并查询 → the first frame showing the
    decision, each a new application of the same citizen (a new case)."""
    _start(d, "zh")
    d.tap_key("item:elderly_allowance")
    _identity(d)
    flow = d.kiosk.approval
    times, server = [], []
    for _ in range(n):
        d.tap_key("approval_next")
        d.wait_for(lambda: d.screen.name == "approval_consent", 10, "consent")
        d.pump(0.1)
        flow.state.result = None
        flow.state.request_key = f"bench-{time.perf_counter_ns()}"
        tap = time.perf_counter()
        d.tap_key("approval_agree", settle=0.0)
        d.wait_for(lambda: d.screen.name == "approval_result" and d.screen.decision, 20, "decision")
        # the frame that shows it: one more turn of the loop draws it
        d.loop.idle()
        times.append((time.perf_counter() - tap) * 1000)
        t0 = time.perf_counter()
        d.kiosk.client.apply_approval(flow.body(), f"bench-direct-{time.perf_counter_ns()}")
        server.append((time.perf_counter() - t0) * 1000)
        d.root.go("approval_form")
        d.pump(0.1)
    return {"times": times, "server": server}


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def bench_taps(n: int) -> dict[str, Any]:
    """Tap → decision on screen at a headless kiosk against a demo hall served in this process."""
    from tests.support.common import free_port

    hall = start_hall(Path(tempfile.mkdtemp(prefix="bench-approvals-")), free_port())
    try:
        out = run_scenario("tests.support.approvals_kiosk:_taps", timeout=900, config=config(hall), n=n)
    finally:
        hall.stop()
    times, server = out["times"], out["server"]
    return {"n": len(times), "median_ms": statistics.median(times), "p99_ms": _pct(times, 99),
            "server_median_ms": statistics.median(server)}
