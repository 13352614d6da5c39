"""Hall settings: declared here as data, stored as JSON rows in the ``settings`` table.

Change one with ``queue-server settings set KEY VALUE --db hall.db`` (VALUE is JSON, or a
plain string) or the admin API. Every setting is listed in ``docs/queue-server.md``.

Reads in the hot path (issuing, calling) go through a small per-process cache that lives
:data:`CACHE_SECONDS`; a change made by another server process is seen within that time,
a change made by this process at once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from queue_server.audit.chain import append
from queue_server.audit.records import SettingChanged
from queue_server.clock import parse_closed_days, parse_extended_days, parse_opening_hours
from queue_server.db import db_path, write_tx
from queue_server.errors import ValidationError

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

#: How long a process trusts its cached copy of the settings table.
CACHE_SECONDS = 2.0

#: Mon–Fri 08:30–12:00 and 13:00–17:30, Saturday morning 延时服务 09:00–12:00.
DEFAULT_OPENING_HOURS: dict[str, list[str]] = {
    "mon": ["08:30-12:00", "13:00-17:30"],
    "tue": ["08:30-12:00", "13:00-17:30"],
    "wed": ["08:30-12:00", "13:00-17:30"],
    "thu": ["08:30-12:00", "13:00-17:30"],
    "fri": ["08:30-12:00", "13:00-17:30"],
    "sat": ["09:00-12:00"],
    "sun": [],
}


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("hall_name", "政务服务大厅", "Hall name shown on displays and tickets (Chinese)."),
    Setting("hall_name_en", "Government Service Hall", "Hall name in English."),
    Setting("timezone", "Asia/Shanghai", "IANA time zone of the hall; defines the business day."),
    Setting(
        "opening_hours",
        DEFAULT_OPENING_HOURS,
        "Ticket-issuing hours per weekday (mon..sun) as lists of 'HH:MM-HH:MM'; [] = closed.",
    ),
    Setting(
        "closed_days",
        {},
        "Dates the hall is closed (holidays, maintenance) as {\"YYYY-MM-DD\": \"reason\"}; tickets are "
        "refused that date with the reason and the next opening time, and 差评 deadlines do not count "
        "it as a working day.",
    ),
    Setting(
        "extended_days",
        {},
        "延时服务 dates as {\"YYYY-MM-DD\": [\"HH:MM-HH:MM\", ...]}: these spans replace the weekday's "
        "opening_hours that date (open a Saturday, add an evening).",
    ),
    Setting(
        "enforce_opening_hours",
        True,
        "Refuse tickets outside opening_hours (the demo hall turns this off so it works any time).",
    ),
    Setting(
        "max_wait_minutes",
        45,
        "A ticket waiting longer than this jumps ahead of priority groups and service order (0 = off).",
    ),
    Setting(
        "no_show_recall_minutes",
        30,
        "How long a no-show (过号) ticket can still be recalled at its window.",
    ),
    Setting(
        "call_repeat_guard_seconds",
        5,
        "A second 叫下一位 at a window this many seconds after its last call, while that ticket is still "
        "called, is refused (409 just_called) until the clerk confirms (0 = off, at most 60).",
    ),
    Setting(
        "no_show_recall_last",
        3,
        "Only the last N no-show tickets of a window can be recalled.",
    ),
    Setting(
        "appointment_early_minutes",
        60,
        "How many minutes before the slot start an appointment may check in.",
    ),
    Setting(
        "appointment_late_minutes",
        15,
        "Minutes after the slot start an appointment is late: check-in answers 409 appointment_late and the citizen may take an ordinary ticket instead.",
    ),
    Setting("appointment_prefix", "Y", "Ticket prefix of on-time appointment tickets ('' = the service's)."),
    Setting("green_prefix", "V", "Ticket prefix of green-channel tickets ('' = the service's)."),
    Setting(
        "elderly_age",
        60,
        "Age from which a ticket taken with an ID number gets elderly priority (0 = off); "
        "60 is the legal definition of 老年人 (老年人权益保障法 art. 2), the kiosk's too.",
    ),
    Setting("notice", "", "Notice line shown on the hall display."),
    Setting("ticket_tip", "请留意叫号，过号请到窗口咨询", "Tip printed at the bottom of a ticket."),
    Setting(
        "public_url",
        "",
        "Address phones use to reach this server (http://hall.example:8000); the ticket QR links "
        "to <public_url>/t/<code>. Empty = env YICHUANG_PUBLIC_URL, else the address the kiosk used.",
    ),
    Setting("session_hours", 12, "Lifetime of a clerk's login token, in hours."),
    Setting(
        "approvals.region",
        "370114",
        "6-digit region code of the hall's district for 秒批 rules (本区户籍, 本区参保); the demo's is "
        "370114 (章丘区). '' = not set: every rule that needs it is unknown and goes to a person.",
    ),
    Setting(
        "approvals.sources",
        {},
        "HTTP adapters replacing the embedded data source per collection, e.g. {\"persons\": {\"url\": "
        "\"https://…\", \"timeout\": 2.0, \"token_env\": \"GA_TOKEN\"}}; {} = every collection local.",
    ),
    # 好差评 and the 差评 rectification loop (queue_server/evaluations, docs/evaluations.md).
    Setting(
        "evaluations.deadline_working_days",
        5,
        "A 差评's rectification deadline: the N-th working day after the day of the 差评 (1–60).",
    ),
    Setting(
        "evaluations.extension_working_days",
        5,
        "Working days the one extension of a rectification adds by default (1–15).",
    ),
    Setting(
        "evaluations.phone_days",
        7,
        "How many days after a ticket is finished its progress page /t/<code> offers the rating.",
    ),
    Setting(
        "evaluations.onsite_hours",
        24,
        "How many hours after the service the window pad and the kiosk may still rate it.",
    ),
    Setting(
        "evaluations.phone_limit_per_code",
        10,
        "Phone rating attempts per progress code per hour (beyond: 429 too_many_ratings).",
    ),
    Setting(
        "evaluations.phone_limit_per_address",
        30,
        "Phone rating attempts per client address per hour (beyond: 429 too_many_ratings).",
    ),
    Setting(
        "evaluations.pad_timeout_seconds",
        60,
        "The window rating pad goes dark after this many seconds without a rating (未评价).",
    ),
    Setting(
        "evaluations.channel_codes",
        {"window": "政务大厅平板电脑", "kiosk": "政务大厅其他终端", "phone": "二维码", "follow_up": "电话"},
        "The province's channel code for each internal channel (window, kiosk, phone, follow_up); "
        "defaults are the GB/T 39046 channel names.",
    ),
    Setting("backup_time", "22:30", "Time of day (HH:MM, hall time) of the daily backup; '' = no daily backup."),
    Setting("backup_dir", "", "Folder of the daily backups ('' = a backups folder beside the database)."),
    Setting("purge_time", "23:00", "Time of day (HH:MM, hall time) of the daily purge of personal data "
            "(docs/privacy.md); '' = no daily purge."),
    Setting("retention.queue_days", 0, "Days the personal fields of queue tickets and appointments (ID digest, "
            "masked ID, masked name, referral and transfer notes) are kept after their business day: 0 = "
            "purged at the end of the day (purge_time), 0-365 (docs/privacy.md)."),
    Setting("retention.record_days", 180, "Days the personal fields of 秒批 cases (masked holder, inputs, staff "
            "note) and of evaluations (masked evaluator, comment, follow-up notes) are kept, 1-3650."),
    Setting("backup_keep", 14, "How many daily backups to keep (the oldest are deleted)."),
    Setting("admin.report_time", "18:00", "Time of day (HH:MM, hall time) the end-of-day report (XLSX + PDF) is "
            "written into admin.reports_dir, but never before the day's closing time + 15 minutes (延时服务 "
            "evenings included); a server that was down writes the missed reports of the last 7 days with "
            "tickets when it starts; '' = no daily report."),
    Setting("admin.rollup_time", "18:30", "Time of day (HH:MM, hall time) of the daily sweep that makes the "
            "statistics' per-day facts of every closed day still without them (the server also makes them in "
            "the background as soon as a day is closed, and a day still missing on its first request); "
            "'' = no daily sweep."),
    Setting("admin.reports_dir", "", "Folder of the end-of-day reports ('' = a reports folder beside the database)."),
    Setting("admin.wait_target_minutes", {"*": 30}, "Target wait (issued → first call) in minutes per service code, "
            "\"*\" for every other service; the statistics' served_within_target is the share of served tickets "
            "that waited no longer."),
    Setting("uplink.interval_s", 5, "Seconds between batches to the city hub when no event is waiting "
            "(each carries the audit head and the day's figures); new events go at once."),
    Setting("uplink.batch_size", 500, "Most events in one batch to the city hub."),
    Setting("uplink.backoff_max_s", 300, "Longest wait between tries while the city hub cannot be reached "
            "(the wait doubles from 1 s up to this)."),
    Setting("uplink.manifest_interval_s", 300, "Seconds between looks for new manifests at the city hub."),
    Setting("uplink.timeout_s", 10, "Seconds an uplink request to the city hub may take."),
    Setting("licences.token_seconds", 120, "Lifetime of an e-licence QR token (亮证), in seconds."),
    Setting("licences.refresh_seconds", 60, "How often the kiosk shows a fresh e-licence token, in seconds."),
    Setting("licences.reverify_minutes", 30,
            "A holder showing a licence redoes the face check after this many minutes (0: at the next token)."),
    # Device health for technicians (queue_server/devices, docs/technicians.md).
    Setting("devices.stale_after_s", 90, "A kiosk or display with no heartbeat for this many seconds "
            "is stale (1–3600; devices beat every 15–30 s, by default 30: stale after three beats)."),
    Setting("devices.heartbeat_s", 30, "Seconds between heartbeats the server asks display pages for "
            "(1–300; a kiosk's own interval is [devices] heartbeat_s in its kiosk.toml)."),
    Setting("devices.action_timeout_s", 300, "A test action (test page, card-reader probe, reload) "
            "not carried out within this many seconds is expired (10–86400)."),
    Setting("devices.window_printers", {}, "Window number → the hall printer(s) at that window "
            "({\"3\": \"counter-3\"}); a clerk's console warns when its window's printer is down. "
            "A window not listed uses a printer named counter-N or window-N, if there is one."),
)

_BY_NAME = {s.name: s for s in SETTINGS}

_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def _db_key(db: Database) -> str:
    return db_path(db)


def _load(db: Database) -> dict[str, Any]:
    rows = db.conn.execute("SELECT key, value FROM settings").fetchall()
    return {r[0]: json.loads(r[1]) for r in rows}


def all_settings(db: Database, *, fresh: bool = False) -> dict[str, Any]:
    """Every declared setting with its stored value or default, plus any extra stored keys."""
    key = _db_key(db)
    now = time.monotonic()
    if not fresh:
        with _cache_lock:
            hit = _cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    values = {s.name: s.default for s in SETTINGS}
    values.update(_load(db))
    with _cache_lock:
        _cache[key] = (now, values)
    return values


def get_setting(db: Database, name: str, default: Any = None) -> Any:
    """A setting's value (declared default when unset; ``default`` for undeclared keys)."""
    values = all_settings(db)
    if name in values:
        return values[name]
    return default


