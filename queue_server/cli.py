"""The ``queue-server`` command line. Every command takes ``--db PATH`` (or env
``YICHUANG_DB_PATH``); every docstring starts with an example."""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import click

from queue_server.auth import TOKEN_ROLES, USER_ROLES
from queue_server.cliutil import DB_OPTION, Group, fail
from queue_server.db import Checkpointer
from queue_server.migrations import open_db


@click.group(cls=Group)
@click.version_option("0.1.0", prog_name="queue-server")
def main() -> None:
    """一窗通 queue server: hall database, demo hall, tokens, users and the HTTP server.

    \b
    Example:
        queue-server demo                      # demo hall on http://127.0.0.1:8000
        queue-server serve --db hall.db --port 8000
    """


@main.command("init-db")
@DB_OPTION
def init_db(db_path: str) -> None:
    """Create the hall database or bring its schema up to date.

    \b
    Example:
        queue-server init-db --db var/hall.db
    """
    from queue_server.idkey import ensure_key

    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    db = open_db(db_path)
    key = ensure_key(db_path)
    from queue_server.migrations import applied

    click.echo(f"database ready: {os.path.abspath(db_path)} ({len(applied(db))} migrations)")
    click.echo(f"ID-number key: {key or 'from the environment (YICHUANG_ID_KEY)'} — keep it out of database "
               "backups; without it nobody can match an ID against what the database stores")


@main.command("seed-demo")
@DB_OPTION
@click.option("--seed", default=42, show_default=True, help="Random seed of names, ID numbers and codes.")
@click.option("--closed", is_flag=True, help="Leave every window closed (clerks open them).")
def seed_demo(db_path: str, seed: int, closed: bool) -> None:
    """Fill an empty hall with the demo hall: 9 categories, 38 services, 15 windows,
    demo users and today's appointments.

    \b
    Example:
        queue-server seed-demo --db var/demo.db
    """
    from queue_server.demo import make_hall

    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    db = open_db(db_path)
    try:
        made = make_hall(db, seed=seed, open_windows=not closed, licences=True)
    except Exception as exc:
        fail(exc)
        return
    _print_seed_summary(made)


def _print_seed_summary(made: dict[str, Any]) -> None:
    click.echo(f"{len(made['categories'])} categories, {len(made['services'])} services, "
               f"{len(made['windows'])} windows, {len(made['appointments'])} appointments today")
    click.echo("users (username / password):")
    for username, u in made["users"].items():
        click.echo(f"  {username:8} {u['password']:10} {u['role']:10} {u['name']}")
    click.echo("appointments (code, slot, service, synthetic ID number for check-in):")
    for a in made["appointments"][:6]:
        click.echo(f"  {a['code']}  {a['slot_start']}-{a['slot_end']}  {a['service']}  {a['id_number']}")
    if made.get("approvals"):
        ids, names = made["approvals"]["ids"], made["approvals"]["names"]
        click.echo("秒批 demo (synthetic ID numbers in the embedded data source; README.md has the table):")
        for item, who, shows in made["approvals"]["showcase"]:
            person = f"{ids[who]} {names[who]}" if who in ids else who
            click.echo(f"  {item:28} {person:28} {shows}")
    if made.get("licences"):
        from queue_server.demo import DEMO_CITIZENS

        click.echo(f"e-licences: {made['licences']['rows']} loaded for the demo card holders (亮证): "
                   + ", ".join(f"{n} {i}" for i, n in DEMO_CITIZENS.items()))


@main.group()
def token() -> None:
    """Device tokens (kiosk, display, clerk, admin, technician, verifier)."""


@token.command("create")
@DB_OPTION
@click.option("--role", type=click.Choice(list(TOKEN_ROLES)), required=True)
@click.option("--name", required=True, help="Who uses it, e.g. kiosk-01 or hall-display.")
@click.option("--window", type=int, default=None,
              help="Clerk tokens only: the one window this device acts at (docs/security.md).")
