"""Test helpers for the technicians' tools (kiosk doctor and setup, heartbeats, /tech): a
camera video made from a real face photo, kiosk tokens, kiosk.toml files, running the
``yichuang-kiosk`` command, and a headless kiosk in a process a test can kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FACE_PHOTO = ROOT / "assets" / "demo" / "lin-manuel-miranda.png"


def face_video(path: Path, frames: int = 24) -> Path:
    """A 640×480 video file of a face (the demo's stand-in photo, letterboxed): a camera with
    a person in front of it, as the doctor and set-up read it."""
    import cv2
    import numpy as np

    photo = cv2.imread(str(FACE_PHOTO), cv2.IMREAD_COLOR)
    scale = min(640 / photo.shape[1], 480 / photo.shape[0])
    small = cv2.resize(photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale)))
    canvas = np.full((480, 640, 3), 90, np.uint8)
    y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, (640, 480))
    for _ in range(frames):
        out.write(canvas)
    out.release()
    return path


def kiosk_token(db_path: Path, name: str) -> str:
    from queue_server.auth import create_token
    from queue_server.db import connect

    db = connect(db_path)
    try:
        return create_token(db, "kiosk", name)
    finally:
        db.conn.close()


def toml_text(values: dict[str, dict[str, Any]]) -> str:
    from kiosk.tech.configcheck import _toml

    lines = []
    for section, entries in values.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml(v)}" for k, v in entries.items()]
        lines.append("")
    return "\n".join(lines)


def write_toml(path: Path, values: dict[str, dict[str, Any]], extra: str = "") -> Path:
    path.write_text(toml_text(values) + extra, encoding="utf-8")
    return path


def kiosk_command(*args: str, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """``yichuang-kiosk ARGS`` (as ``python -m kiosk``) in a subprocess."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=os.environ.get("TMPDIR", "/tmp"))
    return subprocess.run([sys.executable, "-m", "kiosk", *args], cwd=str(ROOT), env=env, capture_output=True,
                          text=True, timeout=timeout, input=input)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


class KioskProcess:
    """A headless kiosk (tests/support/kiosk_harness.py's child) running ``target`` in its own
    process, which the test can talk to through files in ``control`` and kill::

        k = KioskProcess("tests.test_x:_scenario", config=cfg).start()
        k.command("take_number")            # the scenario waits for control/take_number
        k.result("took")                    # and writes control/took.json
        k.kill()
    """

    def __init__(self, target: str, width: int = 1080, height: int = 1920, **args: Any) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="kiosk-proc-")
        self.control = Path(self.tmp.name) / "control"
        self.control.mkdir()
        self.target = target
        self.args = {**args, "control": str(self.control)}
        self.size = (width, height)
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> KioskProcess:
        env = dict(os.environ, PYTHONPATH=str(ROOT), KIVY_HOME=str(Path(self.tmp.name) / "kivy-home"))
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        self.log = open(Path(self.tmp.name) / "kiosk.log", "w")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "-m", "tests.support.kiosk_harness", self.target, json.dumps(self.args),
               str(Path(self.tmp.name) / "result.json"), str(self.size[0]), str(self.size[1])]
        self.proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     text=True)
        return self

    def command(self, name: str, **data: Any) -> None:
        (self.control / f"{name}.cmd").write_text(json.dumps(data), encoding="utf-8")

    def result(self, name: str, timeout: float = 60) -> dict[str, Any]:
        path = self.control / f"{name}.json"

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"kiosk process exited ({self.proc.returncode}):\n{self.output()}")
            return path.exists()

        wait_until(ready, timeout, f"kiosk result {name}")
        return json.loads(path.read_text(encoding="utf-8"))

    def output(self) -> str:
        self.log.flush()
        return (Path(self.tmp.name) / "kiosk.log").read_text(encoding="utf-8", errors="replace")[-6000:]

    def kill(self) -> None:
        """SIGKILL, like a power cut or a crash: nothing says goodbye to the server."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        self.kill()
        if hasattr(self, "log"):
            self.log.close()
        self.tmp.cleanup()


def scenario_commands(driver: Any, control: str, handlers: dict[str, Callable[..., dict[str, Any] | None]],
                      until: float = 600.0) -> None:
    """Inside a kiosk scenario: pump the Kivy loop and run ``handlers[name](**data)`` for
    every ``<name>.cmd`` file that appears in ``control``, writing its answer to
    ``<name>.json``; returns on a ``quit`` command (or after ``until`` seconds)."""
    folder = Path(control)
    end = time.monotonic() + until
    while time.monotonic() < end:
        driver.pump(0.05)
        for cmd in sorted(folder.glob("*.cmd")):
            name = cmd.stem
            data = json.loads(cmd.read_text(encoding="utf-8") or "{}")
            cmd.unlink()
            if name == "quit":
                return
            answer = handlers[name](**data) or {}
            tmp = folder / f"{name}.json.tmp"
            tmp.write_text(json.dumps(answer, ensure_ascii=False), encoding="utf-8")
            tmp.replace(folder / f"{name}.json")
