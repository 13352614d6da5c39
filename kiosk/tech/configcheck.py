"""Every problem of a ``kiosk.toml`` at once — the kiosk itself stops at the first — and the
part of it that is still usable, so the device checks can go on with it.

Problems: the file is missing or not TOML; an unknown section or key (with the key it was
probably meant to be: ``printer.ulr`` → ``printer.url``); a value of the wrong type; a file a
key names (an SDK, a decoder, a model) that is not there. Each is a :class:`Finding` of the
``config`` check whose message and advice come from the registry (``config_*`` codes).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk import config as kconfig
from kiosk.config import KioskConfig, from_dict
from kiosk.errors import ConfigError
from kiosk.tech.findings import Finding

#: Keys naming a file or folder that must exist when set.
FILE_KEYS = (("idcard", "sdk_path"), ("idcard", "wlt_path"), ("idcard", "sim_photo"),
             ("face", "landmarks68_path"), ("face", "models_dir"))


@dataclass
class ConfigReport:
    path: str
    found: bool
    findings: list[Finding] = field(default_factory=list)
    config: KioskConfig = field(default_factory=KioskConfig)
    """The usable part: every good key, defaults for the bad ones."""

    @property
    def ok(self) -> bool:
        return not any(f.state == "fail" for f in self.findings)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _expected(section: str, key: str) -> tuple[str, str]:
    """What a key takes, in Chinese and English."""
    types = kconfig._TYPES.get((section, key))
    if types is not None:
        return "数字或带引号的文字", "a number or quoted text"
    default = kconfig._DEFAULTS[section][key]
    if isinstance(default, bool):
        return "true 或 false", "true or false"
    if isinstance(default, (int, float)):
        return "数字（不加引号）", "a number (no quotes)"
    if isinstance(default, tuple):
        return "文字列表，如 [\"a\", \"b\"]", "a list of quoted texts"
    return "带英文双引号的文字", "text in double quotes"


def _hint(word: str, choices: list[str], fmt: str) -> tuple[str, str]:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not match:
        return "", ""
    shown = fmt.format(match[0])
    return f"（是否应为 {shown}？）", f" (did you mean {shown}?)"


def check_config(path: str | Path | None) -> ConfigReport:
    """Read ``path`` (``None``: the built-in defaults) and report every problem."""
    if path is None:
        return ConfigReport("<defaults>", True, [Finding("config", "pass", "<defaults>",
                                                         "内置默认配置 / built-in defaults")])
    p = Path(path)
    report = ConfigReport(str(p), p.exists())
    if not p.exists():
        report.findings.append(Finding("config", "fail", str(p), code="config_file_missing", params={"path": str(p)}))
        return report
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        m = re.search(r"line (\d+)", str(exc))
        report.findings.append(Finding("config", "fail", str(p), str(exc), code="config_syntax",
                                       params={"line": m.group(1) if m else "?"}))
        return report
    clean: dict[str, dict[str, Any]] = {}
    retired: dict[tuple[str, str], str] = getattr(kconfig, "RETIRED", {})
    sections = list(kconfig._DEFAULTS)
    for section, entries in data.items():
        if section not in kconfig._DEFAULTS:
            zh, en = _hint(section, sections, "[{}]")
            report.findings.append(Finding("config", "fail", str(p), f"[{section}]", code="config_unknown_section",
                                           params={"section": section, "hint": zh, "hint_en": en}))
            continue
        if not isinstance(entries, dict):
            report.findings.append(Finding("config", "fail", str(p), f"{section} = {entries!r}", code="config_wrong_type",
                                           params={"key": section, "what": "应为一节 [..]", "what_en": "must be a [table]",
                                                   "example": f"[{section}]"}))
            continue
        keys = list(kconfig._DEFAULTS[section])
        for key, value in entries.items():
            name = f"{section}.{key}"
            if key not in kconfig._DEFAULTS[section]:
                if (section, key) in retired:
                    zh = en = f" ({retired[(section, key)]})"
                else:
                    zh, en = _hint(key, keys, section + ".{}")
                    if not zh:  # the right key in the wrong section?
                        home = [s for s in sections if key in kconfig._DEFAULTS[s]]
                        if home:
                            zh, en = f"（是否应放在 [{home[0]}] 下？）", f" (does it belong under [{home[0]}]?)"
                report.findings.append(Finding("config", "fail", str(p), f"{name} = {_toml(value)}",
                                               code="config_unknown_key", params={"key": name, "hint": zh, "hint_en": en}))
                continue
            try:
                from_dict({section: {key: value}}, source=str(p))
            except ConfigError as exc:
                zh, en = _expected(section, key)
                report.findings.append(Finding(
                    "config", "fail", str(p), exc.detail, code="config_wrong_type",
                    params={"key": name, "what": f"应为{zh}，现在是 {_toml(value)}",
                            "what_en": f"must be {en}, not {_toml(value)}",
                            "example": f"{key} = {_toml(kconfig._DEFAULTS[section][key])}"}))
                continue
            clean.setdefault(section, {})[key] = value
    language = clean.get("kiosk", {}).get("language")
    if language is not None and language not in ("zh", "en"):
        clean["kiosk"].pop("language")
        report.findings.append(Finding("config", "fail", str(p), f"kiosk.language = {_toml(language)}",
                                       code="config_wrong_type",
                                       params={"key": "kiosk.language", "what": "应为 \"zh\" 或 \"en\"",
                                               "what_en": "must be \"zh\" or \"en\"", "example": 'language = "zh"'}))
    for section, key in FILE_KEYS:
        value = clean.get(section, {}).get(key)
        if value and not Path(str(value)).exists():
            report.findings.append(Finding("config", "fail", str(p), f"{section}.{key} = {_toml(value)}",
                                           code="config_missing_file",
                                           params={"key": f"{section}.{key}", "path": str(value)}))
    report.config = from_dict(clean, source=str(p))
    if report.ok:
        n = sum(len(v) for v in clean.values())
        report.findings.insert(0, Finding("config", "pass", str(p),
                                          f"{len(clean)} 节 {n} 项，无误 / {len(clean)} sections, {n} keys, no problems",
                                          data={"sections": len(clean), "keys": n}))
    return report
