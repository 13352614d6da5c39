"""好差评 at the kiosk: the flow (no Kivy) and the rating screen after a kiosk transaction
against a real queue server, in Chinese, English and elder mode, with screenshots.

Set ``YICHUANG_SCREENSHOTS=1`` to (re)write ``docs/screens/rating-*.png``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.common import free_port
from tests.support.kiosk_harness import Driver, run_scenario
from tests.support.kiosk_server import HallServer, start_hall

ROOT = Path(__file__).resolve().parent.parent


# -- the flow, without Kivy ---------------------------------------------------------------

class StubClient:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.reason_calls = 0

    def evaluation_reasons(self) -> dict[str, Any]:
        self.reason_calls += 1
        return {"version": "2026.1", "reasons": [{"code": "attitude", "name": "服务态度不好",
                                                  "name_en": "Poor service attitude"}]}

    def evaluate(self, **kw: Any) -> dict[str, Any]:
        self.sent.append(kw)
        return {"id": len(self.sent), "level": kw["level"], "count": 1}


@pytest.fixture
def kiosk():
    from kiosk.config import from_dict
    from kiosk.flows.session import Kiosk
    from kiosk.voice import SilentSpeaker

    cfg = from_dict({"server": {"url": "http://127.0.0.1:9", "token": "t"}}, source="<test>")
    return Kiosk(cfg, client=StubClient(), speaker=SilentSpeaker())  # type: ignore[arg-type]


def test_the_flow_asks_reasons_only_after_a_差评_and_sends_once(kiosk):
    flow = kiosk.rating
    with pytest.raises(ValueError):
        flow.begin(service_name="x")
    flow.begin(case="SP20261202000001", service_name="个人参保缴费证明打印", evaluator="王*明")
    assert not flow.can_submit                          # nothing preselected
    assert flow.choose(4) is False and flow.can_submit
    assert flow.choose(2) is True and not flow.can_submit
    assert flow.reasons()[0]["code"] == "attitude" and flow.reasons() and kiosk.client.reason_calls == 1
    assert flow.toggle("attitude") is True and flow.can_submit
    first = flow.submit()
    assert flow.submit() is first                       # a double tap sends once
    assert kiosk.client.sent == [{"level": 2, "case": "SP20261202000001", "ticket": None,
                                  "reasons": ["attitude"], "evaluator": "王*明"}]
    kiosk.wipe()                                        # the rating goes with the session
    assert flow.target is None and flow.state.level is None


def test_a_good_level_sends_no_reasons(kiosk):
    kiosk.rating.begin(ticket=12, service_name="企业设立登记")
    kiosk.rating.choose(5)
    kiosk.rating.submit()
    assert kiosk.client.sent[-1] == {"level": 5, "case": None, "ticket": 12, "reasons": None, "evaluator": None}
    assert [kiosk.rating.level_label(lv, "zh") for lv in (5, 4, 3, 2, 1)] == \
        ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]


# -- the screen, headless against a real server ----------------------------------------------

@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = start_hall(tmp_path_factory.mktemp("hall"), free_port())
    yield server
    server.stop()


def new_case(hall: HallServer) -> str:
    from queue_server import clock as clk
    from queue_server.cases import open_case
    from queue_server.db import connect, write_tx

    db = connect(hall.db_path)
    try:
        import time

        now = time.time()
        with write_tx(db) as conn:
            c = open_case(conn, "approval", "SB01", "个人参保缴费证明打印", kiosk="demo-kiosk",
                          day=clk.business_day(now, "Asia/Shanghai"), now=now, status="approved")
        return str(c["number"])
    finally:
        db.conn.close()


def shots() -> Path | None:
    if os.environ.get("YICHUANG_SCREENSHOTS"):
        return ROOT / "docs" / "screens"
    return None


def _rate(d: Driver, case: str, lang: str, elder: bool, level: int, reasons: list[str],
          shots: str | None, suffix: str) -> dict[str, Any]:
    from kivy.app import App

    d.kiosk.set_language(lang)
    d.kiosk.set_elder(elder)
    App.get_running_app().sync_from_session()
    d.kiosk.rating.begin(case=case, service_name="个人参保缴费证明打印",
                         service_name_en="Social insurance payment certificate", evaluator="王*明")
    d.root.go("rating")
    d.wait_for(lambda: d.screen.name == "rating" and d.screen.ids.levels.children, what="levels")
    levels = [d.find(key=f"level:{lv}") for lv in (5, 4, 3, 2, 1)]
    sizes = {(round(b.width), round(b.height)) for b in levels}
    colours = {tuple(b.bg) for b in levels}
    texts_levels = d.texts()
    if shots:
        d.screenshot(Path(shots) / f"rating-levels-{suffix}.png")
    d.tap(d.find(key=f"level:{level}"))
    if reasons:
        d.wait_for(lambda: d.screen.step == "reasons" and d.screen.ids.reasons.children, what="reasons")
        submit_disabled_before = d.screen.ids.submit.disabled
        for code in reasons:
            for _ in range(5):                  # elder mode shows fewer per page: turn pages
                try:
                    button = d.find(key=f"reason:{code}")
                    break
                except AssertionError:
                    d.tap(d.find(key="next_page"))
            d.tap(button)
        if shots:
            d.screenshot(Path(shots) / f"rating-reasons-{suffix}.png")
        d.tap(d.find(key="submit_rating"))
    else:
        submit_disabled_before = None
    d.wait_for(lambda: d.screen.step == "thanks", what="thanks")
    texts_thanks = d.texts()
    if shots:
        d.screenshot(Path(shots) / f"rating-thanks-{suffix}.png")
    d.wait_for(lambda: d.screen.name == "home", timeout=12, what="back home after the thanks")
    return {"sizes": [list(s) for s in sizes], "colours": len(colours), "levels": texts_levels,
            "thanks": texts_thanks, "submit_disabled_before": submit_disabled_before,
            "target_after": d.kiosk.rating.target is not None}


def _skip(d: Driver, case: str) -> dict[str, Any]:
    d.kiosk.rating.begin(case=case, service_name="个人参保缴费证明打印")
    d.root.go("rating")
    d.wait_for(lambda: d.screen.name == "rating" and d.screen.ids.levels.children, what="levels")
    d.tap(d.find(key="skip_rating"))
    d.wait_for(lambda: d.screen.name == "home", what="home")
    return {"target_after": d.kiosk.rating.target is not None}


def evaluation_rows(hall: HallServer, case: str) -> list[tuple[Any, ...]]:
    from queue_server.db import connect

    db = connect(hall.db_path)
    try:
        return [tuple(r) for r in db.conn.execute(
            "SELECT channel, level, reasons, evaluator, realname FROM evaluations WHERE case_number = ?", (case,))]
    finally:
        db.conn.close()


def config(hall: HallServer) -> dict[str, Any]:
    return {"server": {"url": hall.url, "token": hall.kiosk_token, "timeout": 3.0, "retry_seconds": 1.0},
            "kiosk": {"hall_name": "章丘区政务服务中心"}}


@pytest.mark.slow
@pytest.mark.parametrize("lang, elder, suffix", [("zh", False, "zh"), ("en", False, "en"), ("zh", True, "elder")])
def test_the_rating_screen_after_a_kiosk_transaction(hall, lang, elder, suffix):
    case = new_case(hall)
    d = shots()
    out = run_scenario("tests.test_kiosk_rating:_rate", config=config(hall), case=case, lang=lang, elder=elder,
                       level=2, reasons=["efficiency", "documents"], shots=str(d) if d else None, suffix=suffix)
    assert len(out["sizes"]) == 1 and out["colours"] == 1          # five equal levels, none stressed
    words = {"zh": ["非常满意", "满意", "基本满意", "不满意", "非常不满意", "评价自愿，您也可以不评价"],
             "en": ["Very satisfied", "Satisfied", "Fairly satisfied", "Dissatisfied", "Very dissatisfied",
                    "Rating is voluntary"]}[lang]
    for w in words:
        assert w in out["levels"], (w, out["levels"])
    assert out["submit_disabled_before"] is True                    # a 差评 needs a reason first
    assert ("感谢您的评价！" if lang == "zh" else "Thank you!") in out["thanks"]
    assert out["target_after"] is False                             # the session was wiped
    rows = evaluation_rows(hall, case)
    assert rows == [("kiosk", 2, json.dumps(["efficiency", "documents"]), "王*明", 1)]


@pytest.mark.slow
def test_leaving_without_rating_records_nothing(hall):
    case = new_case(hall)
    out = run_scenario("tests.test_kiosk_rating:_skip", config=config(hall), case=case)
    assert out["target_after"] is False
    assert evaluation_rows(hall, case) == []
