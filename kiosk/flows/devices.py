"""The kiosk's device watcher: checks its devices, tells the server, carries out test actions.

Every ``[devices] heartbeat_s`` seconds (15–30 in a hall) a background thread makes one
health record (``hardware.health.DeviceHealth``) per device this kiosk uses and posts a
heartbeat (``POST /api/devices/heartbeat``); the server answers with the test actions a
technician queued on ``/tech`` (print a test page, probe the card reader, reload the
configuration), which the watcher carries out and whose results it posts back.

The records come from the devices the kiosk already has open, between the citizens' uses:

==========  ===========================================================================
printer     DLE EOT on the kiosk's printer connection (``KioskPrinter.health``)
idcard      SAM status and card presence on the open reader (``HardwareCardReader.health``),
            skipped while the identity check polls it
camera      the identity check's camera as its frames show (a tap counts them); a camera
            nobody holds is opened, read once and closed (``hardware.camera.health``)
scanner     serial mode: the port opens (``hardware.scanner.health``); a keyboard-wedge
            scanner cannot be asked and is left out
voice       elder-mode prompts: espeak-ng and an audio player are there
==========  ===========================================================================

The flows and the watcher agree (DESIGN §5, never a dead end): a failed print reports the
printer at once and triggers an early heartbeat; a card reader the watcher saw fail makes
the swipe step say so at once and offer its way forward, and a failed camera sends priority
numbers through the plain card swipe instead of the face check
(:meth:`DeviceWatcher.usable`). No Kivy here.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardware.health import DeviceHealth

if TYPE_CHECKING:
    from kiosk.flows.session import Kiosk

log = logging.getLogger(__name__)

#: Component kinds in the order a heartbeat lists them.
ORDER = ("printer", "idcard", "camera", "scanner", "voice")
#: Camera reads without a frame in a row that count as a failed camera (the identity check's
#: own limit, kiosk.flows.identity.CAMERA_MISSES, is the same order).
CAMERA_MISSES = 30


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("yichuang")
    except Exception:  # running from a checkout without metadata
        return "dev"


def _face_model(identity: Any) -> str:
    """The face model the identity check uses (YuNet + SFace files, sha256 prefixes), if loaded."""
    models = getattr(getattr(getattr(identity, "verifier", None), "analyzer", None), "models", None)
    summary = getattr(models, "summary", None)
    try:
        return str(summary()) if callable(summary) else ""
    except Exception:  # a half-loaded verifier: say nothing rather than fail the health check
        return ""


class CameraTap:
    """Wraps the identity check's camera to see its frames without taking any: counts frames
    and misses, remembers the last frame's size and time. Frames are not kept (DESIGN §11)."""

    def __init__(self, camera: Any, wall: Callable[[], float] = time.time) -> None:
        self.camera = camera
        self.wall = wall
        self.frames = 0
        self.misses = 0
        self.size: tuple[int, int] | None = None
        self.last_frame_at: float | None = None

    def read(self) -> Any:
        frame = self.camera.read()
        if frame is None:
            self.misses += 1
        else:
            self.misses = 0
            self.frames += 1
            self.size = (int(frame.shape[1]), int(frame.shape[0]))
            self.last_frame_at = self.wall()
        return frame

    def close(self) -> None:
        self.camera.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.camera, name)

    def health(self, name: str) -> DeviceHealth:
        if self.misses >= CAMERA_MISSES:
            return DeviceHealth("camera", name, "error",
                                f"摄像头无画面 / no frames: {self.misses} reads without a frame")
        if self.size is not None and self.last_frame_at is not None:
            at = time.strftime("%H:%M:%S", time.localtime(self.last_frame_at))
            return DeviceHealth("camera", name, "ok",
                                f"{self.size[0]}×{self.size[1]}, 最近画面 / last frame {at}")
        return DeviceHealth("camera", name, "ok", "已打开，尚未使用 / opened, not used since start")


