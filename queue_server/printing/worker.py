"""Printer workers (placeholder until the print-queue work lands)."""

from __future__ import annotations

from pathlib import Path


def start_workers(db_path: str | Path) -> None:
    """Start one worker thread per configured printer in this process."""
    return None