def token_create(db_path: str, role: str, name: str, window: int | None) -> None:
    """Create a token and print it on stdout (only its SHA-256 is stored).

    \b
    Example:
        queue-server token create --db var/hall.db --role kiosk --name kiosk-01
        queue-server token create --db var/hall.db --role clerk --name counter-3 --window 3
    """
    from queue_server.auth import create_token

    db = open_db(db_path)
    try:
        click.echo(create_token(db, role, name, window=window))
    except Exception as exc:
        fail(exc)


@token.command("list")
@DB_OPTION
def token_list(db_path: str) -> None:
    """List tokens: id, role, name, created, state (the tokens themselves are not stored).

    \b
    Example:
        queue-server token list --db var/hall.db
    """
    from queue_server.auth import list_tokens

    now = time.time()
    for t in list_tokens(open_db(db_path)):
        if t["revoked_at"]:
            state = "revoked"
        elif t["expires_at"] and t["expires_at"] <= now:
            state = "expired"
        else:
            state = "active"
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(t["created_at"]))
        click.echo(f"{t['id']:>5}  {t['role']:<10} {t['name']:<24} {created}  {state}")


@token.command("revoke")
@DB_OPTION
@click.option("--name", required=True, help="Revoke every active token with this name.")
def token_revoke(db_path: str, name: str) -> None:
    """Revoke the tokens of a device (servers notice within 10 s).

    \b
    Example:
        queue-server token revoke --db var/hall.db --name kiosk-01
    """
    from queue_server.auth import revoke_tokens_named

    n = revoke_tokens_named(open_db(db_path), name)
    if not n:
        raise click.ClickException(f"no active token named {name}")
    click.echo(f"{n} token(s) revoked")


@main.group()
def user() -> None:
    """Staff accounts that log in (admin, clerk, technician)."""


@user.command("unlock")
@DB_OPTION
@click.argument("username", required=False)
@click.option("--address", default=None, help="Also (or only) lift the lock of this client address.")
def user_unlock(db_path: str, username: str | None, address: str | None) -> None:
    """Lift the login wait or lock of an account (and/or a client address) after too many
    failed logins (audited).

    \b
    Example:
        queue-server user unlock --db var/hall.db clerk7
    """
    from queue_server.auth import unlock_login

    if not username and not address:
        raise click.UsageError("give a USERNAME and/or --address")
    try:
        n = unlock_login(open_db(db_path), username, address=address, actor="cli")
    except Exception as exc:
        fail(exc)
        return
    click.echo(f"{n} login lock(s) lifted")


