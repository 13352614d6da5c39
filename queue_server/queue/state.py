"""Read models: the hall state for displays, a window's queue, a ticket's public progress."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlite_utils import Database

from hardware.idnumber import mask_name
from queue_server import clock as clk
from queue_server.db import db_path, write_tx
from queue_server.errors import NotFound, ValidationError
from queue_server.events import last_event_id, record_event
from queue_server.queue import event_types  # noqa: F401  (declares what this module records)
from queue_server.queue.ahead import ahead_and_windows
from queue_server.queue.common import hall, load_window, load_windows, ticket_dict
from queue_server.queue.estimate import estimate_minutes
from queue_server.queue.order import ordered
from queue_server.settings import set_setting

RECENT_CALLS = 10


def hall_state(db: Database, *, clock: clk.Clock | None = None) -> dict[str, Any]:
    """What a display needs (shape in docs/architecture.md); no personal data but masked clerk names."""
    h = hall(db, clock)
    conn = db.conn
    # Read everything from one snapshot so last_event_id matches the rows (inside the
    # caller's transaction if there is one).
    own_tx = not conn.in_transaction
    if own_tx:
        conn.execute("BEGIN")
    try:
        clerks = {
            r[0]: {"name": mask_name(r[1]), "staff_no": r[2]}
            for r in conn.execute("SELECT id, display_name, staff_no FROM users")
        }
        current: dict[int, dict[str, Any]] = {}
        for r in conn.execute(
            "SELECT id, number, service_code, status, called_at, window FROM tickets "
            "WHERE day = ? AND status IN ('called', 'serving') AND window IS NOT NULL ORDER BY called_at",
            (h.day,),
        ):
            current[r[5]] = {"ticket_id": r[0], "number": r[1], "service": r[2], "status": r[3], "called_at": r[4]}
        windows = [
            {
                "number": w.number,
                "name": w.name,
                "kind": w.kind,
                "status": w.status,
                "pause_reason": w.pause_reason,
                "clerk": clerks.get(w.clerk_user_id) if w.clerk_user_id is not None else None,
                "current": current.get(w.number),
            }
            for w in load_windows(conn)
        ]
        start = clk.day_start(h.day, h.tz)
        recent = [
            {"number": r[0], "window": r[1], "kind": r[2], "ts": r[3]}
            for r in conn.execute(
                "SELECT number, window, kind, ts FROM call_log WHERE ts >= ? ORDER BY ts DESC, id DESC LIMIT ?",
                (start, RECENT_CALLS),
            )
        ]
        counts = dict(
            conn.execute(
                "SELECT s.category, SUM(w.n) FROM waiting_counts w JOIN services s ON s.code = w.service_code "
                "WHERE w.day = ? GROUP BY s.category",
                (h.day,),
            ).fetchall()
        )
        waiting = [
            {"category": r[0], "name": r[1], "name_en": r[2], "prefix": r[3], "count": int(counts.get(r[0], 0))}
            for r in conn.execute("SELECT code, name, name_en, prefix FROM categories ORDER BY sort, code")
        ]
        event_id = last_event_id(db)
    finally:
        if own_tx:
            conn.execute("COMMIT")
    return {
        "hall": {
            "name": h.settings.get("hall_name"),
            "name_en": h.settings.get("hall_name_en"),
            "day": h.day,
            "notice": h.settings.get("notice") or "",
            "timezone": h.settings.get("timezone") or "Asia/Shanghai",
            "now": h.now,
        },
        "windows": windows,
        "recent_calls": recent,
        "waiting": waiting,
        "waiting_total": sum(int(v) for v in counts.values()),
        "last_event_id": event_id,
    }


def window_queue(db: Database, window: int, *, clock: clk.Clock | None = None) -> list[dict[str, Any]]:
    """Waiting tickets of ``window`` in the exact order call-next would take them."""
    h = hall(db, clock)
    conn = db.conn
    w = load_window(conn, window)
    from queue_server.queue.common import TICKET_SELECT

    ids = [r["id"] for r in ordered(conn, w, h)]
    if not ids:
        return []
    rows = {
        r["id"]: r
        for r in conn.execute(TICKET_SELECT + f" WHERE t.id IN ({','.join('?' * len(ids))})", ids)
    }
    return [ticket_dict(rows[i], waiting_ahead=pos) for pos, i in enumerate(ids) if i in rows]


def ticket_progress(db: Database, progress_code: str, *, clock: clk.Clock | None = None) -> dict[str, Any]:
    """Public progress of a ticket (the QR on the ticket): no personal data."""
    if not isinstance(progress_code, str) or not 4 <= len(progress_code) <= 32:
        raise ValidationError("bad_progress_code")
    conn = db.conn
    row = conn.execute(
        "SELECT t.id, t.day, t.number, t.service_code, s.name, s.name_en, t.status, t.priority, "
        "t.issued_at, t.window, w.name FROM tickets t JOIN services s ON s.code = t.service_code "
        "LEFT JOIN windows w ON w.number = t.window WHERE t.progress_code = ?",
        (progress_code,),
    ).fetchone()
    if row is None:
        raise NotFound("ticket_not_found")
    ahead = minutes = 0
    if row[6] == "waiting":
        h = hall(db, clock)
        ahead, windows = ahead_and_windows(conn, db_path(db), h if h.day == row[1] else replace(h, day=row[1]),
                                           int(row[0]))
        minutes = estimate_minutes(conn, db_path(db), row[1], row[3], ahead, windows)
    shows_window = row[6] in ("called", "serving")
    return {
        "number": row[2],
        "day": row[1],
        "service": row[3],
        "service_name": row[4],
        "service_name_en": row[5],
        "status": row[6],
        "waiting_ahead": ahead,
        "estimated_wait_minutes": minutes,
        "issued_at": row[8],
        "window": row[9] if shows_window else None,
        "window_name": row[10] if shows_window else None,
    }


def set_notice(db: Database, text: str, *, clock: clk.Clock | None = None, actor: str = "system") -> str:
    """Change the notice line of the hall display (an empty string clears it); audited."""
    if not isinstance(text, str) or len(text) > 500:
        raise ValidationError("bad_notice")
    text = text.strip()
    with write_tx(db) as conn:
        set_setting(db, "notice", text, conn=conn, actor=actor)
        record_event(conn, "notice.changed", {"notice": text}, ts=clk.now(clock))
    return text