def parse_value(raw: str) -> Any:
    """CLI helper: JSON if it parses, else the plain string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


#: Every integer setting's bounds (inclusive). A setting with an int default must be here:
#: an unbounded one once made every call-next fail hall-wide (max_wait_minutes × 60 past
#: SQLite's 64-bit integers). tests/test_settings_bounds.py keeps the two lists equal.
INT_RANGES: dict[str, tuple[int, int]] = {
    "max_wait_minutes": (0, 1440),
    "no_show_recall_minutes": (0, 480),
    "no_show_recall_last": (0, 100),
    "appointment_early_minutes": (0, 720),
    "appointment_late_minutes": (0, 720),
    "elderly_age": (0, 120),
    "session_hours": (1, 24),
    "evaluations.deadline_working_days": (1, 60),
    "evaluations.extension_working_days": (1, 15),
    "evaluations.phone_days": (0, 90),
    "evaluations.onsite_hours": (1, 168),
    "evaluations.phone_limit_per_code": (1, 1000),
    "evaluations.phone_limit_per_address": (1, 10000),
    "evaluations.pad_timeout_seconds": (10, 600),
    "backup_keep": (1, 365),
    "uplink.interval_s": (1, 3600),
    "uplink.batch_size": (1, 10000),
    "uplink.backoff_max_s": (1, 86400),
    "uplink.manifest_interval_s": (1, 86400),
    "uplink.timeout_s": (1, 300),
    "licences.token_seconds": (10, 3600),
    "licences.refresh_seconds": (1, 3600),
    "licences.reverify_minutes": (0, 1440),
    "devices.stale_after_s": (1, 3600),
    "devices.heartbeat_s": (1, 300),
    "devices.action_timeout_s": (10, 86400),
    "retention.queue_days": (0, 365),
    "retention.record_days": (1, 3650),
    "call_repeat_guard_seconds": (0, 60),
}

#: Longest text of a string setting (characters); paths and the address get more room.
STR_MAX = 200
_STR_MAX_BY_NAME = {"notice": 500, "ticket_tip": 200, "backup_dir": 500, "admin.reports_dir": 500}

#: Settings whose values never appear in the audit (recorded as "***"). The ID-hash key is
#: not a setting at all (queue_server/idkey.py keeps it outside the database).
SECRET_SETTINGS: frozenset[str] = frozenset()


def set_setting(db: Database, name: str, value: Any, *, conn: Any = None, actor: str = "system") -> None:
    """Store a setting and audit the change (before → after). Pass ``conn`` to write inside
    an open transaction."""
    if name not in _BY_NAME:
        raise ValidationError("unknown_setting", name=name)
    _validate(name, value)
    if conn is not None:
        _store(conn, name, value, actor)
    else:
        with write_tx(db) as c:
            _store(c, name, value, actor)
    invalidate(db)


def _store(conn: Any, name: str, value: Any, actor: str) -> None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (name,)).fetchone()
    before = json.loads(row[0]) if row else _BY_NAME[name].default
    if row is not None and before == value:
        return
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (name, json.dumps(value, ensure_ascii=False)),
    )
    secret = name in SECRET_SETTINGS
    append(conn, SettingChanged(setting=name, before="***" if secret else before,
                                after="***" if secret else value), actor=actor)


def invalidate(db: Database | None = None) -> None:
    """Forget the cached settings (of one database, or all)."""
    with _cache_lock:
        if db is None:
            _cache.clear()
        else:
            _cache.pop(_db_key(db), None)


def _validate(name: str, value: Any) -> None:
    default = _BY_NAME[name].default
    bad = ValidationError("bad_setting_value", name=name)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        low, high = INT_RANGES[name]
        if not low <= value <= high:
            raise ValidationError("setting_out_of_range", name=name, low=low, high=high)
    elif isinstance(default, str):
        if not isinstance(value, str) or len(value) > _STR_MAX_BY_NAME.get(name, STR_MAX) or "\x00" in value:
            raise bad
        if name == "public_url" and value:
            _check_public_url(value)
        if name.endswith("_time") and value and not _HHMM.match(value):
            raise bad
        if name == "approvals.region" and value and not (len(value) == 6 and value.isdigit()):
            raise bad
        if name == "timezone":
            from zoneinfo import ZoneInfo

            try:
                ZoneInfo(value)
            except Exception as exc:
                raise bad from exc
    elif name in _CHECKS:
        try:
            _CHECKS[name](value)
        except (TypeError, ValueError, AttributeError) as exc:
            raise bad from exc


def _check_public_url(value: str) -> None:
    """``public_url``: an absolute http(s) address with a host, nothing a browser would run."""
    from urllib.parse import urlsplit

    bad = ValidationError("bad_public_url")
    if value != value.strip() or any(c in value for c in " \t\r\n\"'<>\\`"):
        raise bad
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise bad from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise bad


def _check_wait_targets(value: Any) -> None:
    if not isinstance(value, dict):
        raise TypeError("an object of service code → minutes")
    for code, minutes in value.items():
        if not isinstance(code, str) or isinstance(minutes, bool) or not isinstance(minutes, int | float) \
                or not 0 < minutes <= 24 * 60:
            raise ValueError(f"{code}: minutes must be in (0, 1440]")


def _check_channel_codes(value: Any) -> None:
    default = _BY_NAME["evaluations.channel_codes"].default
    if not isinstance(value, dict) or set(value) != set(default):
        raise ValueError(f"an object with exactly the channels {sorted(default)}")
    if not all(isinstance(v, str) and 0 < len(v) <= 40 for v in value.values()):
        raise ValueError("each province code: a string of 1 to 40 characters")


def _check_approval_sources(value: Any) -> None:
    if not isinstance(value, dict):
        raise TypeError("an object of collection → {url, timeout?, token_env?}")
    for name, entry in value.items():
        if not isinstance(entry, dict) or not str(entry.get("url", "")).startswith(("http://", "https://")):
            raise ValueError(f"{name}: an object with an http(s) url")


def _check_window_printers(value: Any) -> None:
    if not isinstance(value, dict):
        raise TypeError("an object of window number → printer name(s)")
    for window, printers in value.items():
        names = [printers] if isinstance(printers, str) else printers
        if not (isinstance(window, str) and window.isdigit()) or not isinstance(names, list) or not all(
                isinstance(n, str) and 0 < len(n) <= 40 for n in names):
            raise ValueError(f"{window}: a window number and a printer name or a list of them")


#: Settings whose value needs more than a type check (name → a check raising on a bad value).
_CHECKS: dict[str, Any] = {
    "opening_hours": parse_opening_hours,
    "closed_days": parse_closed_days,
    "extended_days": parse_extended_days,
    "admin.wait_target_minutes": _check_wait_targets,
    "evaluations.channel_codes": _check_channel_codes,
    "approvals.sources": _check_approval_sources,
    "devices.window_printers": _check_window_printers,
}
