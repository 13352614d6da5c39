"""``queue-server approvals ...`` (check items, re-run a case) and ``queue-server data load``
(fill the embedded data source)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from queue_server.cliutil import DB_OPTION, db_option, fail
from queue_server.migrations import open_db


@click.group()
def approvals() -> None:
    """秒批 instant approvals: items, rule sets, re-runs."""


@approvals.command("check")
@db_option(required=False, help_text="Hall database file: also report the hall's region and its data sources "
           "(local rows or HTTP). Without it the items alone are checked. Env: YICHUANG_DB_PATH.")
@click.option("--write-lock", is_flag=True,
              help="Record every item's current version and hash in items/rulesets.lock.json (developers).")
def check_cmd(db_path: str | None, write_lock: bool) -> None:
    """Validate every item (rules, parameters, inputs, sources named), run its cases file and
    the generated checks, and print its version and rule-set hash; exit 1 if anything fails.
    With --db, also says the hall's region and which data sources it uses (how many rows the
    embedded one holds, or the HTTP address); without it that part is skipped, and says so.

    \b
    Examples:
        queue-server approvals check
        queue-server approvals check --db var/hall.db
    """
    from queue_server.approvals.checks import check_item
    from queue_server.approvals.data import loaded
    from queue_server.approvals.items import (
        ITEMS_DIR,
        ItemError,
        item_files,
        load_item_file,
        read_lock,
    )
    from queue_server.approvals.items import write_lock as write
    from queue_server.settings import all_settings

    items = {}
    bad = 0
    for path in item_files(ITEMS_DIR):
        try:
            item = load_item_file(path)
        except (ItemError, ValueError) as exc:
            bad += 1
            click.echo(f"✗ {path.name}: {exc}")
            continue
        items[item.code] = item
    if write_lock:
        write(items)
    lock = read_lock()
    for code, item in items.items():
        report = check_item(item, lock=lock)
        mark = "✓" if report.ok else "✗"
        click.echo(f"{mark} {code:30} version {item.version:8} hash {item.hash}  "
                   f"{len(item.rules)} rules, {report.cases} cases")
        for problem in report.problems:
            click.echo(f"    {problem}")
        bad += not report.ok
    used = sorted({s for i in items.values() for s in i.sources})
    if db_path is None:
        click.echo(f"data sources not checked (no --db given): with --db PATH, the hall's region and where "
                   f"each of the {len(used)} sources the items ask comes from")
    else:
        db = open_db(db_path)
        settings = all_settings(db, fresh=True)
        remote = settings.get("approvals.sources") or {}
        click.echo(f"region (approvals.region): "
                   f"{settings.get('approvals.region') or '(not set: every region rule is unknown)'}")
        rows = {r["collection"]: r["rows"] for r in loaded(db)}
        for name in used:
            where = (f"http {remote[name].get('url')}"
                     if isinstance(remote, dict) and isinstance(remote.get(name), dict)
                     else f"local, {rows.get(name, 0)} rows")
            click.echo(f"  source {name:20} {where}")
        from queue_server.approvals.manifest import applied_summary

        applied = applied_summary(db)
        if applied:
            click.echo("in force here from the city hub's rule_set manifests (checked when applied; "
                       "they override the package's items above):")
        for a in applied:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(a["applied_at"])))
            click.echo(f"  {a['code']:30} version {a['version']:8} hash {a['hash']}  applied {when}")
    if bad:
        click.echo(f"{bad} item(s) with problems", err=True)
        sys.exit(1)


@approvals.command("rerun")
@DB_OPTION
@click.argument("case")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def rerun_cmd(db_path: str, case: str, as_json: bool) -> None:
    """Re-run CASE from its record (stored rule set, recorded facts and application date),
    check the facts against the audit record, and say whether the result is the same;
    exit 1 when it is not.

    \b
    Example:
        queue-server approvals rerun --db var/hall.db SP20261202000001
    """
    from queue_server.approvals.service import rerun

    try:
        result = rerun(open_db(db_path), case)
    except Exception as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        rs = result["ruleset"]
        click.echo(f"case {result['case']} {result['item']} rule set {rs['version']} {rs['hash'][:16]}… "
                   f"on {result['application_date']}")
        for r in result["rules"]:
            click.echo(f"  {r['rule']:4} {r['result']:8} {r['code'] or ''}")
        click.echo(f"recorded: {result['recorded']}  re-run: {result['rerun']}")
        for problem in result["problems"]:
            click.echo(f"  ! {problem}")
        if "current" in result:
            cur = result["current"]
            click.echo(f"today's rule set {cur['version']} {cur['hash'][:16]}… would decide: {cur['decision']}")
        click.echo("SAME result" if result["same"] else "DIFFERENT result")
    if not result["same"]:
        sys.exit(1)


@click.group()
def data() -> None:
    """The embedded data source (shared-data collections for 秒批)."""


@data.command("load")
@DB_OPTION
@click.argument("file", type=click.File("r", encoding="utf-8"))
def load_cmd(db_path: str, file: Any) -> None:
    """Load FILE (JSON, one list per collection) into the embedded data source. Each collection
    in the file replaces the stored one atomically; a bad file is refused whole with the
    line and field at fault. ID numbers are stored only as keyed digests.

    \b
    Example:
        queue-server data load --db var/hall.db people.json
    """
    from queue_server.approvals.data import load_data

    try:
        counts = load_data(open_db(db_path), file.read())
    except Exception as exc:
        fail(exc)
    for name, n in counts.items():
        click.echo(f"{name}: {n} rows")
