"""The hall's catalogue as the API lists it: categories, active services, windows."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from queue_server.queue.common import load_windows
from queue_server.queue.lifecycle import window_dict


def categories(db: Database) -> list[dict[str, Any]]:
    rows = db.conn.execute("SELECT code, name, name_en, prefix FROM categories ORDER BY sort, code")
    return [{"code": r[0], "name": r[1], "name_en": r[2], "prefix": r[3]} for r in rows]


def services(db: Database) -> list[dict[str, Any]]:
    """Active services in display order, with their category's name."""
    rows = db.conn.execute(
        "SELECT s.code, s.name, s.name_en, s.category, c.name, s.prefix, s.self_service, s.daily_limit_per_id "
        "FROM services s JOIN categories c ON c.code = s.category WHERE s.active = 1 ORDER BY c.sort, s.sort, s.code"
    )
    return [
        {"code": r[0], "name": r[1], "name_en": r[2], "category": r[3], "category_name": r[4], "prefix": r[5],
         "self_service": bool(r[6]), "daily_limit_per_id": r[7], "id_required": r[7] is not None}
        for r in rows
    ]


def windows(db: Database) -> list[dict[str, Any]]:
    return [window_dict(w) for w in load_windows(db.conn)]