@user.command("create")
@DB_OPTION
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True, help="Real name, e.g. 王晓明 (masked on displays).")
@click.option("--staff-no", default="", help="工号 shown on the window display.")
@click.option("--role", type=click.Choice(USER_ROLES), default="clerk", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted when not given.")
def user_create(db_path: str, username: str, display_name: str, staff_no: str, role: str, password: str) -> None:
    """Create a staff user.

    \b
    Example:
        queue-server user create --db var/hall.db --username clerk7 --name 王晓明 --staff-no 0107 --role clerk
    """
    from queue_server.auth import create_user

    db = open_db(db_path)
    try:
        uid = create_user(db, username, password, display_name=display_name, staff_no=staff_no, role=role)
    except Exception as exc:
        fail(exc)
        return
    click.echo(f"user {username} created (id {uid}, role {role})")


@main.group()
def settings() -> None:
    """Hall settings (name, opening hours, max wait, …; see docs/queue-server.md)."""


@settings.command("get")
@DB_OPTION
@click.argument("key", required=False)
def settings_get(db_path: str, key: str | None) -> None:
    """Print one setting as JSON, or all of them.

    \b
    Example:
        queue-server settings get --db var/hall.db opening_hours
    """
    from queue_server.settings import SETTINGS, all_settings

    values = all_settings(open_db(db_path), fresh=True)
    if key is not None:
        if key not in values:
            raise click.ClickException(f"unknown setting {key}")
        click.echo(json.dumps(values[key], ensure_ascii=False))
        return
    for s in SETTINGS:
        click.echo(f"{s.name} = {json.dumps(values[s.name], ensure_ascii=False)}")


@settings.command("set")
@DB_OPTION
@click.argument("key")
@click.argument("value")
def settings_set(db_path: str, key: str, value: str) -> None:
    """Set a setting; VALUE is JSON (true, 45, {...}) or a plain string.

    \b
    Example:
        queue-server settings set --db var/hall.db max_wait_minutes 30
        queue-server settings set --db var/hall.db enforce_opening_hours true
    """
    from queue_server.queue import set_notice
    from queue_server.settings import parse_value, set_setting

    try:
        db = open_db(db_path)
        if key == "notice":  # displays must hear about it: goes through the engine's event
            set_notice(db, str(parse_value(value)))
        else:
            set_setting(db, key, parse_value(value))
    except Exception as exc:
        fail(exc)
    click.echo(f"{key} = {value}")


@main.group()
def hall() -> None:
    """The hall's categories, services and windows as JSON (see docs/queue-server.md)."""


@hall.command("export")
@DB_OPTION
def hall_export(db_path: str) -> None:
    """Print the hall's categories, services and windows as JSON.

    \b
    Example:
        queue-server hall export --db var/hall.db > hall.json
    """
    from queue_server.queue.hall_config import export_hall

    click.echo(json.dumps(export_hall(open_db(db_path)), ensure_ascii=False, indent=1))


@hall.command("import")
@DB_OPTION
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--dry-run", is_flag=True, help="Only show what would change (new, changed with old → new, "
              "kept), write nothing.")
def hall_import(db_path: str, file: Any, dry_run: bool) -> None:
    """Add or update categories, services and windows from a JSON file (never deletes).
    Prints the changes (new, changed with old → new, kept) before applying them, as the
    admin page's preview does; --dry-run prints them and writes nothing.

    \b
    Example:
        queue-server hall import --db var/hall.db hall.json --dry-run
        queue-server hall import --db var/hall.db hall.json
    """
    from queue_server.queue.hall_config import diff_hall, import_hall

    try:
        data = json.load(file)
    except ValueError as exc:
        raise click.ClickException(f"not valid JSON: {exc}") from exc
    db = open_db(db_path)
    try:
        diff = diff_hall(db, data)
    except Exception as exc:
        fail(exc)
        return
    _print_hall_diff(diff)
    if dry_run:
        return
    if not diff["changes"]:
        click.echo("nothing to change")
        return
    try:
        counts = import_hall(db, data, actor="cli")
    except Exception as exc:
        fail(exc)
        return
    click.echo(f"{counts['categories']} categories, {counts['services']} services, {counts['windows']} windows written")


@main.group()
def appointments() -> None:
    """Appointments booked on the provincial platform (爱山东, 政务服务网): import a file."""


@appointments.command("import")
@DB_OPTION
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
def appointments_import(db_path: str, file: str, quiet: bool) -> None:
    """Book every row of FILE: CSV (UTF-8, with or without a BOM, as Excel saves it) or XLSX,
    columns code, service, date, slot_start, slot_end, id_number, name (a header row;
    id_number and name may be empty). All or nothing: the first bad row refuses the whole
    file (exit status 1, nothing imported, the row — "row N", the first data row is 1 —
    its line, the column and why). Otherwise prints how many were created, unchanged (the
    same code with the same body) and conflicting (the same code with another body: left
    as it is). Big files show their progress on stderr.

    \b
    Example:
        queue-server appointments import --db var/hall.db bookings-2026-11-25.csv
        queue-server appointments import --db var/hall.db bookings.xlsx
    """
    from queue_server.queue.appointments import FileError, RowError, book_many, read_file

    started = time.monotonic()
    try:
        rows = read_file(file)
    except FileError as exc:
        raise click.ClickException(f"line {exc.line}: {exc.zh} / {exc.en}; nothing imported") from exc
    show = not quiet and len(rows) >= 1000

    def progress(stage: str, n: int) -> None:
        if show:
            click.echo(f"{stage} {n} of {len(rows)} rows", err=True)

    if show:
        click.echo(f"read {len(rows)} rows from {file}", err=True)
    db = open_db(db_path)
    try:
        result = book_many(db, [r.data for r in rows], actor="cli:appointments-import", progress=progress)
    except RowError as exc:
        row = rows[exc.row - 1]
        column = f", column {exc.field}" if exc.field else ""
        raise click.ClickException(
            f"row {row.row} (line {row.line}){column}: {exc.error.zh} / {exc.error.en} ({exc.error.code}); "
            "nothing imported") from exc
    finally:
        db.conn.close()
    click.echo(f"created {result.created}, unchanged {result.unchanged}, conflicting {result.conflicting}"
               + (f" ({time.monotonic() - started:.1f} s)" if show else ""))
    for code in (result.conflicts or [])[:20]:
        click.echo(f"  conflicting: {code} (already booked with other details; left as it is)")
    if result.conflicting > 20:
        click.echo(f"  … and {result.conflicting - 20} more")


def _print_hall_diff(diff: dict[str, Any]) -> None:
    """The preview of an import: one line per new or changed item, a count of the rest."""
    for kind in ("categories", "services", "windows"):
        items = diff.get(kind, [])
        for item in items:
            if item["status"] == "new":
                click.echo(f"+ {kind[:-1] if kind != 'categories' else 'category'} {item['key']}: new")
            elif item["status"] == "changed":
                parts = "; ".join(f"{f}: {json.dumps(a, ensure_ascii=False)} → {json.dumps(b, ensure_ascii=False)}"
                                  for f, (a, b) in item["changes"].items())
                click.echo(f"~ {kind[:-1] if kind != 'categories' else 'category'} {item['key']}: {parts}")
        same = sum(1 for i in items if i["status"] == "same")
        kept = sum(1 for i in items if i["status"] == "kept")
        click.echo(f"  {kind}: {same} unchanged, {kept} not in the file (kept)")
    click.echo(f"{diff['changes']} change(s)")


@main.command()
@DB_OPTION
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Archive file (default: <db>.archive.db next to the database).")
@click.option("--before", default=None, help="Archive days before this YYYY-MM-DD (default: today).")
def archive(db_path: str, out_path: str | None, before: str | None) -> None:
    """Move earlier business days (tickets, calls, appointments, events) into an archive file,
    in small batches while the hall keeps working; counts go to stderr as it runs, the result
    (JSON) to stdout.

    \b
    Example:
        queue-server archive --db var/hall.db --out var/hall-2026.archive.db
    """
    from queue_server.archive import archive_days

    totals: dict[str, int] = {}
    last = [0.0]

    def progress(what: str, n: int) -> None:
        totals[what] = totals.get(what, 0) + n
        now = time.monotonic()
        if now - last[0] >= 0.5 or n == 0:
            last[0] = now
            click.echo("archiving: " + ", ".join(f"{k} {v:,}" for k, v in totals.items()), err=True)

    db = open_db(db_path)
    result = archive_days(db, out_path or (str(db_path) + ".archive.db"), before=before, progress=progress)
    click.echo(json.dumps(result, ensure_ascii=False))


@main.command("purge")
@DB_OPTION
@click.option("--archive", "archives", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="Archive file to purge too (repeatable; default: every <db stem>*.archive.db beside the database).")
def purge_cmd(db_path: str, archives: tuple[str, ...]) -> None:
    """Clear personal fields (ID digests, masked IDs and names, notes) whose retention is over
    (settings retention.queue_days, retention.record_days; docs/privacy.md), in the database
    and its archive files, in small batches while the hall keeps working; counts go to stderr
    as it runs, the result (JSON) to stdout. The server also does this daily at purge_time.

    \b
    Example:
        queue-server purge --db var/hall.db
    """
    from queue_server.purge import purge

    last = [0.0]

    def progress(what: str, n: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5:
            last[0] = now
            click.echo(f"purging: {what} {n:,} rows cleared", err=True)

    db = open_db(db_path)
    result = purge(db, archives=list(archives) or None, progress=progress)
    for what, n in result["cleared"].items():
        click.echo(f"purged: {what} {n:,} rows cleared", err=True)
    click.echo(json.dumps(result, ensure_ascii=False))


@main.command("backup")
@DB_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of backups (default: the backup_dir setting, else backups/ beside the database).")
@click.option("--keep", type=int, default=None, help="Keep this many backups (default: the backup_keep setting).")
def backup_cmd(db_path: str, out_dir: str | None, keep: int | None) -> None:
    """Write an online, consistent copy of the hall database (the server may keep running)
    and delete the oldest copies beyond --keep. The server also does this daily by itself
    at backup_time.

    \b
    Example:
        queue-server backup --db var/hall.db --out /srv/backups/hall --keep 30
    """
    from queue_server.backup import backup

    click.echo(json.dumps(backup(open_db(db_path), out_dir, keep=keep), ensure_ascii=False))


@main.command("restore")
@DB_OPTION
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--skip", default=100, show_default=True,
              help="When the backup is from today, move today's number counters ahead by this much so "
                   "numbers handed out after the backup are never given again.")
def restore_cmd(db_path: str, backup_file: str, skip: int) -> None:
    """Put a backup in place of the hall database. Stop the server first; the current file is
    kept aside (never deleted); the backup is checked (integrity, audit chain) first.

    \b
    Example:
        queue-server restore --db var/hall.db var/backups/hall-20261202-223000.db
    """
    from queue_server.backup import restore

    try:
        result = restore(db_path, backup_file, skip=skip)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(result, ensure_ascii=False))


