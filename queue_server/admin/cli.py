"""``queue-server admin ...``: what the admin pages do, from a terminal — through the same
engine functions, with the same checks and audit records (actor ``cli``)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from queue_server.cliutil import DB_OPTION, fail
from queue_server.migrations import open_db

# The end-of-day report registers its daily job on import (schedule list / serve see it).
from queue_server.admin import report as _report  # noqa: F401  isort: skip


@click.group()
def admin() -> None:
    """The hall manager's tasks: catalogue, windows, hours, staff, statistics, reports."""


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=1))


@admin.command("service")
@DB_OPTION
@click.argument("code")
@click.option("--name", default=None, help="Chinese name (required for a new service).")
@click.option("--name-en", default=None)
@click.option("--category", default=None, help="Category code (required for a new service).")
@click.option("--daily-limit", type=int, default=None, help="Tickets per ID number and day (0 = no limit).")
@click.option("--avg-minutes", type=float, default=None, help="Prior for the wait estimate.")
@click.option("--self-service/--no-self-service", default=None)
@click.option("--active/--inactive", default=None)
def service_cmd(db_path: str, code: str, name: str | None, name_en: str | None, category: str | None,
                daily_limit: int | None, avg_minutes: float | None, self_service: bool | None,
                active: bool | None) -> None:
    """Add a service, or change the fields given.

    \b
    Example:
        queue-server admin service --db var/hall.db QY07 --name 企业名称自主申报 --category qiye --self-service
        queue-server admin service --db var/hall.db QY07 --inactive
    """
    from queue_server.queue.catalog import save_service, service_row

    db = open_db(db_path)
    data: dict[str, Any] = {"code": code, "name": name, "name_en": name_en, "category": category,
                            "avg_minutes": avg_minutes, "self_service": self_service, "active": active}
    if daily_limit is not None:
        data["daily_limit_per_id"] = daily_limit or None
    try:
        _echo(save_service(db, data, create=service_row(db.conn, code) is None, actor="cli"))
    except Exception as exc:
        fail(exc)


@admin.command("window")
@DB_OPTION
@click.argument("number", type=int)
@click.option("--name", default=None, help="Name shown in the hall (required for a new window).")
@click.option("--services", default=None, help="Service codes in priority order, comma-separated; * = all.")
@click.option("--kind", type=click.Choice(["normal", "universal", "green"]), default=None,
              help="green = 绿色通道 (also takes every priority ticket).")
def window_cmd(db_path: str, number: int, name: str | None, services: str | None, kind: str | None) -> None:
    """Add a window, or change its name, services (in priority order) or kind.

    \b
    Example:
        queue-server admin window --db var/hall.db 16 --name "16号窗口 税务" --services SW01,SW02
    """
    from queue_server.queue.catalog import save_window, window_row

    db = open_db(db_path)
    data: dict[str, Any] = {"number": number, "name": name, "kind": kind,
                            "services": None if services is None else [s.strip() for s in services.split(",")
                                                                        if s.strip()]}
    try:
        _echo(save_window(db, data, create=window_row(db.conn, number) is None, actor="cli"))
    except Exception as exc:
        fail(exc)


@admin.command("window-state")
@DB_OPTION
@click.argument("number", type=int)
@click.argument("status", type=click.Choice(["open", "paused", "closed"]))
@click.option("--reason", default=None, help="Shown on the displays while paused.")
def window_state_cmd(db_path: str, number: int, status: str, reason: str | None) -> None:
    """Open, pause (with a reason) or close a window.

    \b
    Example:
        queue-server admin window-state --db var/hall.db 3 paused --reason 系统维护
    """
    from queue_server.queue.catalog import set_window_state

    try:
        _echo(set_window_state(open_db(db_path), number, status, reason, actor="cli"))
    except Exception as exc:
        fail(exc)


