"""Spoken prompts for 适老化 elder mode: best effort, never blocking the UI.

espeak-ng with the ``cmn-latn-pinyin`` voice (``cmn`` misreads 请/号, DESIGN §6) renders a
WAV that is played with the first player found (``paplay``, ``aplay``, sox's ``play``).
A newer prompt cancels one still playing. On a machine without audio the prompt is
rendered and dropped; ``spoken`` keeps the last prompts for tests and diagnostics.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from pathlib import Path

log = logging.getLogger(__name__)

VOICES = {"zh": "cmn-latn-pinyin", "en": "en"}


class Speaker:
    """Speaks text in a background thread; ``say()`` returns at once."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and shutil.which("espeak-ng") is not None
        self.player = next((p for p in ("paplay", "aplay", "play") if shutil.which(p)), None)
        self.spoken: deque[str] = deque(maxlen=20)
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="kiosk-voice-"))

    def say(self, text: str, lang: str = "zh") -> None:
        self.spoken.append(text)
        if not self.enabled:
            return
        threading.Thread(target=self._speak, args=(text, lang), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            if self._proc and self._proc.poll() is None:
                self._proc.terminate()
            self._proc = None

    @staticmethod
    def render(text: str, lang: str, wav: Path) -> bool:
        """Render ``text`` to ``wav`` with espeak-ng; False if that is not possible."""
        try:
            subprocess.run(["espeak-ng", "-v", VOICES.get(lang, "en"), "-s", "140",
                            "-w", str(wav), text], check=True, timeout=10,
                           capture_output=True)
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("speech render failed: %s", exc)
            return False
        return True

    def _speak(self, text: str, lang: str) -> None:
        wav = self._dir / f"prompt-{threading.get_ident()}.wav"
        if not self.render(text, lang, wav):
            return
        if not self.player:
            return
        cmd = [self.player, str(wav)] if self.player != "play" else ["play", "-q", str(wav)]
        with self._lock:
            if self._proc and self._proc.poll() is None:
                self._proc.terminate()
            try:
                self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
            except OSError as exc:
                log.info("speech playback failed: %s", exc)


class SilentSpeaker(Speaker):
    """Records prompts without sound (tests, benchmarks, speech turned off)."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