@main.group()
def schedule() -> None:
    """Daily jobs the server runs by itself (backup, and what capabilities add)."""


@schedule.command("list")
@DB_OPTION
def schedule_list(db_path: str) -> None:
    """Show the daily jobs with their time and the last runs.

    \b
    Example:
        queue-server schedule list --db var/hall.db
    """
    from queue_server.schedule import JOBS, history
    from queue_server.settings import all_settings

    _load_daily_jobs()
    db = open_db(db_path)
    settings = all_settings(db)
    for job in JOBS.values():
        click.echo(f"{job.name:20} at {settings.get(job.time_setting) or 'off':6} {job.help}")
    for run in history(db, 20):
        state = "error: " + run["error"] if run["error"] else ("running" if run["finished_at"] is None else "ok")
        click.echo(f"  {run['day']} {run['job']:20} {state}")


@schedule.command("run")
@DB_OPTION
@click.argument("job")
def schedule_run(db_path: str, job: str) -> None:
    """Run one daily job now, for today.

    \b
    Example:
        queue-server schedule run --db var/hall.db backup
    """
    from queue_server import clock as clk
    from queue_server.schedule import JOBS, run_now
    from queue_server.settings import all_settings

    _load_daily_jobs()
    if job not in JOBS:
        raise click.ClickException(f"no daily job {job!r}; known: {', '.join(sorted(JOBS))}")
    db = open_db(db_path)
    day = clk.business_day(clk.now(None), str(all_settings(db)["timezone"]))
    click.echo(json.dumps(run_now(db, JOBS[job], day), ensure_ascii=False, default=str))


