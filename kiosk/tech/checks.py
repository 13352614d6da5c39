"""The doctor's checks: one function per device and one for the server, each returning
:class:`~kiosk.tech.findings.Finding` rows (a ``pass`` row, or a row per problem).

Each opens its device itself, exactly as the kiosk would from the same configuration, and
closes it again: run the doctor while the kiosk is stopped (a serial port or camera the
running kiosk holds may answer for the kiosk, not for the doctor). Camera frames stay in
memory and are dropped; no card is read; nothing personal is printed.
"""

from __future__ import annotations

import email.utils
import os
import shutil
import subprocess
import tempfile
import time
import wave
from glob import glob
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig
from kiosk.tech.findings import Finding

#: [printer] keys that are driver options.
PRINTER_OPTIONS = ("paper", "chinese", "encoding", "cutter", "qr", "timeout")
#: Camera frames read before judging (auto-exposure settles), and the time allowed.
CAMERA_FRAMES = 10
CAMERA_SECONDS = 4.0
DARK, BRIGHT = 40.0, 220.0
#: Clock skew that warns, and that fails (seconds).
SKEW_WARN, SKEW_FAIL = 10.0, 120.0


def _ok_rows(check: str, rows: list[Finding], target: str, detail: str, data: dict[str, Any] | None = None
             ) -> list[Finding]:
    """``rows`` (problems), or one pass row when there are none."""
    return rows or [Finding(check, "pass", target, detail, data=data or {})]


# -- printer ------------------------------------------------------------------------------
def check_printer(cfg: KioskConfig, *, test_print: bool = False) -> list[Finding]:
    """DLE EOT status of ``[printer] url``; ``test_print``: print the test page too."""
    section = cfg.section("printer")
    url = str(section.get("url") or "")
    if not url:
        return [Finding("printer", "skip", "", "未配置打印机：号码只显示在屏幕上 / no printer: numbers are only shown")]
    from hardware.printer import PrinterConfigError, PrinterError, open_printer

    try:
        printer = open_printer(url, **{k: v for k, v in section.items() if k in PRINTER_OPTIONS})
    except PrinterConfigError as exc:
        return [Finding("printer", "fail", url, exc.detail, code="check_printer_config", params={"what": exc.detail})]
    rows: list[Finding] = []
    try:
        status = printer.status()
        data = status.as_dict()
        label = f"{status.label_zh} / {status.label_en}"
        if status.state == "offline":
            rows.append(Finding("printer", "fail", url, status.detail, code="check_printer_unreachable",
                                params={"url": url}, data=data))
        elif status.state in ("paper_out", "cover_open", "error"):
            code = {"paper_out": "paper_out", "cover_open": "cover_open", "error": "printer_fault"}[status.state]
            rows.append(Finding("printer", "fail", url, label, code=code, data=data))
        elif status.state == "unknown":
            rows.append(Finding("printer", "warn", url, status.detail, code="check_printer_silent", data=data))
        elif status.state == "near_end":
            rows.append(Finding("printer", "warn", url, label, code="check_printer_near_end", data=data))
        rows = _ok_rows("printer", rows, url, label, data)
        if test_print:
            if not status.can_print:
                rows.append(Finding("test_page", "fail", url, code="check_test_page_failed",
                                    params={"reason": status.label_zh, "reason_en": status.label_en}))
            else:
                try:
                    printer.print_test_page(check_status=False)
                    rows.append(Finding("test_page", "pass", url,
                                        "测试页已发送：请看中文、二维码和切纸是否正常 / test page sent: check the "
                                        "Chinese text, the QR code and the cut"))
                except PrinterError as exc:
                    rows.append(Finding("test_page", "fail", url, exc.detail, code="check_test_page_failed",
                                        params={"reason": exc.zh, "reason_en": exc.en}))
    finally:
        printer.close()
    return rows


# -- ID-card reader -------------------------------------------------------------------------
def _reader(cfg: KioskConfig) -> tuple[str | dict[str, Any] | None, str, str]:
    """(what hardware.idcard opens, its name, its port for messages)."""
    section = {k: v for k, v in cfg.section("idcard").items() if v != ""}
    url = str(section.get("url") or "")
    if url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        return url, url, parts.path or parts.netloc or url
    if section.get("driver"):
        port = str(section.get("port", ""))
        return section, f"{section['driver']}:{port}", port
    return None, "", ""


