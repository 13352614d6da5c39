"""``queue-server evaluations ...``: the working-day calendar of 差评 deadlines, the reason
list, evaluations, rectification cases and figures from the command line."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from queue_server.cliutil import DB_OPTION, fail
from queue_server.migrations import open_db


@click.group()
def evaluations() -> None:
    """好差评: evaluations, the 差评 loop's calendar and reasons, figures."""


@evaluations.group()
def calendar() -> None:
    """Holidays and 调休 working days for years the official calendar does not know yet
    (also on the supervisor page and at /api/evaluations/calendar)."""


@calendar.command("add")
@DB_OPTION
@click.argument("day")
@click.option("--holiday", "kind", flag_value="holiday", help="A public holiday (not a working day).")
@click.option("--workday", "kind", flag_value="workday", help="A weekend day made a working day (调休).")
@click.option("--note", default="", help="What the day is (e.g. 春节).")
def calendar_add(db_path: str, day: str, kind: str | None, note: str) -> None:
    """Enter a holiday or 调休 working day of a year chinesecalendar does not know (the
    State Council's schedule, once published); provisional deadlines are counted again.

    \b
    Example:
        queue-server evaluations calendar add --db var/hall.db 2027-02-08 --holiday --note 春节
        queue-server evaluations calendar add --db var/hall.db 2027-02-20 --workday --note 春节调休
    """
    from queue_server.evaluations.calendar_days import add_day

    if kind is None:
        raise click.UsageError("give --holiday or --workday")
    try:
        out = add_day(open_db(db_path), day, kind, note=note)
    except Exception as exc:
        fail(exc)
    click.echo(f"{out['day']} {out['kind']}; {out['deadlines_changed']} provisional deadline(s) changed")


@calendar.command("remove")
@DB_OPTION
@click.argument("day")
def calendar_remove(db_path: str, day: str) -> None:
    """Remove a day entered by mistake; provisional deadlines are counted again.

    \b
    Example:
        queue-server evaluations calendar remove --db var/hall.db 2027-02-08
    """
    from queue_server.evaluations.calendar_days import remove_day

    try:
        out = remove_day(open_db(db_path), day)
    except Exception as exc:
        fail(exc)
    click.echo(f"{out['day']} {'removed' if out['removed'] else 'was not entered'}")


@calendar.command("list")
@DB_OPTION
@click.option("--year", type=int, default=None,
              help="List that year's holidays and 调休 working days as deadlines count them, with their source.")
def calendar_list(db_path: str, year: int | None) -> None:
    """The years chinesecalendar knows and the days entered for the others; with --year,
    that year's days (official, statutory or entered by the hall).

    \b
    Example:
        queue-server evaluations calendar list --db var/hall.db
        queue-server evaluations calendar list --db var/hall.db --year 2027
    """
    from queue_server.evaluations.calendar_days import status, year_days

    db = open_db(db_path)
    if year is not None:
        try:
            out = year_days(db, year)
        except Exception as exc:
            fail(exc)
        flag = "provisional: statutory holidays + the hall's days" if out["provisional"] else "official"
        click.echo(f"{out['year']} ({flag})")
        for d in out["days"]:
            text = d["name"] or d["note"]
            tail = "  (ignored: the official calendar counts)" if d.get("ignored") else ""
            click.echo(f"  {d['day']}  {d['kind']:<8} {d['source']:<9} {text}{tail}")
        return
    st = status(db)
    years = st["library_years"]
    click.echo(f"official calendar (chinesecalendar): {years[0]}–{years[-1]}" if years else "no official calendar")
    click.echo("other years: statutory holidays (holidays library) + the days entered here (provisional)")
    for d in st["entered"]:
        click.echo(f"  {d['day']}  {d['kind']:<8} {d['note']}")


@calendar.command("refresh")
@DB_OPTION
def calendar_refresh(db_path: str) -> None:
    """Count every provisional deadline again (after upgrading chinesecalendar to a release
    that knows a new year, or the holidays library).

    \b
    Example:
        queue-server evaluations calendar refresh --db var/hall.db
    """
    from queue_server.evaluations.calendar_days import refresh

    click.echo(f"{refresh(open_db(db_path))} provisional deadline(s) changed")