@admin.command("hours")
@DB_OPTION
@click.option("--close", "close_day", default=None, metavar="DATE", help="Make DATE a closed day.")
@click.option("--reason", default="闭厅", show_default=True, help="Why (shown when tickets are refused).")
@click.option("--extend", "extend_day", default=None, metavar="DATE", help="Make DATE a 延时服务 day.")
@click.option("--spans", default=None, help="Its hours, e.g. 09:00-12:00,13:00-17:00.")
@click.option("--clear", "clear_day", default=None, metavar="DATE", help="DATE follows the weekly hours again.")
def hours_cmd(db_path: str, close_day: str | None, reason: str, extend_day: str | None, spans: str | None,
              clear_day: str | None) -> None:
    """Show the hours (weekly, closed days, 延时服务 days, next opening) or change a date.

    \b
    Example:
        queue-server admin hours --db var/hall.db --close 2026-10-01 --reason 国庆节放假
        queue-server admin hours --db var/hall.db --extend 2026-11-28 --spans 09:00-12:00
    """
    from queue_server.queue.hours import hall_hours, set_hours
    from queue_server.settings import all_settings

    db = open_db(db_path)
    s = all_settings(db, fresh=True)
    closed = dict(s.get("closed_days") or {})
    extended = dict(s.get("extended_days") or {})
    if clear_day:
        closed.pop(clear_day, None)
        extended.pop(clear_day, None)
    if close_day:
        extended.pop(close_day, None)
        closed[close_day] = reason
    if extend_day:
        if not spans:
            raise click.ClickException("--extend needs --spans")
        closed.pop(extend_day, None)
        extended[extend_day] = [x.strip() for x in spans.split(",") if x.strip()]
    try:
        if close_day or extend_day or clear_day:
            set_hours(db, closed_days=closed, extended_days=extended, actor="cli")
        _echo(hall_hours(db))
    except Exception as exc:
        fail(exc)


@admin.command("reset-password")
@DB_OPTION
@click.argument("username")
def reset_password_cmd(db_path: str, username: str) -> None:
    """Give a staff account a new one-time password (printed once) and end its sessions.

    \b
    Example:
        queue-server admin reset-password --db var/hall.db clerk7
    """
    from queue_server.admin.staff import reset_password

    db = open_db(db_path)
    row = db.conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
    if row is None:
        raise click.ClickException(f"no user {username}")
    click.echo(reset_password(db, int(row[0]), actor="cli")["password"])


@admin.command("undo")
@DB_OPTION
@click.argument("record_id", type=int)
def undo_cmd(db_path: str, record_id: int) -> None:
    """Undo the change an audit record describes (see queue-server audit list).

    \b
    Example:
        queue-server admin undo --db var/hall.db 812
    """
    from queue_server.admin.undo import undo

    try:
        _echo(undo(open_db(db_path), record_id, actor="cli"))
    except Exception as exc:
        fail(exc)


@admin.command("stats")
@DB_OPTION
@click.option("--from", "from_day", required=True, help="First day (YYYY-MM-DD, hall time).")
@click.option("--to", "to_day", required=True, help="Last day, inclusive.")
@click.option("--group", type=click.Choice(["hour", "day", "service", "category", "window", "clerk"]),
              default="day", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
def stats_cmd(db_path: str, from_day: str, to_day: str, group: str, fmt: str) -> None:
    """Queue statistics of a date range, as GET /api/stats/queue returns them (or CSV).

    \b
    Example:
        queue-server admin stats --db var/hall.db --from 2026-11-01 --to 2026-11-30 --group service
    """
    from queue_server.admin import stats
    from queue_server.admin.exports import to_csv

    db = open_db(db_path)
    try:
        out = stats.queue_stats(db, from_day, to_day, group)
    except Exception as exc:
        fail(exc)
        return
    if fmt == "csv":
        sys.stdout.buffer.write(to_csv(stats.COLUMNS, [*out["rows"], out["total"]]))
        return
    _echo(out)


@admin.command("report")
@DB_OPTION
@click.option("--day", default=None, help="Business day (default: today).")
@click.option("--out", "out_dir", default=None, help="Folder (default: the admin.reports_dir setting).")
def report_cmd(db_path: str, day: str | None, out_dir: str | None) -> None:
    """Write the end-of-day report (XLSX + PDF) now; the server does it daily at admin.report_time.

    \b
    Example:
        queue-server admin report --db var/hall.db --day 2026-11-25
    """
    from queue_server import clock as clk
    from queue_server.admin.report import write_report
    from queue_server.settings import all_settings

    db = open_db(db_path)
    the_day = day or clk.business_day(clk.now(None), str(all_settings(db)["timezone"]))
    _echo(write_report(db, the_day, out_dir=out_dir))
