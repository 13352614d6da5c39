"""The identity flow end to end: simulated card reader → consent → face + liveness → result."""

from __future__ import annotations

import json

from hardware.idcard import SimCard
from kiosk.flows.identity import IdentityConfig, VerifiedIdentity
from tests.support.identity import TODAY, attack_frames, live_frames, make_flow, run_face


def test_card_consent_face_match_gives_a_face_verified_identity():
    audit: list[dict] = []
    done: list[VerifiedIdentity | None] = []
    flow, reader = make_flow(audit=audit)
    try:
        flow.begin(on_done=done.append)
        assert flow.step == "card"
        assert flow.poll_card() is True
        assert flow.step == "consent"
        assert flow.card is not None and flow.card.photo is not None
        flow.agree_face()
        assert flow.step == "face" and flow.state.challenge == "turn_left"
        assert flow.prompt[0] == "请缓慢向左转头，再转回来"
        run_face(flow, live_frames("turn_left"))
        assert flow.step == "result"
        ident = flow.identity
        assert ident is not None and ident.method == "face" and ident.face_verified
        assert ident.face_score is not None and ident.face_score >= 0.363
        assert ident.id_masked == "1101**********0019" and ident.name_masked == "林*努"
        assert ident.age_on(TODAY) == 46
        assert flow.card.photo is None  # the ID photo is dropped as soon as it is not needed
        assert flow.finish() is ident and done == [ident]
    finally:
        reader.close()
    assert len(audit) == 1
    rec = audit[0]  # the body of POST /api/audit/identity-checks
    assert (rec["method"], rec["result"], rec["reason_code"], rec["liveness"]) == ("face", "pass", "match", "pass")
    assert rec["attempts"] == 1 and rec["checked_at"] == 1_790_000_000.0
    if "score" in rec:  # a model that reports a similarity score sends it with its threshold
        assert rec["score"] >= rec["threshold"]
    text = json.dumps(rec)
    assert "110101198001160019" not in text and "林曼努" not in text and len(text) < 600


def test_photo_attack_three_times_is_referred_to_a_window():
    audit: list[dict] = []
    frames = attack_frames()
    flow, reader = make_flow(frames, audit=audit)
    try:
        flow.begin()
        flow.poll_card()
        flow.agree_face()
        for attempt in (1, 2, 3):
            assert flow.state.attempts == attempt
            flow.camera.frames = list(frames)
            flow.camera._i = 0
            run_face(flow, frames)
            if attempt < 3:
                assert flow.step == "result" and flow.can_retry and flow.identity is None
                flow.retry()
        assert flow.step == "result" and not flow.can_retry
        ident = flow.identity
        assert ident is not None and ident.method == "manual"
        assert flow.referral is not None and flow.referral.code == "face_failed"
        assert "3 次未通过" in flow.referral.zh and "活体检测未通过" in flow.referral.zh
    finally:
        reader.close()
    assert [r["result"] for r in audit] == ["fail", "fail", "referred"]
    assert [r["attempts"] for r in audit] == [1, 2, 3]
    assert all(r["method"] == "face" and r["reason_code"] == "liveness_failed" and r["liveness"] == "fail"
               for r in audit)


def test_declining_face_capture_gives_card_only():
    flow, reader = make_flow()
    try:
        flow.begin()
        flow.poll_card()
        flow.decline_face()
        assert flow.identity is not None and flow.identity.method == "card_only"
        assert not flow.identity.face_verified
    finally:
        reader.close()


def test_declining_when_hall_requires_face_refers_to_a_window():
    flow, reader = make_flow(config=IdentityConfig(allow_card_only=False))
    try:
        flow.begin()
        flow.poll_card()
        flow.decline_face()
        assert flow.identity is not None and flow.identity.method == "manual"
        assert flow.referral is not None and flow.referral.code == "declined"
    finally:
        reader.close()