def _load_daily_jobs() -> None:
    """Import the modules that register daily jobs (the app factory imports the capabilities')."""
    import queue_server.backup  # noqa: F401
    import queue_server.purge  # noqa: F401


def _write_pid_file(db_path: str) -> None:
    """``<db>.server.pid`` while the server runs, so ``restore`` can refuse to pull the file
    from under it."""
    import atexit

    pid_file = Path(os.path.abspath(db_path) + ".server.pid")
    pid_file.write_text(f"{os.getpid()}\n")
    me = os.getpid()

    def remove() -> None:
        if os.getpid() == me:
            pid_file.unlink(missing_ok=True)

    atexit.register(remove)


def _listen_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _serve_one(db_path: str, host: str, port: int, threads: int, reuse_port: bool) -> None:
    import waitress

    from queue_server import create_app
    from queue_server.devices.sweeper import StaleSweeper
    from queue_server.printing.worker import start_workers
    from queue_server.uplink.worker import start_uplink
    from queue_server.web.hub import raise_fd_limit

    # Display streams hold no thread (one selector loop writes them all), one descriptor each.
    raise_fd_limit()
    app = create_app({"DB_PATH": db_path, "BACKGROUND_CHECKPOINT": True})  # env YICHUANG_SSE_MAX_STREAMS
    from queue_server.schedule import Scheduler

    _load_daily_jobs()
    Checkpointer(db_path).start()
    start_workers(db_path)
    Scheduler(db_path).start()
    StaleSweeper(db_path).start()  # records devices stale when no heartbeat of any device comes
    start_uplink(db_path)  # idles until `queue-server uplink configure`
    sock = _listen_socket(host, port, reuse_port)
    gc.collect()
    gc.freeze()  # the app's long-lived objects leave the collector's working set: shorter pauses
    waitress.serve(app, sockets=[sock], threads=threads, connection_limit=max(1000, threads * 4),
                   channel_timeout=300, backlog=2048, ident="yichuang", _quiet=True,
                   asyncore_use_poll=True)


