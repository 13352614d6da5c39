"""The demo: a local demo hall served by ``queue-server demo`` in a child process, and the
kiosk configuration that goes with it (simulated printer, simulated ID-card reader, the
replayed demo camera clip).

The kiosk never imports the queue server: the demo hall is started as the ``queue-server``
command, exactly as a person would start it, and the kiosk talks to it over HTTP like to any
hall. What the demo reads lives in ``assets/demo/`` (see its ``SOURCES.md``)::

    server = start_demo_server("var/demo.db", 8000)   # DemoServer(proc, url, tokens)
    config = demo_config(server.url, server.tokens)
    ...
    server.stop()
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ASSETS_DEMO = ROOT / "assets" / "demo"
#: The "ID photo" on the simulated reader's cards (the person in :data:`DEMO_CLIP`).
DEMO_ID_PHOTO = ASSETS_DEMO / "lin-manuel-miranda.png"
#: The clip the demo camera replays (a real head turn).
DEMO_CLIP = ASSETS_DEMO / "short_hamilton_clip.mp4"


def queue_server_command() -> list[str]:
    """The ``queue-server`` command of this installation (next to this Python), or the
    module form when the console script is not installed."""
    script = Path(sys.executable).parent / "queue-server"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "queue_server.cli"]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoServer:
    """A running ``queue-server demo``: the child process, its URL and the demo tokens."""

    proc: subprocess.Popen[bytes]
    url: str
    tokens: dict[str, str]

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Ctrl-C to the server (it stops cleanly), then a kill if it does not."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def database_in_use(db: str | Path) -> int | None:
    """The pid of a running queue server that has ``db`` open (its ``<db>.server.pid``), or
    None. (The kiosk never imports the server: this reads the same pid file.)"""
    pid_file = Path(os.path.abspath(str(db)) + ".server.pid")
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def demo_database(db: str | Path) -> Path:
    """Where the demo's database goes: ``db``, unless a running server uses it — then a fresh
    place (a new temporary folder), said in one line; a running server's database is never
    deleted."""
    pid = database_in_use(db)
    if pid is None:
        return Path(db)
    import tempfile

    fresh = Path(tempfile.mkdtemp(prefix="yichuang-demo-")) / "demo.db"
    print(f"{db} is in use by a running queue server (pid {pid}); not touching it — "
          f"this demo uses a fresh database at {fresh}")
    return fresh


def start_demo_server(db: str | Path, port: int = 8000, *, quiet: bool = False,
                      timeout: float = 30.0) -> DemoServer:
    """``queue-server demo --db DB --port PORT`` in a child process (a free port when
    ``port`` is taken or 0); returns once the server answers. ``quiet``: its output (URLs,
    tokens) goes nowhere instead of to this terminal."""
    import requests

    if port == 0:
        port = free_port()
    elif not port_free(port):
        new = free_port()
        print(f"port {port} is taken; the demo server uses port {new}")
        port = new
    tokens_file = Path(f"{db}.tokens.json")
    tokens_file.unlink(missing_ok=True)
    cmd = [*queue_server_command(), "demo", "--db", str(db), "--port", str(port)]
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(cmd, cwd=str(ROOT), stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the demo queue server exited with code {proc.returncode}")
        try:
            if tokens_file.exists() and requests.get(url + "/api/health", timeout=1).ok:
                return DemoServer(proc, url, json.loads(tokens_file.read_text()))
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"the demo queue server did not start within {timeout:.0f} s")


def demo_config(url: str, tokens: dict[str, str]) -> dict[str, Any]:
    """The kiosk configuration of the demo: the demo hall's name, ``sim://`` printer, the
    card-reader simulator whose cards carry :data:`DEMO_ID_PHOTO`, the face check for
    priority tickets (the camera is the replayed :data:`DEMO_CLIP`)."""
    import requests

    hall, hall_en = "政务服务大厅", ""
    try:
        state = requests.get(url + "/api/state", timeout=3,
                             headers={"Authorization": f"Bearer {tokens['kiosk']}"}).json()
        hall = state.get("hall", {}).get("name") or hall
        hall_en = state.get("hall", {}).get("name_en") or ""
    except (requests.RequestException, ValueError):
        pass
    return {
        "server": {"url": url, "token": tokens["kiosk"]},
        "kiosk": {"name": "demo-kiosk", "hall_name": hall, "hall_name_en": hall_en},
        "printer": {"url": "sim://demo-kiosk", "paper": 80},
        # the simulated reader's cards carry the demo's stand-in photo, which the replayed
        # camera clip matches (docs/identity.md): priority tickets show the face check
        "idcard": {"driver": "sim", "sim_photo": str(DEMO_ID_PHOTO)},
        "identity": {"verify_face_for_priority": True},
        # 秒批 documents print through the server's queue on its printer of this name
        "approvals": {"printer": "demo-kiosk"},
    }
