"""The queue-server CLI: every command has --help with an example; init, seed, tokens,
users, settings, archive, demo, serve."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import click
import pytest
from click.testing import CliRunner

from queue_server.cli import main
from tests.support.common import free_port
from tests.support.queue import ROOT, request


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, prefix + (name,))


@pytest.mark.parametrize("path", [p for p, c in all_commands(main) if not isinstance(c, click.Group)],
                         ids=lambda p: " ".join(p))
def test_every_command_has_help_with_an_example(path):
    r = CliRunner().invoke(main, [*path, "--help"])
    assert r.exit_code == 0
    assert "Example" in r.output and "queue-server" in r.output
    assert "--db" in r.output




def test_init_seed_token_user_settings_archive(tmp_path):
    db = str(tmp_path / "hall.db")
    run = CliRunner().invoke
    assert run(main, ["init-db", "--db", db]).exit_code == 0
    r = run(main, ["seed-demo", "--db", db])
    assert r.exit_code == 0 and "38 services" in r.output and "clerk1" in r.output
    again = run(main, ["seed-demo", "--db", db])
    assert again.exit_code != 0 and "hall_not_empty" in again.output
    r = run(main, ["token", "create", "--db", db, "--role", "kiosk", "--name", "kiosk-01"])
    token = r.output.strip()
    assert r.exit_code == 0 and len(token) >= 40 and "\n" not in token
    from queue_server.auth import verify_token
    from queue_server.db import connect

    assert verify_token(connect(db), token).role == "kiosk"
    r = run(main, ["user", "create", "--db", db, "--username", "clerk9", "--name", "孙丽", "--staff-no", "0109",
                   "--role", "clerk", "--password", "s3cret-pw"])
    assert r.exit_code == 0
    r = run(main, ["settings", "set", "--db", db, "max_wait_minutes", "30"])
    assert r.exit_code == 0
    r = run(main, ["settings", "get", "--db", db, "max_wait_minutes"])
    assert r.output.strip() == "30"
    assert run(main, ["settings", "set", "--db", db, "max_wait_minutes", "soon"]).exit_code != 0
    r = run(main, ["archive", "--db", db, "--out", str(tmp_path / "arch.db")])
    assert r.exit_code == 0 and json.loads(r.stdout)["moved"]["tickets"] == 0


def test_demo_prepares_the_hall_and_prints_urls_and_tokens(tmp_path):
    r = CliRunner().invoke(main, ["demo", "--db", str(tmp_path / "demo.db"), "--no-serve", "--port", "8123"])
    assert r.exit_code == 0, r.output
    for text in ("/display", "/display/window/1", "/counter", "/api/openapi.json", "clerk1 / clerk123"):
        assert text in r.output
    tokens = json.loads((tmp_path / "demo.db.tokens.json").read_text())
    assert set(tokens) >= {"kiosk", "display", "admin"}


@pytest.mark.slow
def test_serve_with_two_workers_answers_and_stops_on_sigterm(tmp_path):
    db = str(tmp_path / "hall.db")
    CliRunner().invoke(main, ["seed-demo", "--db", db])
    token = CliRunner().invoke(main, ["token", "create", "--db", db, "--role", "kiosk", "--name", "k"]).output.strip()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "queue_server.cli", "serve", "--db", db, "--port", str(port),
                             "--workers", "2", "--threads", "8"], cwd=str(ROOT),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if request("GET", port, "/api/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        tickets = [request("POST", port, "/api/tickets", {"service": "QY01"}, token)[1] for _ in range(20)]
        assert len({t["number"] for t in tickets}) == 20
        # One after another, on either worker: each has the ones before it ahead (the
        # starting process keeps the run for both and answers them).
        assert [t["waiting_ahead"] for t in tickets] == list(range(20))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) is not None


def test_hall_export_then_import_into_an_empty_hall_round_trips(tmp_path):
    src, dst = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    run = CliRunner().invoke
    run(main, ["seed-demo", "--db", src])
    exported = run(main, ["hall", "export", "--db", src]).output
    (tmp_path / "hall.json").write_text(exported, encoding="utf-8")
    r = run(main, ["hall", "import", "--db", dst, str(tmp_path / "hall.json")])
    assert r.exit_code == 0, r.output
    assert "38 services, 15 windows" in r.output
    assert run(main, ["hall", "export", "--db", dst]).output == exported
    data = json.loads(exported)
    assert data["windows"][0]["services"] == ["*"]


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"windows": [{"number": 99, "name": "99号窗口", "services": ["NOPE"]}]}, "NOPE"),
        ({"categories": [{"code": "x", "name": "X", "prefix": "ab"}]}, "prefix"),
        ({"services": [{"code": "X1", "name": "X", "category": "nope"}]}, "category"),
        ({"services": [{"code": "X1", "name": "X", "category": "qiye", "daily_limit_per_id": 0}]}, "daily_limit"),
    ],
)
def test_hall_import_rejects_a_bad_catalogue_and_writes_nothing(tmp_path, patch, message):
    db = str(tmp_path / "a.db")
    run = CliRunner().invoke
    run(main, ["seed-demo", "--db", db])
    before = run(main, ["hall", "export", "--db", db]).output
    (tmp_path / "bad.json").write_text(json.dumps(patch), encoding="utf-8")
    r = run(main, ["hall", "import", "--db", db, str(tmp_path / "bad.json")])
    assert r.exit_code != 0 and "bad_hall_config" in r.output and message in r.output
    assert run(main, ["hall", "export", "--db", db]).output == before


def test_token_list_and_revoke(tmp_path):
    db = str(tmp_path / "hall.db")
    run = CliRunner().invoke
    run(main, ["init-db", "--db", db])
    token = run(main, ["token", "create", "--db", db, "--role", "kiosk", "--name", "kiosk-01"]).output.strip()
    listed = run(main, ["token", "list", "--db", db]).output
    assert "kiosk-01" in listed and "active" in listed and token not in listed
    assert run(main, ["token", "revoke", "--db", db, "--name", "kiosk-01"]).exit_code == 0
    assert "revoked" in run(main, ["token", "list", "--db", db]).output
    assert run(main, ["token", "revoke", "--db", db, "--name", "kiosk-01"]).exit_code != 0
    from queue_server.auth import clear_cache, verify_token
    from queue_server.db import connect
    from queue_server.errors import Unauthorized

    clear_cache()
    with pytest.raises(Unauthorized):
        verify_token(connect(db), token)