def check_idcard(cfg: KioskConfig) -> list[Finding]:
    """The reader opens, its SAM module answers ok and it can look for a card (no card is read)."""
    reader, name, port = _reader(cfg)
    if reader is None:
        return [Finding("idcard", "skip", "", "未配置读卡器：优先取号需要它 / no card reader (priority numbers need one)")]
    from hardware.idcard import (
        FrameError,
        IdCardError,
        ReaderTimeout,
        ReaderUnavailable,
        SamStatusError,
        probe,
    )

    try:
        out = probe(reader, read=False)
    except ReaderUnavailable as exc:
        return [Finding("idcard", "fail", name, exc.detail, code="check_idcard_absent", params={"port": port})]
    except SamStatusError as exc:
        return [Finding("idcard", "fail", name, exc.detail, code="check_idcard_sam_fault")]
    except (ReaderTimeout, FrameError, IdCardError) as exc:
        return [Finding("idcard", "fail", name, exc.detail or exc.en, code="check_idcard_no_answer",
                        params={"port": port})]
    except OSError as exc:
        return [Finding("idcard", "fail", name, str(exc), code="check_idcard_absent", params={"port": port})]
    if out.get("sam_ok") is False:
        return [Finding("idcard", "fail", name, "SW3 != 90", code="check_idcard_sam_fault")]
    sam = f"SAM {out['sam_id']}, " if out.get("sam_id") else ""
    card = "读卡区有卡 / a card on the reader" if out.get("card_present") else "读卡区无卡 / no card on the reader"
    return [Finding("idcard", "pass", name, sam + card,
                    data={"sam_id": out.get("sam_id"), "card_present": out.get("card_present")})]


# -- camera ----------------------------------------------------------------------------------
def grab_frame(section: dict[str, Any], frames: int = CAMERA_FRAMES, seconds: float = CAMERA_SECONDS) -> Any:
    """Open the camera, read up to ``frames`` frames in ``seconds`` and return the last one
    (None: no frame). Raises ``hardware.camera.CameraError`` when it cannot be opened."""
    from hardware.camera import open_camera

    camera = open_camera({k: v for k, v in section.items() if v != ""})
    last = None
    try:
        deadline = time.monotonic() + seconds
        got = 0
        while got < frames and time.monotonic() < deadline:
            frame = camera.read()
            if frame is None:
                time.sleep(0.03)
                continue
            last, got = frame, got + 1
    finally:
        camera.close()
    return last


def brightness(frame: Any) -> float:
    import cv2

    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    return float(grey.mean())


def check_camera(cfg: KioskConfig, *, face: bool = True) -> list[Finding]:
    """A frame: its size, its brightness and whether a face of usable size is in it."""
    section = cfg.section("camera")
    source = section.get("source", "")
    if source == "":
        return [Finding("camera", "skip", "", "未配置摄像头：优先取号改用刷身份证 / no camera: priority numbers use the card swipe")]
    from hardware.camera import CameraError

    target = str(source)
    try:
        frame = grab_frame(section)
    except CameraError as exc:
        return [Finding("camera", "fail", target, exc.detail, code="check_camera_unavailable", params={"source": target})]
    if frame is None:
        return [Finding("camera", "fail", target, code="check_camera_no_frames")]
    h, w = frame.shape[:2]
    level = round(brightness(frame))
    data: dict[str, Any] = {"width": int(w), "height": int(h), "brightness": level}
    rows: list[Finding] = []
    fc = None
    face_text = ""
    if face:
        from kiosk.tech.face import face_in_frame

        fc = face_in_frame(frame, cfg.section("face"))
        data["face"] = {"state": fc.state, "size": fc.size, "min_size": fc.min_size,
                        "brightness": None if fc.brightness is None else round(fc.brightness),
                        "model": fc.model}
        if fc.state == "ok":
            face_text = str(fc.size)
        elif fc.state == "too_small":
            rows.append(Finding("camera", "warn", target, f"{w}×{h}", code="check_camera_face_small",
                                params={"size": fc.size, "min_size": fc.min_size}, data=data))
        elif fc.state == "no_face":
            rows.append(Finding("camera", "warn", target, f"{w}×{h}", code="check_camera_no_face", data=data))
        else:
            rows.append(Finding("camera", "warn", target, fc.detail, code="check_face_unavailable",
                                params={"what": fc.detail[:120]}, data=data))
    # Light is judged where it matters: on the face when there is one (a lit face before a
    # dark hall is fine), else on the whole picture.
    judged = round(fc.brightness) if fc is not None and fc.brightness is not None else level
    if judged < DARK:
        rows.insert(0, Finding("camera", "warn", target, f"{w}×{h}", code="check_camera_too_dark",
                               params={"brightness": judged}, data=data))
    elif judged > BRIGHT:
        rows.insert(0, Finding("camera", "warn", target, f"{w}×{h}", code="check_camera_too_bright",
                               params={"brightness": judged}, data=data))
    del frame  # nothing of the picture is kept (DESIGN §11)
    zh = f"{w}×{h}，亮度 {level}" + (f"，人脸 {face_text} 像素" if face_text else "")
    en = f"brightness {level}" + (f", face {face_text} px" if face_text else "")
    if fc is not None and fc.model:
        en += f"; face model {fc.model}"
    return _ok_rows("camera", rows, target, f"{zh} / {en}", data)


