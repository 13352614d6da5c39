"""The lists a reader relies on stay true: every setting, command, kiosk configuration key,
event type, HTTP route, role, error code and audit record kind is documented, and the
kiosk's ``--help`` in docs/kiosk.md is the real one (like sqlite-utils' and datasette's
``test_docs.py``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def all_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))) + \
        (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += commands(cmd, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app with every capability registered (their modules declare events, records)."""
    from queue_server import create_app

    return create_app({"DB_PATH": str(tmp_path_factory.mktemp("docs") / "hall.db"), "TESTING": True})


# --- commands ---------------------------------------------------------------------------------

def _queue_server_commands() -> list[tuple[str, ...]]:
    from queue_server.cli import main

    return commands(main)


@pytest.mark.parametrize("path", _queue_server_commands(), ids=" ".join)
def test_every_queue_server_command_is_documented(path):
    assert f"queue-server {' '.join(path)}" in all_docs()


def _hub_commands() -> list[tuple[str, ...]]:
    from city_hub.cli import main

    return commands(main)


@pytest.mark.parametrize("path", _hub_commands(), ids=" ".join)
def test_every_city_hub_command_is_documented(path):
    assert f"city-hub {' '.join(path)}" in doc("city-hub.md")


def _hardware_commands() -> list[tuple[str, ...]]:
    from hardware.__main__ import main

    return commands(main)


@pytest.mark.parametrize("path", _hardware_commands(), ids=" ".join)
def test_every_hardware_command_is_documented(path):
    assert f"python -m hardware {' '.join(path)}" in all_docs()


# --- settings and configuration ---------------------------------------------------------------

def test_every_hall_setting_is_documented():
    from queue_server.settings import SETTINGS

    text = doc("queue-server.md")
    assert [s.name for s in SETTINGS if f"`{s.name}`" not in text] == []


def test_every_kiosk_configuration_key_is_documented():
    from kiosk.config import SETTINGS

    text = doc("kiosk.md")
    assert [f"{s.section}.{s.key}" for s in SETTINGS if f"`{s.section}.{s.key}`" not in text] == []


def test_the_kiosk_help_in_the_docs_is_the_real_one():
    env = dict(os.environ, COLUMNS="100")
    out = subprocess.run([sys.executable, "-m", "kiosk", "--help"], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 0
    options = out.stdout[out.stdout.index("options:"):].strip()
    text = doc("kiosk.md")
    assert options in text, "docs/kiosk.md: paste the options of `yichuang-kiosk --help` (COLUMNS=100)"


# --- events, records, roles, errors -----------------------------------------------------------

def test_every_event_type_is_declared_and_documented(app):
    from queue_server.events import EVENT_TYPES

    text = doc("architecture.md")
    assert len(EVENT_TYPES) > 15
    assert sorted(name for name in EVENT_TYPES if f"`{name}`" not in text) == []


def test_every_audit_record_kind_is_documented(app):
    from queue_server.audit.records import RECORD_TYPES

    text = doc("audit.md")
    assert sorted(kind for kind in RECORD_TYPES if f"`{kind}`" not in text) == []


def test_every_role_is_documented():
    from queue_server.auth import TOKEN_ROLES, USER_ROLES

    text = doc("api.md")
    assert sorted(r for r in set(TOKEN_ROLES) | set(USER_ROLES) if f"| `{r}` |" not in text) == []


def test_the_error_code_tables_are_current():
    from yichuang.errors import DOC_TABLES, render_block

    for origin, name in DOC_TABLES.items():
        text = (ROOT / name).read_text(encoding="utf-8")
        assert render_block(text, origin) == text, f"{name}: run python -m yichuang.errors --write"


# --- HTTP routes ------------------------------------------------------------------------------

def _shape(path: str) -> str:
    """``/api/tickets/<int:ticket_id>/recall`` and ``/api/tickets/<id>/recall`` → the same."""
    shaped = re.sub(r"<[^>]+>", "<>", re.sub(r"\{[^}]+\}", "<>", path.split("?")[0]))
    return shaped.rstrip("/") or "/"


def test_every_api_route_is_documented_in_api_md(app):
    documented = {(m, _shape(p)) for m, p in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/api/[^`\s]*)", doc("api.md"))}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (method, _shape(rule.rule)) not in documented:
                missing.append(f"{method} {rule.rule}")
    assert missing == []


def test_every_page_is_documented(app):
    text = all_docs()
    pages = sorted({_shape(r.rule) for r in app.url_map.iter_rules()
                    if not r.rule.startswith(("/api/", "/web-static", "/static")) and "static" not in r.endpoint})
    shapes = {_shape(m.group(1)) for span in re.findall(r"`([^`\n]+)`", text)
              for m in [re.search(r"(?:^|\s)(/[^\s`]*)", span)] if m}
    assert [p for p in pages if p not in shapes] == []
