"""Call announcements spoken from a replaceable clip library (DESIGN.md §6 voice).

An announcement is a chime followed by the same sentence twice::

    call:    请 A012 号到 3 号窗口办理
    recall:  重呼 A012 号，请到 3 号窗口办理

It is built offline by concatenating short WAV clips, one per word or syllable, from
``assets/voice/clips/`` (see ``assets/voice/README.md`` for the list). The default clips
are made with espeak-ng (``python -m hardware voice make-clips``); a hall replaces them
with a recorded human voice by dropping WAV files with the same names into the folder.

Joins are click-free by construction: every clip is trimmed of silence, loudness
matched, and given short raised-cosine fades, so each join goes through zero amplitude;
between clips there are short gaps of digital silence. Ticket numbers are read one
character at a time (A 0 1 2: "A 零一二"); window numbers 1–99 as Chinese cardinals
(十二号窗口), larger window numbers digit by digit.
"""

from __future__ import annotations

import io
import os
import re
import threading
import wave
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hardware.health import DeviceHealth
from yichuang.errors import AppError

RATE = 22050
"""Sample rate of rendered announcements (and of the default clips)."""

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "assets" / "voice" / "clips"

WORDS = {
    "qing": "请",
    "hao": "号",
    "dao": "到",
    "chuangkou": "窗口",
    "banli": "办理",
    "chonghu": "重呼",
    "shi": "十",
}
DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Every clip name a complete library holds (file name = name + ".wav").
CLIP_NAMES: tuple[str, ...] = ("chime", *WORDS, *DIGITS, *LETTERS)

KINDS = ("call", "recall")
NUMBER_RE = re.compile(r"^[A-Z][0-9]{1,5}$")

# Gaps in seconds: between the characters of a ticket number, between words, between
# the two halves of a recall sentence, after the chime, between the two repetitions.
GAP_CHAR = 0.02
GAP_WORD = 0.04
GAP_COMMA = 0.15
GAP_CHIME = 0.15
GAP_REPEAT = 0.35
FADE = 0.008  # seconds of raised-cosine fade at each clip edge
TARGET_RMS = 0.12  # loudness every speech clip is scaled to (about -18 dBFS)
PEAK = 0.89  # never above -1 dBFS


class VoiceError(AppError, ValueError):
    """An announcement that cannot be rendered (``voice_bad_input``, ``voice_missing_clip``,
    ``voice_bad_clip``); ``detail`` says what exactly."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code, detail=detail)


def read_wav(path: str | os.PathLike[str], rate: int = RATE) -> np.ndarray:
    """Read a PCM WAV file as mono float32 in [-1, 1], resampled to ``rate``."""
    with wave.open(str(path), "rb") as w:
        channels, width, src_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise VoiceError("voice_bad_clip", f"unsupported WAV sample width in {path}")
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    if src_rate != rate and len(data) > 1:
        n = int(round(len(data) * rate / src_rate))
        data = np.interp(np.linspace(0, len(data) - 1, n), np.arange(len(data)), data)
    return np.asarray(data, dtype=np.float32)


def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    """16-bit mono PCM WAV bytes of float samples in [-1, 1]."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def trim_silence(x: np.ndarray, rate: int = RATE, threshold: float = 0.03, margin: float = 0.005) -> np.ndarray:
    """Cut leading and trailing samples quieter than ``threshold`` × peak (keeping a small margin)."""
    if len(x) == 0:
        return x
    peak = float(np.max(np.abs(x)))
    if peak == 0.0:
        return x[:0]
    loud = np.flatnonzero(np.abs(x) > threshold * peak)
    pad = int(margin * rate)
    return x[max(0, loud[0] - pad) : min(len(x), loud[-1] + pad + 1)]