# -- QR scanner -------------------------------------------------------------------------------
def check_scanner(cfg: KioskConfig, *, wait_scan: float | None = None) -> list[Finding]:
    """Serial mode: the port opens; ``wait_scan``: and one scan arrives within that many seconds."""
    mode = str(cfg.get("scanner", "mode"))
    if mode == "none":
        return [Finding("scanner", "skip", "", "未配置扫码器 / no QR scanner")]
    if mode != "serial":
        return [Finding("scanner", "skip", "keyboard",
                        "键盘模式的扫码器无法检测，建议设为虚拟串口模式 / a keyboard-wedge scanner cannot be "
                        "checked; virtual-serial mode is recommended")]
    from hardware.scanner import ScannerPort, ScannerUnavailable, split_scans

    port, baud = str(cfg.get("scanner", "port")), int(cfg.get("scanner", "baudrate"))
    try:
        line = ScannerPort(port, baud)
    except ScannerUnavailable as exc:
        return [Finding("scanner", "fail", port, exc.detail, code="check_scanner_port", params={"port": port})]
    try:
        if not wait_scan:
            return [Finding("scanner", "pass", port, f"串口可以打开（{baud} 波特）/ port opens at {baud} baud")]
        buf = bytearray()
        deadline = time.monotonic() + wait_scan
        while time.monotonic() < deadline:
            scans = split_scans(buf, line.read(256, 0.2))
            if scans:
                return [Finding("scanner", "pass", port, f"读到一次扫码（{len(scans[0])} 个字符）/ one scan read "
                                f"({len(scans[0])} characters)", data={"length": len(scans[0])})]
        return [Finding("scanner", "fail", port, code="check_scanner_no_scan", params={"seconds": int(wait_scan)})]
    finally:
        line.close()


# -- audio ---------------------------------------------------------------------------------
def sound_device() -> str:
    """A playback device or sound service this machine has ("" = none)."""
    cards = sorted(glob("/dev/snd/pcmC*D*p"))
    if cards:
        return Path(cards[0]).name
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    for sock in (os.environ.get("PULSE_SERVER", "").removeprefix("unix:"), f"{runtime}/pulse/native",
                 f"{runtime}/pipewire-0"):
        if sock and os.path.exists(sock):
            return Path(sock).name
    return ""


def check_audio(cfg: KioskConfig) -> list[Finding]:
    """Elder mode's spoken prompts: espeak-ng renders speech, a player and a sound device exist."""
    if not cfg.get("kiosk", "speech"):
        return [Finding("audio", "skip", "", "语音提示已关闭（kiosk.speech = false）/ spoken prompts off")]
    if not shutil.which("espeak-ng"):
        return [Finding("audio", "warn", "espeak-ng", code="check_audio_no_tts")]
    from kiosk.voice import VOICES

    seconds, loud = 0.0, 0.0
    with tempfile.TemporaryDirectory(prefix="kiosk-doctor-") as tmp:
        wav = Path(tmp) / "prompt.wav"
        try:
            subprocess.run(["espeak-ng", "-v", VOICES["zh"], "-w", str(wav), "qing qu hao"], check=True,
                           capture_output=True, timeout=15)
            import numpy as np

            with wave.open(str(wav), "rb") as w:
                frames = w.readframes(w.getnframes())
                seconds = w.getnframes() / float(w.getframerate() or 1)
            samples = np.frombuffer(frames, dtype=np.int16).astype(np.float64) / 32768.0
            loud = float(np.sqrt(np.mean(samples ** 2))) if samples.size else 0.0
        except (OSError, subprocess.SubprocessError, wave.Error, EOFError) as exc:
            return [Finding("audio", "fail", "espeak-ng", str(exc), code="check_audio_silent")]
    if seconds < 0.2 or loud < 0.005:
        return [Finding("audio", "fail", "espeak-ng", f"{seconds:.2f} s, RMS {loud:.4f}", code="check_audio_silent")]
    rows: list[Finding] = []
    player = next((p for p in ("paplay", "aplay", "play") if shutil.which(p)), "")
    if not player:
        rows.append(Finding("audio", "warn", "espeak-ng", code="check_audio_no_player"))
    device = sound_device()
    if not device:
        rows.append(Finding("audio", "warn", "espeak-ng", code="check_audio_no_device"))
    return _ok_rows("audio", rows, "espeak-ng",
                    f"语音合成 {seconds:.1f} 秒，{player}，{device} / speech renders ({seconds:.1f} s), {player}, {device}",
                    {"seconds": round(seconds, 2), "rms": round(loud, 4), "player": player, "device": device})


