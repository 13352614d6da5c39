"""Call announcements: wording, clip order, duration, loudness and click-free joins."""

from __future__ import annotations

import io
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from hardware.voice import (
    CLIP_NAMES,
    RATE,
    ClipLibrary,
    VoiceError,
    announcement_text,
    announcement_tokens,
    announcement_wav,
    read_wav,
    render_announcement,
    wav_bytes,
    window_tokens,
)


def samples_of(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return x, rate


def rms_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12))


def test_default_library_is_complete():
    assert ClipLibrary().missing() == []


def test_call_is_2_to_6_seconds_and_loud_enough():
    x, rate = samples_of(announcement_wav("A012", 3, "call"))
    assert rate == RATE
    duration = len(x) / rate
    assert 2.0 <= duration <= 6.0, duration
    # Loudness of the speech part (after the chime), and both repetitions present.
    assert rms_dbfs(x) > -30
    half = len(x) // 2
    assert rms_dbfs(x[int(0.7 * rate) : half]) > -30
    assert rms_dbfs(x[half:]) > -30
    assert float(np.max(np.abs(x))) <= 0.9  # never clipped


def test_recall_is_longer_than_call_and_starts_differently():
    call, _ = samples_of(announcement_wav("B105", 12, "call"))
    recall, _ = samples_of(announcement_wav("B105", 12, "recall"))
    assert len(recall) > len(call)
    assert not np.array_equal(call[: RATE * 2], recall[: RATE * 2])


def test_sentence_says_number_digit_by_digit_and_window_as_cardinal():
    tokens = [t for t in announcement_tokens("a012", 3, "call") if isinstance(t, str)]
    assert tokens == ["qing", "A", "0", "1", "2", "hao", "dao", "3", "hao", "chuangkou", "banli"]
    recall = [t for t in announcement_tokens("A012", 3, "recall") if isinstance(t, str)]
    assert recall[0] == "chonghu" and recall[-4:] == ["3", "hao", "chuangkou", "banli"]
    assert window_tokens(10) == ["shi"]
    assert window_tokens(12) == ["shi", "2"]
    assert window_tokens(20) == ["2", "shi"]
    assert window_tokens(35) == ["3", "shi", "5"]
    assert window_tokens(105) == ["1", "0", "5"]
    assert announcement_text("A012", 3) == "请 A012 号到 3 号窗口办理"
    assert announcement_text("A012", 3, "recall") == "重呼 A012 号，请到 3 号窗口办理"


@pytest.mark.parametrize("number", ["", "A", "12A", "AB12", "A-12", "A0123456"])
def test_bad_numbers_are_refused(number):
    with pytest.raises(VoiceError) as e:
        announcement_tokens(number, 3)
    assert e.value.code == "voice_bad_input"


def test_joins_of_real_clips_have_no_clicks():
    joins: list[int] = []
    x = render_announcement("A012", 3, "call", joins=joins)
    # chime + 11 clips per sentence, twice: 23 clips, each with a start and an end.
    assert len(joins) == 2 * 23
    # At every join the signal is near zero on both sides: no step. Speech peaks near
    # 0.9, so an unfaded cut shows values of that order right at the edge.
    edge = int(0.0005 * RATE)
    steps = [float(np.max(np.abs(x[max(0, j - edge) : j + edge]))) for j in joins]
    assert max(steps) < 0.02, max(steps)
    # And the neighbourhood of a join is never rougher than the speech itself.
    d = np.abs(np.diff(x))
    speech_step = float(np.percentile(d[d > 0], 99))
    for j in joins:
        assert float(np.max(d[max(0, j - edge) : j + edge])) <= speech_step


def test_fades_remove_clicks_from_clips_that_start_and_end_at_full_scale(tmp_path: Path):
    # A hall's recording cut badly: every clip starts and ends at peak amplitude.
    t = np.arange(int(0.2 * RATE)) / RATE
    harsh = (0.8 * np.cos(2 * np.pi * 220 * t)).astype(np.float32)
    for name in CLIP_NAMES:
        (tmp_path / f"{name}.wav").write_bytes(wav_bytes(harsh))
    x = render_announcement("A012", 3, "call", ClipLibrary(tmp_path))
    raw_jump = abs(float(harsh[0]))
    assert raw_jump > 0.5
    # Largest step between neighbouring samples: the 220 Hz tone itself, never a jump.
    tone_step = 2 * np.pi * 220 / RATE * float(np.max(np.abs(x)))
    assert float(np.max(np.abs(np.diff(x)))) <= tone_step * 1.05


def test_missing_clip_is_a_typed_error(tmp_path: Path):
    shutil.copy(ClipLibrary().directory / "chime.wav", tmp_path / "chime.wav")
    lib = ClipLibrary(tmp_path)
    assert "qing" in lib.missing()
    with pytest.raises(VoiceError) as e:
        render_announcement("A012", 3, "call", lib)
    assert e.value.code == "voice_missing_clip"


def test_stereo_44k_recordings_are_converted(tmp_path: Path):
    t = np.arange(44100) / 44100
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(np.repeat(tone, 2).tobytes())
    x = read_wav(path)
    assert abs(len(x) - RATE) <= 1
    assert 0.45 < float(np.max(np.abs(x))) < 0.55


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_make_clips_regenerates_a_complete_library(tmp_path: Path):
    from hardware.voice.make_clips import make_clips

    files = make_clips(tmp_path)
    assert len(files) == len(CLIP_NAMES)
    lib = ClipLibrary(tmp_path)
    assert lib.missing() == []
    for name in ("qing", "hao", "chuangkou", "A", "W", "0", "9"):
        clip = lib.clip(name)
        assert 0.05 < len(clip) / RATE < 0.8, name
        assert rms_dbfs(clip) > -25, name