@main.command()
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=64, show_default=True, type=int,
              help="Threads per process for API requests (display streams hold none).")
@click.option("--workers", default=1, show_default=True, type=int,
              help="Server processes sharing the port (SO_REUSEPORT) and the database; with more than "
                   "one, this process keeps the calling-order run that gives every worker 前面还有 N 人.")
def serve(db_path: str, host: str, port: int, threads: int, workers: int) -> None:
    """Run the queue server (waitress) on HOST:PORT.

    \b
    Example:
        queue-server serve --db var/hall.db --host 0.0.0.0 --port 8000 --workers 2
    """
    from queue_server.storage import check, read_only_reason
    from yichuang.errors import lookup

    reason = read_only_reason(os.path.abspath(db_path))
    if reason:
        spec = lookup("storage_read_only")
        raise click.ClickException(f"{spec.zh} / {spec.en}: {reason}. {spec.advice_zh} {spec.advice_en}")
    open_db(db_path).conn.close()  # migrate before forking
    _write_pid_file(db_path)
    storage = check(os.path.abspath(db_path))
    if storage["state"] != "ok":
        spec = lookup(storage["state"])
        line = f"{spec.zh} / {spec.en}: {os.path.abspath(db_path)} ({storage.get('detail', '')}). {spec.advice_zh}"
        if storage["state"] in ("storage_read_only", "storage_unavailable"):
            raise click.ClickException(line)
        click.echo(f"queue-server: warning: {line}", err=True)  # reads still work; writes answer 503
    click.echo(f"queue-server: http://{host}:{port}/ (db {os.path.abspath(db_path)}, "
               f"{workers} process(es) × {threads} threads)", err=True)
    if workers <= 1:
        _serve_one(db_path, host, port, threads, reuse_port=False)
        return
    from queue_server.queue import ahead_shared
    from queue_server.queue.ahead_keeper import Keeper

    # This process keeps the hall's run of the calling order and answers every worker's
    # 前面还有 N 人 from it (one run instead of one per worker; queue_server.queue.ahead_keeper).
    keeper = Keeper(os.path.abspath(db_path))
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # child: its own app, connections and listening socket
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                keeper.listener.close()
                ahead_shared.use(keeper.path)
                _serve_one(db_path, host, port, threads, reuse_port=True)
            finally:
                os._exit(0)
        children.append(pid)
    keeper.start()  # after the forks: no thread of this process is copied into a worker

    def stop(signum: int, _frame: Any) -> None:
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while children:
            try:
                pid, _status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid in children:
                children.remove(pid)
                stop(signal.SIGTERM, None)  # one worker died: take the others down too
    finally:
        keeper.close()