# -- queue server -------------------------------------------------------------------------
def check_server(cfg: KioskConfig, *, timeout: float | None = None) -> list[Finding]:
    """The server answers, the token is a valid kiosk token named like this kiosk, and the
    two clocks agree (rows ``server`` and ``clock``)."""
    import requests

    url = cfg.server_url
    name = str(cfg.get("kiosk", "name"))
    limit = float(timeout if timeout is not None else cfg.get("server", "timeout"))
    t0 = time.time()
    try:
        health = requests.get(url + "/api/health", timeout=limit)
    except requests.RequestException as exc:
        return [Finding("server", "fail", url, _reason(exc), code="check_server_unreachable",
                        params={"url": url}),
                Finding("clock", "skip", url, "未能检查 / not checked (server unreachable)")]
    t1 = time.time()
    rows = [_clock(url, health.headers.get("Date"), (t0 + t1) / 2)]
    if health.status_code != 200:
        try:
            what = str(health.json().get("storage", {}).get("state", health.status_code))
        except ValueError:
            what = f"HTTP {health.status_code}"
        return [Finding("server", "fail", url, what, code="check_server_unhealthy", params={"what": what}), *rows]
    if not cfg.token:
        return [Finding("server", "fail", url, code="check_server_no_token", params={"name": name}), *rows]
    try:
        me = requests.get(url + "/api/me", headers={"Authorization": f"Bearer {cfg.token}"}, timeout=limit)
    except requests.RequestException as exc:
        return [Finding("server", "fail", url, _reason(exc), code="check_server_unreachable",
                        params={"url": url}), *rows]
    if me.status_code in (401, 403):
        try:
            code = me.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = f"HTTP {me.status_code}"
        return [Finding("server", "fail", url, code, code="check_server_token_invalid", params={"name": name}), *rows]
    if me.status_code != 200:
        return [Finding("server", "fail", url, f"HTTP {me.status_code}", code="check_server_unhealthy",
                        params={"what": f"HTTP {me.status_code}"}), *rows]
    who = me.json()
    if who.get("role") != "kiosk":
        return [Finding("server", "fail", url, f"role {who.get('role')}", code="check_server_token_role",
                        params={"role": who.get("role"), "name": name}), *rows]
    if who.get("name") != name:
        return [Finding("server", "fail", url, f"token {who.get('name')}, kiosk.name {name}",
                        code="check_server_name_mismatch", params={"token_name": who.get("name"), "name": name}), *rows]
    return [Finding("server", "pass", url, f"可以连接，令牌有效（{name}）/ reachable, the token of {name} is valid",
                    data={"round_trip_ms": round((t1 - t0) * 1000)}), *rows]


def _reason(exc: Exception) -> str:
    """The useful end of a requests error: ``ConnectionError: [Errno 111] Connection refused``."""
    import re

    text = str(exc)
    m = re.search(r"\[Errno -?\d+\][^'\")]*|timed out|Name or service not known", text)
    return f"{type(exc).__name__}: {m.group(0).strip() if m else text[:200]}"


def _clock(url: str, date_header: str | None, local: float) -> Finding:
    if not date_header:
        return Finding("clock", "skip", url, "服务器没有给出时间 / the server sent no Date header")
    try:
        server = email.utils.parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError):
        return Finding("clock", "skip", url, f"Date: {date_header}")
    skew = local - server
    data = {"skew_s": round(skew, 1)}
    seconds = int(round(abs(skew)))
    if abs(skew) > SKEW_FAIL:
        return Finding("clock", "fail", url, f"{skew:+.0f} s", code="check_server_clock_skew",
                       params={"seconds": seconds}, data=data)
    if abs(skew) > SKEW_WARN:
        return Finding("clock", "warn", url, f"{skew:+.0f} s", code="check_server_clock_skew",
                       params={"seconds": seconds}, data=data)
    return Finding("clock", "pass", url, f"与服务器相差不到 {max(1, seconds)} 秒 / within {max(1, seconds)} s of the "
                   "server", data=data)