def test_card_without_decodable_photo_falls_back():
    audit: list[dict] = []
    flow, reader = make_flow(photo=False, audit=audit)
    try:
        flow.begin()
        flow.poll_card()
        assert flow.card is not None and flow.card.photo is None
        flow.agree_face()
        assert flow.identity is not None and flow.identity.method == "card_only"
        assert (audit[-1]["method"], audit[-1]["result"], audit[-1]["reason_code"]) == ("card", "pass", "no_photo")
        assert audit[-1]["liveness"] == "skipped"
    finally:
        reader.close()
    flow, reader = make_flow(photo=False, config=IdentityConfig(allow_card_only=False))
    try:
        flow.begin()
        flow.poll_card()
        flow.agree_face()
        assert flow.referral is not None and flow.referral.code == "no_photo"
        assert flow.referral.zh == "身份证照片无法读取"
    finally:
        reader.close()


def test_repeated_corrupted_card_reads_end_in_a_referral():
    from hardware.idcard.protocol import CMD_READ_BASE

    flow, reader = make_flow()
    try:
        flow.begin()
        reader.sim.corrupt_next_response(count=5, command=CMD_READ_BASE)
        assert flow.poll_card() is False
        assert flow.state.error is not None and flow.state.error[0] == "idcard_bad_checksum"
        assert flow.step == "card"
        flow.poll_card()
        flow.poll_card()
        assert flow.step == "result" and flow.identity is None
        assert flow.referral is not None and flow.referral.code == "card_unreadable"
    finally:
        reader.close()


def test_no_card_keeps_waiting_without_error():
    flow, reader = make_flow()
    try:
        reader.remove()
        flow.begin()
        assert flow.poll_card() is False
        assert flow.step == "card" and flow.state.error is None
    finally:
        reader.close()


def test_expired_card_is_referred():
    card = SimCard(name="王五", birth="19800116", id_number="110101198001160019", valid_from="20000101",
                   valid_to="20201231")
    flow, reader = make_flow(card=card)
    try:
        flow.begin()
        assert flow.poll_card() is True
        assert flow.referral is not None and flow.referral.code == "card_expired"
    finally:
        reader.close()


def test_wipe_forgets_everything_and_cancel_reports_none():
    done: list[object] = []
    flow, reader = make_flow()
    try:
        flow.begin(on_done=done.append)
        flow.poll_card()
        card = flow.card
        flow.cancel()
        assert done == [None]
        assert flow.step == "idle" and flow.card is None and flow.identity is None
        assert card is not None and card.id_number == "" and card.name == "" and card.photo is None
    finally:
        reader.close()


def test_demo_flow_reads_the_simulated_card_and_verifies_the_replayed_clip():
    from kiosk.flows.identity import make_identity_flow

    flow = make_identity_flow({}, demo=True, kiosk_name="demo", today=lambda: TODAY)
    try:
        flow.camera.interval = 0.0  # no pacing in the test
        flow.begin()
        assert flow.poll_card() and flow.step == "consent"
        flow.agree_face()
        for _ in range(60):
            frame = flow.read_frame()
            assert frame is not None
            if flow.process_frame(frame).done:
                break
        assert flow.identity is not None and flow.identity.method == "face"
    finally:
        flow.reader.close()


def test_flow_shares_an_already_open_reader():
    from hardware.idcard import SimulatedReader
    from kiosk.flows.identity import make_identity_flow
    from tests.support.identity import ID_PHOTO, miranda_card

    shared = SimulatedReader(None, str(ID_PHOTO))
    try:
        flow = make_identity_flow({"face": {"challenges": ["turn_left"]}}, demo=True, reader=shared,
                                  today=lambda: TODAY)
        assert flow.reader is shared
        shared.insert(miranda_card())
        flow.begin()
        assert flow.poll_card() and flow.card is not None and flow.card.photo is not None
    finally:
        shared.close()


def test_a_camera_that_stays_silent_ends_the_attempt_the_configured_way():
    from hardware.camera import MemoryCamera
    from kiosk.flows.identity import CAMERA_MISSES

    for allow_card_only, method, result in ((True, "card_only", "pass"), (False, "manual", "referred")):
        audit: list[dict] = []
        flow, reader = make_flow(config=IdentityConfig(allow_card_only=allow_card_only), audit=audit)
        try:
            flow.begin()
            flow.poll_card()
            flow.agree_face()
            flow.camera = MemoryCamera([])  # unplugged after the attempt started
            steps = [flow.face_step() for _ in range(CAMERA_MISSES)]
            assert all(s.frame is None for s in steps)
            assert all(s.wait > 0 for s in steps[:-1]) and flow.step == "result"
            assert flow.identity is not None and flow.identity.method == method
            assert (audit[-1]["method"], audit[-1]["result"], audit[-1]["reason_code"]) == ("card", result, "camera")
        finally:
            reader.close()


