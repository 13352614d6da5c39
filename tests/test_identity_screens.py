"""The identity screens on a headless kiosk: card → consent → camera → result, with screenshots.

Set ``YICHUANG_SCREENSHOTS=1`` to (re)write ``docs/screens/identity-*.png``; otherwise the
screenshots go to a temporary directory and are only checked for size.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tests.support.kiosk_harness import run_scenario

ROOT = Path(__file__).resolve().parent.parent


class SlowCamera:
    """Frames at ~8 fps, like a kiosk camera feeding a 2-core machine."""

    def __init__(self, frames: list[Any], delay: float = 0.12) -> None:
        self.frames = list(frames)
        self.delay = delay
        self.i = 0

    def read(self) -> Any:
        time.sleep(self.delay)
        self.i += 1
        return self.frames[(self.i - 1) % len(self.frames)]  # loops: the attempt ends by its budget

    def close(self) -> None:
        pass


_verifier: list[Any] = []


def _attach(driver: Any, frames: list[Any], challenge: str) -> Any:
    from hardware.idcard import SimulatedReader
    from kiosk.face import FaceConfig, FaceVerifier
    from kiosk.flows.identity import IdentityConfig, IdentityFlow
    from tests.support.identity import ID_PHOTO, TODAY

    if not _verifier:  # a 40-frame budget: the photo attack ends by frames, not by wall time
        _verifier.append(FaceVerifier(FaceConfig(challenges=(challenge,), challenge_frames=40,
                                                 challenge_seconds=120)))
    reader = SimulatedReader(None, str(ID_PHOTO))
    flow = IdentityFlow(reader, SlowCamera(frames), _verifier[0], IdentityConfig(),
                        kiosk_name="kiosk-07", today=lambda: TODAY)
    driver.kiosk.identity = flow
    return flow, reader


def _identity_scenario(driver: Any, shots: str) -> dict[str, Any]:
    from tests.support.identity import attack_frames, live_frames, miranda_card

    out: dict[str, Any] = {}
    shots_dir = Path(shots)
    done: list[Any] = []

    # 1. a real person answering the challenge
    flow, reader = _attach(driver, live_frames("turn_left"), "turn_left")
    flow.begin(on_done=done.append, next_screen="home")
    driver.root.go("identity_card")
    driver.pump(0.5)
    out["card_texts"] = driver.texts()
    driver.screenshot(shots_dir / "identity-card.png")
    reader.insert(miranda_card())
    driver.wait_for(lambda: driver.screen.name == "identity_consent", 10, "consent screen")
    driver.pump(0.2)
    out["consent_texts"] = driver.texts()
    driver.screenshot(shots_dir / "identity-consent.png")
    driver.tap_key("identity_agree")
    driver.wait_for(lambda: driver.screen.name == "identity_face", 15, "face screen")
    driver.wait_for(lambda: driver.screen.box[2] > 0 and flow.state.attempts == 1 and driver.screen.preview,
                    10, "face box")
    driver.pump(0.3)
    out["face_texts"] = driver.texts()
    out["face_box"] = list(driver.screen.box)
    driver.screenshot(shots_dir / "identity-face.png")
    driver.wait_for(lambda: driver.screen.name == "identity_result", 30, "result screen")
    driver.pump(0.2)
    out["result_texts"] = driver.texts()
    driver.screenshot(shots_dir / "identity-result.png")
    driver.tap_key("identity_continue")
    driver.pump(0.2)
    out["after_continue"] = driver.screen.name
    out["done_method"] = done[0].method if done and done[0] is not None else None
    reader.close()

    # 2. a photo held to the camera: liveness fails, retry offered
    flow, reader = _attach(driver, attack_frames(), "turn_left")
    reader.insert(miranda_card())
    flow.begin(next_screen="home")
    driver.root.go("identity_card")
    driver.wait_for(lambda: driver.screen.name == "identity_consent", 10, "consent screen")
    driver.pump(0.3)
    driver.tap_key("identity_agree")
    driver.wait_for(lambda: driver.screen.name == "identity_result", 40, "failed result")
    driver.pump(0.2)
    out["failed_texts"] = driver.texts()
    driver.screenshot(shots_dir / "identity-result-failed.png")
    driver.tap_key("identity_decline")
    driver.pump(0.2)
    out["declined_texts"] = driver.texts()
    out["declined_method"] = flow.identity.method if flow.identity else None
    reader.close()

    # 3. an expired card: straight to 转人工 with the reason
    from hardware.idcard import SimCard

    flow, reader = _attach(driver, live_frames("turn_left"), "turn_left")
    reader.insert(SimCard(name="王小五", birth="19800116", id_number="110101198001160019",
                          valid_from="20000101", valid_to="20201231"))
    flow.begin(next_screen="home")
    driver.root.go("identity_card")
    driver.wait_for(lambda: driver.screen.name == "identity_result", 10, "referral")
    driver.pump(0.2)
    out["referred_texts"] = driver.texts()
    driver.screenshot(shots_dir / "identity-referred.png")
    driver.tap_key("identity_continue")
    driver.pump(0.2)
    out["after_referral"] = driver.screen.name
    reader.close()

    # 4. the session is wiped (idle timeout) while the consent screen shows the card
    flow, reader = _attach(driver, live_frames("turn_left"), "turn_left")
    reader.insert(miranda_card())
    flow.begin(next_screen="home")
    driver.root.go("identity_card")
    driver.wait_for(lambda: driver.screen.name == "identity_consent", 10, "consent screen")
    card = flow.card
    driver.root.home()  # what the idle timer does when it expires
    driver.pump(0.2)
    out["after_wipe"] = [driver.screen.name, flow.step, flow.card is None,
                         card is not None and card.id_number == "" and card.photo is None]
    reader.close()
    return out


def test_identity_screens_end_to_end(tmp_path: Path):
    if os.environ.get("YICHUANG_SCREENSHOTS") == "1":
        shots = ROOT / "docs" / "screens"
    else:
        shots = tmp_path
    r = run_scenario("tests.test_identity_screens:_identity_scenario", timeout=170, shots=str(shots))
    assert "请将身份证平放在读卡区，读卡完成前请勿移开" in r["card_texts"]
    assert "林*努    1101**********0019" in r["consent_texts"]
    assert "不刷脸，到窗口核验" in " ".join(r["consent_texts"])
    assert "请缓慢向左转头，再转回来" in r["face_texts"]
    assert r["face_box"][2] > 100
    assert "人证比对通过" in r["result_texts"]
    assert r["after_continue"] == "home" and r["done_method"] == "face"
    assert any("活体检测未通过" in x for x in r["failed_texts"])
    assert "再试一次" in " ".join(r["failed_texts"])
    assert r["declined_method"] == "card_only"
    assert "已读取身份证，请到窗口核验本人" in r["declined_texts"]
    assert "请到人工窗口办理" in r["referred_texts"] and "身份证已过有效期" in r["referred_texts"]
    assert r["after_referral"] == "home"
    assert r["after_wipe"] == ["home", "idle", True, True]
    for name in ("card", "consent", "face", "result", "result-failed", "referred"):
        assert (shots / f"identity-{name}.png").stat().st_size > 20_000