@evaluations.command("deadline")
@DB_OPTION
@click.argument("day")
@click.option("--days", type=int, default=None, help="Working days (default: evaluations.deadline_working_days).")
def deadline_cmd(db_path: str, day: str, days: int | None) -> None:
    """The deadline of a 差评 given on DAY: the N-th working day after it, on this hall's calendar.

    \b
    Example:
        queue-server evaluations deadline --db var/hall.db 2026-09-30
    """
    from queue_server.evaluations.rectifications import compute_deadline, hall_calendar
    from queue_server.settings import get_setting

    db = open_db(db_path)
    n = days if days is not None else int(get_setting(db, "evaluations.deadline_working_days"))
    try:
        dt.date.fromisoformat(day)
        d = compute_deadline(hall_calendar(db), day, n)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo(json.dumps({"day": day, "working_days": n, **d.as_dict()}))


@evaluations.group()
def reasons() -> None:
    """The versioned 差评 reason list."""


@reasons.command("list")
@DB_OPTION
def reasons_list(db_path: str) -> None:
    """The current reason list.

    \b
    Example:
        queue-server evaluations reasons list --db var/hall.db
    """
    from queue_server.evaluations.reasons import reason_list

    data = reason_list(open_db(db_path))
    click.echo(f"version {data['version']}")
    for r in data["reasons"]:
        click.echo(f"  {r['code']:<14} {r['name']}  ({r['name_en']})")


@reasons.command("import")
@DB_OPTION
@click.argument("file", type=click.File("r", encoding="utf-8"))
def reasons_import(db_path: str, file: Any) -> None:
    """Add a new version of the reason list from a JSON file ({"version", "source"?,
    "reasons": [{"code", "name", "name_en"}]}) and make it current.

    \b
    Example:
        queue-server evaluations reasons import --db var/hall.db reasons-2027.json
    """
    from queue_server.evaluations.reasons import import_reasons

    try:
        data = json.load(file)
        out = import_reasons(open_db(db_path), data)
    except ValueError as exc:
        fail(exc)
    click.echo(f"version {out['version']} is current ({len(out['reasons'])} reasons)")


@evaluations.command("list")
@DB_OPTION
@click.option("--bad", is_flag=True, help="Only 差评 (levels 1–2).")
@click.option("--from", "date_from", default=None, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", default=None, help="Last day (YYYY-MM-DD).")
@click.option("--limit", default=50, show_default=True)
def list_cmd(db_path: str, bad: bool, date_from: str | None, date_to: str | None, limit: int) -> None:
    """Evaluations, newest first.

    \b
    Example:
        queue-server evaluations list --db var/hall.db --bad --from 2026-11-01
    """
    from queue_server.evaluations.store import list_evaluations

    for e in list_evaluations(open_db(db_path), bad=True if bad else None, date_from=date_from, date_to=date_to,
                              limit=limit):
        target = e["case"] or e["ticket_number"]
        reasons_text = ",".join(r["code"] for r in e["reasons"])
        rect = e["rectification"]
        tail = f"  整改 #{rect['id']} {rect['status_name']} {rect['deadline']}" if rect else ""
        click.echo(f"{e['id']:>5} {e['day']} {target:<16} {e['service']:<6} {e['level']} {e['level_name']:<5} "
                   f"{e['channel']:<9} {reasons_text}{tail}")


@evaluations.command("rectifications")
@DB_OPTION
@click.option("--status", default=None, help="A status, or open | overdue | done.")
def rectifications_cmd(db_path: str, status: str | None) -> None:
    """Rectification cases, overdue (整改超期) first.

    \b
    Example:
        queue-server evaluations rectifications --db var/hall.db --status open
    """
    from queue_server.evaluations.loop import list_cases

    try:
        cases = list_cases(open_db(db_path), status=status)
    except Exception as exc:
        fail(exc)
    for c in cases:
        flag = "provisional" if c["provisional"] else ""
        click.echo(f"{c['id']:>5} {c['status_name']:<10} deadline {c['deadline']} {flag:<11} "
                   f"evaluation {c['evaluation']['id']} {c['evaluation']['service']}")


@evaluations.command("stats")
@DB_OPTION
@click.option("--from", "date_from", required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", required=True, help="Last day (YYYY-MM-DD).")
@click.option("--group", type=click.Choice(["day", "service", "window", "clerk"]), default="day", show_default=True)
def stats_cmd(db_path: str, date_from: str, date_to: str, group: str) -> None:
    """The figures as JSON (the same as GET /api/stats/evaluations).

    \b
    Example:
        queue-server evaluations stats --db var/hall.db --from 2026-11-01 --to 2026-11-30 --group window
    """
    from queue_server.evaluations.figures import evaluation_figures

    try:
        out = evaluation_figures(open_db(db_path), date_from, date_to, group)
    except Exception as exc:
        fail(exc)
    click.echo(json.dumps(out, ensure_ascii=False, indent=1))
