"""Write a commented ``kiosk.toml``: the keys set-up chose, each under its help text from
``kiosk.config.SETTINGS``, with how the choice was made where that helps (the device that was
found, the test that passed). The file reads back with ``kiosk.config.load``."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

from kiosk import config as kconfig
from kiosk.tech.configcheck import _toml

SECTION_TITLES = {
    "server": "排队服务器 The hall's queue server",
    "kiosk": "本机 This kiosk",
    "printer": "小票打印机 Receipt printer",
    "idcard": "身份证阅读器 ID-card reader",
    "camera": "摄像头 Camera (人证比对 face check)",
    "face": "人脸核验 Face check",
    "identity": "人证比对 Identity check",
    "scanner": "扫码器 QR scanner",
    "devices": "设备监测 Device health",
}


def render_config(values: dict[str, dict[str, Any]], notes: dict[str, str] | None = None,
                  now: float | None = None) -> str:
    """The file's text. ``notes``: ``"section.key"`` → a line saying where the value came from."""
    notes = notes or {}
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(now if now is not None else time.time()))
    out = [f"# 一窗通 自助机配置 kiosk.toml — written by yichuang-kiosk setup, {stamp}",
           "# Every key and its default: docs/kiosk.md. Check this file and the devices with:",
           "#     yichuang-kiosk doctor --config kiosk.toml", ""]
    helps = {(s.section, s.key): s.help for s in kconfig.SETTINGS}
    order = list(dict.fromkeys(s.section for s in kconfig.SETTINGS))
    for section in sorted(values, key=lambda s: order.index(s) if s in order else len(order)):
        entries = values[section]
        if not entries:
            continue
        out.append(f"[{section}]" + (f"  # {SECTION_TITLES[section]}" if section in SECTION_TITLES else ""))
        for key, value in entries.items():
            for line in textwrap.wrap(helps.get((section, key), ""), 92):
                out.append(f"# {line}")
            note = notes.get(f"{section}.{key}")
            if note:
                out.append(f"#   ↳ {note}")
            out.append(f"{key} = {_toml(value)}")
        out.append("")
    return "\n".join(out)


def write_config(path: str | Path, values: dict[str, dict[str, Any]], notes: dict[str, str] | None = None) -> Path:
    """Write the file (its parent folder is created) and check it reads back."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = render_config(values, notes)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    kconfig.load(tmp)  # a file the kiosk would refuse is never put in place
    tmp.replace(p)
    return p
