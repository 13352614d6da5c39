"""Make the default clip library with espeak-ng (offline).

Words and digits use the ``cmn-latn-pinyin`` voice fed with tone-numbered pinyin (its
plain ``cmn`` voice misreads 请 and 号 when given hanzi); letters use the plain ``cmn``
voice, which reads a Latin letter the way Chinese halls say it (A "ei", Q "kiu",
W "da-bu-liu"). The chime is synthesised: two decaying bell tones, E5 then C5.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from hardware.voice import DIGITS, LETTERS, RATE, WORDS, fade_edges, read_wav, wav_bytes

PINYIN = {
    "qing": "qing3",
    "hao": "hao4",
    "dao": "dao4",
    "chuangkou": "chuang1 kou3",
    "banli": "ban4 li3",
    "chonghu": "chong2 hu1",
    "shi": "shi2",
    "0": "ling2",
    "1": "yi1",
    "2": "er4",
    "3": "san1",
    "4": "si4",
    "5": "wu3",
    "6": "liu4",
    "7": "qi1",
    "8": "ba1",
    "9": "jiu3",
}
SPEED = 300  # words per minute: brisk, as hall call systems speak (keeps a double call under 6 s)
PITCH = 45


def espeak_command(name: str) -> list[str]:
    """The espeak-ng invocation (without -w) that speaks clip ``name``."""
    if name in LETTERS:
        return ["espeak-ng", "-v", "cmn", "-s", str(SPEED), "-p", str(PITCH), name]
    return ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", str(SPEED), "-p", str(PITCH), PINYIN[name]]


def chime(rate: int = RATE) -> np.ndarray:
    """A two-tone "ding-dong" bell, about 0.55 s."""
    out = []
    for freq, dur in ((659.25, 0.22), (523.25, 0.34)):
        t = np.arange(int(dur * rate)) / rate
        env = np.exp(-t * 7.0)
        tone = np.sin(2 * np.pi * freq * t) + 0.35 * np.sin(2 * np.pi * 2 * freq * t) + 0.12 * np.sin(2 * np.pi * 3 * freq * t)
        out.append(fade_edges((0.45 * env * tone / 1.47).astype(np.float32), rate, 0.004))
    return np.concatenate(out)


def make_clips(directory: Path, rate: int = RATE) -> list[Path]:
    """Write every default clip into ``directory`` (created if needed); returns the files."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in (*WORDS, *DIGITS, *LETTERS):
            raw = Path(tmp) / f"{name}.wav"
            subprocess.run([*espeak_command(name)[:1], "-w", str(raw), *espeak_command(name)[1:]], check=True)
            target = directory / f"{name}.wav"
            # Stored as espeak made it (only resampled if needed): the renderer trims,
            # loudness-matches and fades at load time, exactly as it does for human recordings.
            target.write_bytes(wav_bytes(read_wav(raw, rate), rate))
            written.append(target)
    target = directory / "chime.wav"
    target.write_bytes(wav_bytes(chime(rate), rate))
    written.append(target)
    return written