class DeviceWatcher:
    """One per kiosk (``kiosk.devices``); :meth:`start` runs it in a daemon thread."""

    def __init__(self, kiosk: Kiosk, *, config_path: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kiosk = kiosk
        self.config_path = config_path
        self.clock = clock
        self.started = clock()
        self.records: dict[str, DeviceHealth] = {}
        """The latest record per component kind."""
        self.reported: dict[str, DeviceHealth] = {}
        """Failures the flows reported since the last check (they win until checked again)."""
        self.last_answer: dict[str, Any] | None = None
        self.last_error: str = ""
        """Why the last heartbeat did not reach the server ("" when it did)."""
        self.beats = 0
        self.actions_done: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tap: CameraTap | None = None
        self._reported_sent: set[str] = set()

    # -- what the flows ask and tell ------------------------------------------------------
    @property
    def interval(self) -> float:
        return float(self.kiosk.config.get("devices", "heartbeat_s"))

    @property
    def name(self) -> str:
        return str(self.kiosk.config.get("kiosk", "name"))

    def state(self, kind: str) -> str | None:
        """The last known state of this kiosk's ``kind`` device (None: not known / none)."""
        with self._lock:
            rec = self.reported.get(kind) or self.records.get(kind)
        return rec.state if rec is not None else None

    def usable(self, kind: str) -> bool:
        """False only when the watcher saw ``kind`` fail (``error``): the flows then take
        their way around it at once instead of waiting for the device."""
        return self.state(kind) != "error"

    def report(self, kind: str, name: str, state: str, detail: str) -> None:
        """A flow saw a device fail (or work again): remember it and, when it changed the
        device's state, beat early so the technician's page shows it now."""
        rec = DeviceHealth(kind, name, state, detail)
        with self._lock:
            before = self.reported.get(kind) or self.records.get(kind)
            if state == "error":
                self.reported[kind] = rec
            else:
                self.reported.pop(kind, None)
        if before is None or before.state != state:
            self._wake.set()

    def report_print(self, outcome: Any) -> None:
        """The ticket printer's outcome (``kiosk.flows.printer.PrintOutcome``)."""
        printer = self.kiosk.printer
        if not printer.enabled:
            return
        if outcome.ok:
            self.report("printer", printer.url, "ok", "打印成功 / printed")
            return
        from yichuang.errors import CODES

        spec = CODES.get(outcome.code)  # the device's own words (paper_out: 打印机缺纸), not the citizen's
        zh, en = (spec.zh, spec.en) if spec is not None and spec.origin == "device" else ("打印失败", "print failed")
        self.report("printer", printer.url, "error", f"小票未能打印（{zh}）/ ticket not printed ({en[:1].lower()}{en[1:]})")

    # -- checks -----------------------------------------------------------------------------
    def check(self) -> list[DeviceHealth]:
        """Make a record for every device this kiosk uses (each check on its own: one
        broken device does not hide the others)."""
        out: dict[str, DeviceHealth] = {}
        for kind, fn in (("printer", self._printer), ("idcard", self._idcard), ("camera", self._camera),
                         ("scanner", self._scanner), ("voice", self._voice)):
            try:
                rec = fn()
            except Exception as exc:  # a check must never stop the watcher
                log.exception("%s check failed", kind)
                rec = DeviceHealth(kind, kind, "unknown", f"检查出错 / check failed: {exc}")
            if rec is not None:
                out[kind] = rec
        with self._lock:
            for kind in list(self.records):
                if kind not in out:
                    self.records.pop(kind)
            self.records.update(out)
            # a report the server has seen gives way to the check that followed it
            self.reported = {k: v for k, v in self.reported.items() if k not in self._reported_sent}
            self._reported_sent = set()
        return self.components_records()

    def components_records(self) -> list[DeviceHealth]:
        with self._lock:
            merged = {**self.records, **self.reported}
        return [merged[k] for k in ORDER if k in merged]

    def _printer(self) -> DeviceHealth | None:
        health = getattr(self.kiosk.printer, "health", None)
        return health() if health is not None else None

    def _idcard(self) -> DeviceHealth | None:
        reader = self.kiosk.card_reader
        health = getattr(reader, "health", None)
        if health is None:
            return None
        identity = self.kiosk.identity
        busy = identity is not None and getattr(getattr(identity, "state", None), "step", "") == "card"
        rec = health(busy=busy)
        if rec is None and busy:
            with self._lock:
                return self.records.get("idcard")  # keep the last one while a citizen uses it
        return rec

    def _camera(self) -> DeviceHealth | None:
        section = self.kiosk.config.section("camera")
        source = section.get("source", "")
        if source == "":
            return None
        name = str(source)
        identity = self.kiosk.identity
        camera = getattr(identity, "camera", None) if identity is not None else None
        if camera is not None:
            if not isinstance(camera, CameraTap):
                camera = identity.camera = CameraTap(camera)
            self._tap = camera
            rec = camera.health(name)
            model = _face_model(identity)
            if model:
                rec = DeviceHealth(rec.kind, rec.name, rec.state, f"{rec.detail}; 人脸模型 / face model {model}",
                                   rec.checked_at)
            return rec
        if getattr(self.kiosk, "identity_loading", False):
            return DeviceHealth("camera", name, "unknown", "人脸核验正在启动 / face check starting")
        from hardware.camera import health as camera_health

        rec = camera_health({k: v for k, v in section.items() if v != ""})
        problem = getattr(self.kiosk, "identity_error", "")
        if problem and rec.state == "ok" and self.kiosk.config.get("identity", "verify_face_for_priority"):
            return DeviceHealth("camera", name, "warning",
                                f"人脸核验不可用，优先取号改为刷身份证 / face check unavailable "
                                f"(priority numbers use the card swipe): {problem}"[:480])
        return rec

    def _scanner(self) -> DeviceHealth | None:
        if str(self.kiosk.config.get("scanner", "mode")) != "serial":
            return None  # keyboard wedge: nothing to ask; none: no scanner
        from hardware.scanner import health as scanner_health

        return scanner_health(str(self.kiosk.config.get("scanner", "port")),
                              int(self.kiosk.config.get("scanner", "baudrate")))

    def _voice(self) -> DeviceHealth | None:
        from kiosk.voice import SilentSpeaker

        if not self.kiosk.config.get("kiosk", "speech") or isinstance(self.kiosk.speaker, SilentSpeaker):
            return None
        if not shutil.which("espeak-ng"):
            return DeviceHealth("voice", "espeak-ng", "warning",
                                "未安装 espeak-ng，适老化语音提示不可用 / espeak-ng missing: no spoken prompts")
        player = next((p for p in ("paplay", "aplay", "play") if shutil.which(p)), None)
        if player is None:
            return DeviceHealth("voice", "espeak-ng", "warning",
                                "没有音频播放程序 / no audio player (paplay, aplay or sox play)")
        return DeviceHealth("voice", "espeak-ng", "ok", f"espeak-ng + {player}")

    # -- heartbeat --------------------------------------------------------------------------
    def body(self) -> dict[str, Any]:
        """The heartbeat this kiosk sends now (from the last check)."""
        disk = disk_free_mb(Path(self.config_path).parent if self.config_path else Path.cwd())
        return {"name": self.name, "kind": "kiosk", "version": _version(),
                "uptime_s": round(self.clock() - self.started, 1), "disk_free_mb": disk,
                "components": [{"kind": r.kind, "name": r.name[:200], "state": r.state, "detail": r.detail[:500]}
                               for r in self.components_records()]}

    def beat(self) -> dict[str, Any] | None:
        """Post one heartbeat and carry out the actions it brings back. None when the
        server could not be reached or refused it (``last_error`` says why)."""
        body = self.body()
        with self._lock:
            carried = set(self.reported)
        try:
            answer = self.kiosk.client.heartbeat(body)
        except Exception as exc:  # server down, token revoked, name not the token's …
            msg = f"{getattr(exc, 'code', type(exc).__name__)}: {exc}"
            if msg != self.last_error:
                log.warning("heartbeat not accepted: %s", msg)
            self.last_error = msg
            return None
        self.last_error = ""
        with self._lock:
            self._reported_sent |= carried
        self.last_answer = answer
        self.beats += 1
        for action in answer.get("actions") or []:
            self.carry_out(action)
        return answer

    def carry_out(self, action: dict[str, Any]) -> tuple[bool, str]:
        """Do one test action and post its result."""
        kind = str(action.get("action", ""))
        try:
            ok, detail = {"test_print": self.kiosk.printer.print_test_page, "probe_idcard": self.probe_idcard,
                          "reload_config": self.reload_config}[kind]()
        except KeyError:
            ok, detail = False, f"本机不支持该操作 / unknown action {kind!r}"
        except Exception as exc:
            log.exception("action %s failed", kind)
            ok, detail = False, f"执行出错 / failed: {exc}"
        self.actions_done.append({"id": action.get("id"), "action": kind, "ok": ok, "detail": detail})
        try:
            self.kiosk.client.post_action_result(self.name, int(action.get("id") or 0), ok, detail)
        except Exception as exc:
            log.warning("result of action %s not posted: %s", action.get("id"), exc)
        if kind in ("test_print", "reload_config"):
            self._wake.set()  # the printer's state (or the configuration) may have changed
        return ok, detail

    def probe_idcard(self) -> tuple[bool, str]:
        reader = self.kiosk.card_reader
        health = getattr(reader, "health", None)
        if health is None:
            return False, "本机未配置读卡器 / no card reader configured"
        identity = self.kiosk.identity
        busy = identity is not None and getattr(getattr(identity, "state", None), "step", "") == "card"
        if busy:
            return False, "读卡器正被市民使用，请稍后再试 / the reader is in use by a citizen; try again"
        rec = health()
        if rec is None:
            return False, "本机未配置读卡器 / no card reader configured"
        with self._lock:
            self.records["idcard"] = rec
        return rec.state == "ok", rec.detail

    def reload_config(self) -> tuple[bool, str]:
        """Read the configuration file again. What can change while the kiosk runs is applied
        (printer, kiosk texts and timers, server timeouts, heartbeat); the rest (card reader,
        camera, face check, scanner, server address and token, window size) needs a restart,
        and the answer says which."""
        from kiosk.config import KioskConfig, load
        from kiosk.errors import ConfigError
        from kiosk.flows.printer import KioskPrinter

        if not self.config_path:
            return False, "没有配置文件（演示或默认配置）/ no configuration file (demo or defaults)"
        try:
            new = load(self.config_path)
        except ConfigError as exc:
            return False, f"配置有误，未加载 / not loaded: {exc.detail}"
        old = self.kiosk.config
        live = {"printer": (), "kiosk": ("width", "height", "fullscreen"), "devices": (),
                "server": ("url", "token")}
        merged = old.sections()
        applied: list[str] = []
        restart: list[str] = []
        for section in sorted(set(new.values) | set(old.values)):
            before, after = old.section(section), new.section(section)
            if before == after:
                continue
            if section not in live:
                restart.append(f"[{section}]")
                continue
            for key, value in after.items():
                if before.get(key) == value:
                    continue
                if key in live[section]:
                    restart.append(f"{section}.{key}")
                else:
                    merged[section][key] = value
                    applied.append(f"{section}.{key}")
        self.kiosk.config = KioskConfig(values=merged, source=new.source)
        if any(a.startswith("printer.") for a in applied):
            old_printer, self.kiosk.printer = self.kiosk.printer, KioskPrinter.from_config(merged["printer"])
            old_printer.close()
        if any(a.startswith("server.timeout") for a in applied):
            self.kiosk.client.timeout = float(merged["server"]["timeout"])
        self._wake.set()
        if not applied and not restart:
            return True, "配置未变化 / no change"
        text = "已重新加载 / reloaded" + (f"; 已应用 / applied: {', '.join(applied)}" if applied else "")
        if restart:
            text += f"; 需重启自助机 / restart the kiosk for: {', '.join(restart)}"
        return True, text

    # -- the thread -----------------------------------------------------------------------
    def start(self) -> DeviceWatcher | None:
        """Start watching (None when heartbeats are off: ``heartbeat_s = 0`` or no token)."""
        if self.interval <= 0 or not self.kiosk.config.token:
            log.info("device heartbeats off (%s)", "no token" if self.interval > 0 else "heartbeat_s = 0")
            return None
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="device-watcher", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Check and beat now (tests, a flow's report)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.check()
                self.beat()
            except Exception:  # the watcher never dies
                log.exception("device watcher round failed")
            self._wake.wait(max(0.2, self.interval))


def disk_free_mb(path: str | os.PathLike[str]) -> float | None:
    try:
        return round(shutil.disk_usage(path).free / 1048576, 1)
    except OSError:
        return None