def test_an_expired_card_is_audited_as_referred():
    audit: list[dict] = []
    card = SimCard(name="王五", birth="19800116", id_number="110101198001160019", valid_from="20000101",
                   valid_to="20201231")
    flow, reader = make_flow(card=card, audit=audit)
    try:
        flow.begin(purpose="priority_ticket")
        flow.poll_card()
    finally:
        reader.close()
    assert [(r["method"], r["result"], r["reason_code"], r["purpose"]) for r in audit] == [
        ("card", "referred", "card_expired", "priority_ticket")]


def test_identity_checks_posted_by_a_kiosk_land_in_the_audit_table(tmp_path):
    """The kiosk posts every check to POST /api/audit/identity-checks; a kiosk whose server is
    down logs the failure and the citizen goes on."""
    from kiosk.config import from_dict
    from kiosk.flows.session import Kiosk
    from queue_server.audit import chain
    from queue_server.db import connect
    from tests.support.common import free_port
    from tests.support.kiosk_server import start_hall

    hall = start_hall(tmp_path, free_port())
    try:
        kiosk = Kiosk(from_dict({"server": {"url": hall.url, "token": hall.kiosk_token}}))
        flow, reader = make_flow()
        flow.audit = kiosk.report_identity_check  # as attach_identity wires it
        try:
            flow.begin(purpose="priority_ticket")
            flow.poll_card()
            flow.decline_face()
        finally:
            reader.close()
        kiosk.wait_for_audit()
        db = connect(hall.db_path)
        try:
            [row] = chain.recent(db, kind="identity.checked")
            assert chain.verify(db).ok
        finally:
            db.conn.close()
        data = row["data"]
        assert (data["method"], data["result"], data["purpose"], data["reason_code"], data["liveness"]) == (
            "card", "pass", "priority_ticket", "declined", "skipped")
        assert data["kiosk"] == "demo-kiosk" and row["actor"] == "token:demo-kiosk"
        assert "110101198001160019" not in json.dumps(row) and "林曼努" not in json.dumps(row)

        down = Kiosk(from_dict({"server": {"url": f"http://127.0.0.1:{free_port()}", "token": "x",
                                           "timeout": 0.5}}))
        flow, reader = make_flow()
        flow.audit = down.report_identity_check
        try:
            flow.begin()
            flow.poll_card()
            flow.decline_face()  # returns at once: the post runs in the background
            assert flow.identity is not None and flow.identity.method == "card_only"
        finally:
            reader.close()
        down.wait_for_audit()  # and its failure is only logged
    finally:
        hall.stop()


def test_a_face_result_with_a_score_and_a_model_sends_them():
    """The face model reports a cosine ``score`` (higher = more alike) and names itself: both
    go into the audit record, with the liveness challenge's state as pass or fail."""
    from types import SimpleNamespace

    audit: list[dict] = []
    flow, reader = make_flow(audit=audit)
    try:
        flow.begin(purpose="approval")
        flow.poll_card()
        flow.agree_face()
        scored = SimpleNamespace(match=True, reason="match", score=0.71, threshold=0.363, distance=None,
                                 model="sface-int8", model_digest="sha256:ab12",
                                 liveness=SimpleNamespace(state="passed", challenge="turn_left"))
        with flow._lock:
            flow._attempt_done(scored)
    finally:
        reader.close()
    rec = audit[-1]
    assert (rec["method"], rec["result"], rec["purpose"], rec["liveness"]) == ("face", "pass", "approval", "pass")
    assert (rec["score"], rec["threshold"], rec["model"], rec["model_digest"]) == (0.71, 0.363, "sface-int8",
                                                                                 "sha256:ab12")
