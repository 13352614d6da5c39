"""``yichuang-kiosk doctor``: check the configuration and every configured device, say what
to do about each failure, exit non-zero on any failure.

:func:`run_doctor` returns a :class:`Report`; :func:`render` prints it as a table (a mark per
check, then for each failure or warning what to do, in Chinese and English) and
:meth:`Report.as_dict` is the ``--json`` form.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.tech import checks
from kiosk.tech.configcheck import check_config
from kiosk.tech.findings import CHECKS, MARKS, Finding

#: The checks ``--skip`` may name.
SKIPPABLE = ("printer", "idcard", "camera", "scanner", "audio", "server")


@dataclass
class Report:
    config_path: str
    kiosk_name: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.state == "fail"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.state == "warn"]

    def ok(self, strict: bool = False) -> bool:
        return not self.failed and not (strict and self.warnings)

    def as_dict(self, strict: bool = False) -> dict[str, Any]:
        return {"ok": self.ok(strict), "config": self.config_path, "kiosk": self.kiosk_name,
                "failed": len(self.failed), "warnings": len(self.warnings),
                "checks": [f.as_dict() for f in self.findings]}


def run_doctor(config_path: str | Path | None, *, test_print: bool = False, wait_scan: float | None = None,
               skip: Iterable[str] = (), face: bool = True, timeout: float | None = None,
               progress: Callable[[str], None] | None = None) -> Report:
    """Run every check; ``skip`` names checks not to run (:data:`SKIPPABLE`)."""
    skipped = set(skip)
    cfg_report = check_config(config_path)
    cfg = cfg_report.config
    report = Report(cfg_report.path, str(cfg.get("kiosk", "name")), list(cfg_report.findings))
    steps: list[tuple[str, Callable[[], list[Finding]]]] = [
        ("printer", lambda: checks.check_printer(cfg, test_print=test_print)),
        ("idcard", lambda: checks.check_idcard(cfg)),
        ("camera", lambda: checks.check_camera(cfg, face=face)),
        ("scanner", lambda: checks.check_scanner(cfg, wait_scan=wait_scan)),
        ("audio", lambda: checks.check_audio(cfg)),
        ("server", lambda: checks.check_server(cfg, timeout=timeout)),
    ]
    for name, step in steps:
        if name in skipped:
            report.findings.append(Finding(name, "skip", "", "按 --skip 跳过 / skipped (--skip)"))
            continue
        if progress is not None:
            progress(name)
        try:
            report.findings.extend(step())
        except Exception as exc:  # a check that breaks is a finding, not a traceback
            report.findings.append(Finding(name, "fail", "", f"检查出错 / the check itself failed: "
                                                             f"{type(exc).__name__}: {exc}"))
    return report


def _width(text: str) -> int:
    """Terminal columns of ``text`` (hanzi take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - _width(text))


def render(report: Report, strict: bool = False) -> str:
    """The report as the table the technician reads."""
    lines = [f"一窗通 自助机自检 Kiosk self-check — {report.config_path} (kiosk.name = {report.kiosk_name})", ""]
    titles = {f.check: f"{CHECKS[f.check][0]} {CHECKS[f.check][1]}" for f in report.findings}
    col = max((_width(t) for t in titles.values()), default=10) + 2
    target_col = min(34, max((_width(f.target) for f in report.findings), default=0)) + 2
    for f in report.findings:
        target = f.target if _width(f.target) <= 32 else "…" + f.target[-31:]
        head = f"{MARKS[f.state]} {_pad(titles[f.check], col)}{_pad(target, target_col)}"
        if f.code:
            lines.append(f"{head}{f.message} / {f.message_en}")
            if f.detail:
                lines.append(f"{' ' * 4}({f.detail})")
            if f.advice:
                lines.append(f"{' ' * 4}→ 怎么办：{f.advice}")
                lines.append(f"{' ' * 4}  What to do: {f.advice_en}")
        else:
            lines.append(f"{head}{f.detail}")
    failed, warned = len(report.failed), len(report.warnings)
    lines.append("")
    if report.ok(strict):
        verdict = "通过 PASSED" + (f"（{warned} 项警告 / {warned} warning(s)）" if warned else "")
    else:
        verdict = f"未通过 FAILED：{failed} 项失败 / {failed} failed, {warned} 项警告 / {warned} warning(s)"
    lines.append(f"结果 Result: {verdict}")
    return "\n".join(lines)