def fade_edges(x: np.ndarray, rate: int = RATE, seconds: float = FADE) -> np.ndarray:
    """Raised-cosine fade in and out, so the clip starts and ends at zero."""
    n = min(int(seconds * rate), len(x) // 2)
    if n <= 0:
        return x
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
    y = x.copy()
    y[:n] *= ramp
    y[-n:] *= ramp[::-1]
    y[0] = y[-1] = 0.0
    return y


def prepare_speech(x: np.ndarray, rate: int = RATE) -> np.ndarray:
    """Trim, match loudness, cap the peak and fade: what every spoken clip goes through."""
    y = trim_silence(x, rate)
    if len(y) == 0:
        return y
    rms = float(np.sqrt(np.mean(y**2)))
    if rms > 0:
        y = y * (TARGET_RMS / rms)
    peak = float(np.max(np.abs(y)))
    if peak > PEAK:
        y = y * (PEAK / peak)
    return fade_edges(y.astype(np.float32), rate)


class ClipLibrary:
    """The clips of one folder, loaded once and prepared for joining."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, rate: int = RATE):
        self.directory = Path(directory) if directory else DEFAULT_DIR
        self.rate = rate
        self._clips: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def missing(self) -> list[str]:
        """Clip names the folder lacks; rendering a sentence that needs one raises ``voice.missing_clip``."""
        return [n for n in CLIP_NAMES if not (self.directory / f"{n}.wav").is_file()]

    def clip(self, name: str) -> np.ndarray:
        with self._lock:
            cached = self._clips.get(name)
            if cached is not None:
                return cached
            path = self.directory / f"{name}.wav"
            if not path.is_file():
                raise VoiceError("voice_missing_clip", f"voice clip missing: {path}")
            raw = read_wav(path, self.rate)
            clip = fade_edges(trim_silence(raw, self.rate, threshold=0.005)) if name == "chime" else prepare_speech(raw, self.rate)
            self._clips[name] = clip
            return clip


def window_tokens(window: int) -> list[str]:
    """Clip names for a window number: 3 → 三, 10 → 十, 12 → 十二, 20 → 二十, 105 → 一零五."""
    if window < 1:
        raise VoiceError("voice_bad_input", f"invalid window number {window}")
    if window < 10:
        return [str(window)]
    if window < 100:
        tens, ones = divmod(window, 10)
        out = ([] if tens == 1 else [str(tens)]) + ["shi"]
        return out + ([str(ones)] if ones else [])
    return list(str(window))


def announcement_tokens(number: str, window: int, kind: str = "call") -> list[str | float]:
    """One sentence as clip names and pauses (floats, seconds)."""
    number = number.strip().upper()
    if not NUMBER_RE.match(number):
        raise VoiceError("voice_bad_input", f"invalid ticket number {number!r}")
    if kind not in KINDS:
        raise VoiceError("voice_bad_input", f"invalid announcement kind {kind!r}")
    chars: list[str | float] = []
    for i, c in enumerate(number):
        if i:
            chars.append(GAP_CHAR)
        chars.append(c)
    win: list[str | float] = list(window_tokens(window))
    if kind == "call":
        return ["qing", GAP_WORD, *chars, "hao", GAP_WORD, "dao", *win, "hao", GAP_WORD, "chuangkou", "banli"]
    return ["chonghu", GAP_WORD, *chars, "hao", GAP_COMMA, "qing", "dao", *win, "hao", GAP_WORD, "chuangkou", "banli"]


def announcement_text(number: str, window: int, kind: str = "call") -> str:
    """The sentence as text (what the display shows next to the audio, and for logs)."""
    number = number.strip().upper()
    if kind == "recall":
        return f"重呼 {number} 号，请到 {window} 号窗口办理"
    return f"请 {number} 号到 {window} 号窗口办理"


def render(tokens: Sequence[str | float], library: ClipLibrary, joins: list[int] | None = None) -> np.ndarray:
    """Concatenate clips and silences. Adjacent clips get a 5 ms gap at least.

    ``joins``, if given, receives the sample offsets where each clip starts and ends
    (what a click test inspects).
    """
    parts: list[np.ndarray] = []
    prev_clip = False
    pos = 0
    for t in tokens:
        if isinstance(t, float):
            parts.append(np.zeros(int(t * library.rate), dtype=np.float32))
            pos += len(parts[-1])
            prev_clip = False
            continue
        if prev_clip:
            parts.append(np.zeros(int(0.005 * library.rate), dtype=np.float32))
            pos += len(parts[-1])
        parts.append(library.clip(t))
        if joins is not None:
            joins.extend((pos, pos + len(parts[-1])))
        pos += len(parts[-1])
        prev_clip = True
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def render_announcement(
    number: str, window: int, kind: str = "call", library: ClipLibrary | None = None, joins: list[int] | None = None
) -> np.ndarray:
    """Chime, the sentence, a pause, the sentence again: float samples at ``library.rate``."""
    lib = library or default_library()
    sentence = announcement_tokens(number, window, kind)
    tokens: list[str | float] = ["chime", GAP_CHIME, *sentence, GAP_REPEAT, *sentence, 0.1]
    return render(tokens, lib, joins)


_cache: OrderedDict[tuple[str, int, str, str], bytes] = OrderedDict()
_cache_lock = threading.Lock()
_default: ClipLibrary | None = None


def default_library() -> ClipLibrary:
    """The library in ``$YICHUANG_VOICE_DIR`` or ``assets/voice/clips``."""
    global _default
    if _default is None:
        _default = ClipLibrary(os.environ.get("YICHUANG_VOICE_DIR") or DEFAULT_DIR)
    return _default


def announcement_wav(number: str, window: int, kind: str = "call", library: ClipLibrary | None = None) -> bytes:
    """WAV bytes of an announcement; the last 256 are kept in memory (recalls are common)."""
    lib = library or default_library()
    key = (number.strip().upper(), int(window), kind, str(lib.directory))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    data = wav_bytes(render_announcement(number, window, kind, lib), lib.rate)
    with _cache_lock:
        _cache[key] = data
        while len(_cache) > 256:
            _cache.popitem(last=False)
    return data


def health(directory: str | os.PathLike[str] | None = None) -> DeviceHealth:
    """The clip library's health record: every clip present and readable — checked by
    loading each one (``ok``) — or the names missing / the clip that cannot be read
    (``error``). ``directory``: default ``$YICHUANG_VOICE_DIR`` or ``assets/voice/clips``."""
    lib = ClipLibrary(directory or os.environ.get("YICHUANG_VOICE_DIR") or DEFAULT_DIR)
    name = str(lib.directory)
    missing = lib.missing()
    if missing:
        shown = ", ".join(f"{m}.wav" for m in missing[:8]) + (" …" if len(missing) > 8 else "")
        return DeviceHealth("voice", name, "error", f"{len(missing)} of {len(CLIP_NAMES)} clips missing: {shown}")
    try:
        for clip in CLIP_NAMES:
            lib.clip(clip)
    except (VoiceError, OSError, EOFError, wave.Error) as exc:
        return DeviceHealth("voice", name, "error", f"clip {clip}.wav cannot be read: {exc}")
    return DeviceHealth("voice", name, "ok", f"all {len(CLIP_NAMES)} clips present and readable")