@main.command()
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default="var/demo.db", show_default=True,
              help="Demo database; recreated on every run.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--keep", is_flag=True, help="Keep an existing demo database instead of recreating it.")
@click.option("--no-serve", is_flag=True, help="Prepare the demo and print the URLs, but do not serve.")
def demo(db_path: str, host: str, port: int, keep: bool, no_serve: bool) -> None:
    """Create the demo hall, its tokens and users, print the URLs, then serve it.

    \b
    Example:
        queue-server demo --port 8000
    """
    from queue_server.backup import server_running
    from queue_server.demo import make_hall

    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (keep and path.exists())
    if fresh and server_running(os.path.abspath(path)):
        raise click.ClickException(
            f"{os.path.abspath(path)} is in use by a running queue server (see {path}.server.pid): "
            "not deleting it. Stop that server, or give another --db for the demo.")
    if fresh:
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)
    db = open_db(path)
    tokens_file = Path(f"{path}.tokens.json")
    if fresh or not tokens_file.exists():
        made = make_hall(db, tokens=True, licences=True)
        tokens = made["tokens"]
        from queue_server.printing.jobs import add_printer

        # the demo kiosk's receipt printer as the server knows it: 秒批 certificates and
        # 告知单 go there through the print queue (a simulator inside this server process)
        add_printer(db, "demo-kiosk", "sim://demo-kiosk", {"paper": 80})
        tokens_file.write_text(json.dumps(tokens, indent=1))
        _print_seed_summary(made)
    else:
        tokens = json.loads(tokens_file.read_text())
    db.conn.close()
    base = f"http://{host}:{port}"
    click.echo("")
    click.echo("一窗通 demo hall — open these:")
    click.echo(f"  hall display    {base}/display?token={tokens['display']}")
    click.echo(f"  window display  {base}/display/window/1?token={tokens['display']}")
    click.echo(f"  clerk console   {base}/counter        (login clerk1 / clerk123, admin / admin123)")
    click.echo(f"  API document    {base}/api/openapi.json")
    click.echo("tokens (Authorization: Bearer …):")
    for role, tok in tokens.items():
        click.echo(f"  {role:10} {tok}")
    click.echo(f"  e.g. curl -H 'Authorization: Bearer {tokens['kiosk']}' -d '{{\"service\":\"QY01\"}}' "
               f"{base}/api/tickets")
    click.echo("opening hours are stored but not enforced in the demo "
               f"(queue-server settings set --db {path} enforce_opening_hours true)")
    sys.stdout.flush()
    if no_serve:
        return
    _write_pid_file(str(path))  # another demo must not delete this database under it
    time.sleep(0.1)
    _serve_one(str(path), host, port, 64, reuse_port=False)


# Each capability's command group (its cli.py is the only click module it has).
from queue_server.admin.cli import admin as _admin  # noqa: E402
from queue_server.approvals.cli import approvals as _approvals  # noqa: E402
from queue_server.approvals.cli import data as _data  # noqa: E402
from queue_server.audit.cli import audit as _audit  # noqa: E402
from queue_server.devices.cli import devices as _devices  # noqa: E402
from queue_server.evaluations.cli import evaluations as _evaluations  # noqa: E402
from queue_server.licences.cli import licences as _licences  # noqa: E402
from queue_server.printing.cli import printer as _printer  # noqa: E402
from queue_server.uplink.cli import uplink as _uplink  # noqa: E402

for _group in (_printer, _audit, _uplink, _evaluations, _licences, _admin, _approvals, _data, _devices):
    main.add_command(_group)

if __name__ == "__main__":
    main()
