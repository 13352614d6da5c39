"""The shape of the code: no import cycles, an engine without Flask, a kiosk that does not
import the server, tests that do not import each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("queue_server", "kiosk", "hardware", "yichuang", "city_hub")

#: The one allowed way back into the core: the app factory imports the blueprints, which
#: import ``queue_server.app`` for ``get_db`` (as flaskr's ``create_app`` does).
ALLOWED_BACK_EDGES = {"queue_server.app"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py") if (ROOT / pkg).exists() else ():
            mods[module_name(path)] = path
    return mods


def imports_of(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """Project modules ``name`` imports, at module level or inside functions. ``from a import b``
    counts as importing ``a.b`` when that is a module, else ``a``; ``TYPE_CHECKING`` blocks are
    skipped."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in mods:
                    out.add(a.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name if is_pkg else name.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rsplit(".", 1)[0]
                base = f"{pkg}.{base}" if base else pkg
            for a in node.names:
                full = f"{base}.{a.name}"
                if full in mods:
                    out.add(full)
                elif base in mods:
                    out.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    out.discard(name)
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    color: dict[str, int] = {}
    stack: list[str] = []

    def dfs(n: str) -> list[str] | None:
        color[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if color.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if not color.get(m):
                found = dfs(m)
                if found:
                    return found
        stack.pop()
        color[n] = 2
        return None

    for n in sorted(graph):
        if not color.get(n):
            found = dfs(n)
            if found:
                return found
    return None


@pytest.mark.parametrize("package", ["queue_server", "kiosk", "hardware", "city_hub"])
def test_no_import_cycle(package):
    mods = project_modules()
    graph = {}
    for name, path in mods.items():
        if name.split(".")[0] != package:
            continue
        edges = imports_of(name, path, mods)
        if name in ALLOWED_BACK_EDGES:  # create_app → blueprints
            edges = {e for e in edges if not e.endswith(".routes") and e not in
                     ("queue_server.api.errors", "queue_server.web.counter", "queue_server.web.displays",
                      "queue_server.web.landing")}
        graph[name] = {e for e in edges if e.split(".")[0] == package}
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph) or [])


def test_the_kiosk_never_imports_the_server():
    mods = project_modules()
    bad = {name: sorted(e for e in imports_of(name, path, mods) if e.startswith("queue_server"))
           for name, path in mods.items() if name.startswith("kiosk")}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_queue_engine_does_not_import_flask():
    code = "import sys, queue_server.queue, queue_server.migrations; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_waitress_can_still_find_the_app_factory():
    code = "import queue_server; print(callable(queue_server.create_app))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "True"


def test_no_sys_path_insert_anywhere():
    offenders = []
    for path in ROOT.rglob("*.py"):
        if ".venv" in path.parts or "build" in path.parts:
            continue
        if "sys.path.insert" in path.read_text(encoding="utf-8") and path != Path(__file__):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_no_test_module_imports_another_test_module():
    tests = {p.stem for p in (ROOT / "tests").glob("test_*.py")}
    offenders = []
    for path in (ROOT / "tests").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                if n.split(".")[-1] in tests:
                    offenders.append(f"{path.name} imports {n}")
    assert offenders == []
