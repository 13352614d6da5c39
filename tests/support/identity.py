"""Shared set-up for the identity tests: simulated reader, in-memory camera, verifier."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

from hardware.camera import MemoryCamera
from hardware.idcard import SimCard, SimulatedReader
from kiosk.face import FaceConfig, FaceVerifier
from kiosk.face.testvideo import kiosk_view, photo_attack, read_clip, real_turn
from kiosk.flows.identity import IdentityConfig, IdentityFlow

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
ID_PHOTO = FACES / "lin-manuel-miranda.png"
TODAY = dt.date(2026, 11, 23)

_clip: list[Any] = []
_verifiers: dict[str, FaceVerifier] = {}


def clip() -> list[Any]:
    if not _clip:
        _clip.extend(read_clip(FACES / "short_hamilton_clip.mp4"))
    return _clip


def verifier(challenge: str = "turn_left") -> FaceVerifier:
    if challenge not in _verifiers:
        _verifiers[challenge] = FaceVerifier(FaceConfig(challenges=(challenge,)))
    return _verifiers[challenge]


def miranda_card() -> SimCard:
    return SimCard(name="林曼努", sex_code="1", birth="19800116", id_number="110101198001160019",
                   photo_path=str(ID_PHOTO))


def live_frames(challenge: str = "turn_left") -> list[Any]:
    return real_turn(clip(), challenge)


def attack_frames() -> list[Any]:
    return photo_attack(kiosk_view(clip()[148]), frames=40)


def make_flow(frames: list[Any] | None = None, *, challenge: str = "turn_left", photo: bool = True,
              config: IdentityConfig | None = None, card: SimCard | None = None,
              audit: list[dict[str, Any]] | None = None) -> tuple[IdentityFlow, SimulatedReader]:
    reader = SimulatedReader(None, str(ID_PHOTO) if photo else None)
    c = card or miranda_card()
    if not photo:
        c.photo_path = None
    reader.insert(c)
    camera = MemoryCamera(frames if frames is not None else live_frames(challenge))
    sink = audit if audit is not None else []
    flow = IdentityFlow(reader, camera, verifier(challenge), config or IdentityConfig(),
                        audit=sink.append, kiosk_name="kiosk-07", today=lambda: TODAY,
                        clock=lambda: 1_790_000_000.0, rng=random.Random(1))
    return flow, reader


def run_face(flow: IdentityFlow, frames: list[Any]) -> None:
    """Feed frames until the attempt ends; the clip ending counts as the time running out."""
    for f in frames:
        if flow.process_frame(f).done:
            return
    session = flow._session
    if session is not None:
        session.liveness.give_up()
        session._finish()
        flow.process_frame(frames[-1])
