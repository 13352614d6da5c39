"""Print jobs (placeholder until the print-queue work lands: printing is off)."""

from __future__ import annotations

from typing import Any


def enqueue_ticket_print(conn: Any, ticket_id: int, printer: str | None = None) -> int | None:
    """Queue a ticket print in the caller's transaction; returns the job id, or None
    when no printer is configured (the caller reports "not printed")."""
    return None
