"""Helpers for the display, console, event-stream and browser tests (not a test module).

* :class:`SSEReader` reads an event stream (a Flask test response or a socket file) in a
  background thread and hands out parsed messages with a timeout, so a test never hangs.
* :func:`seeded_hall` makes a demo hall with tokens; :class:`Server` runs the real queue
  server (waitress) in a subprocess on a free loopback port.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Message:
    event: str = "message"
    data: str = ""
    id: str | None = None
    comment: str | None = None
    retry: int | None = None
    fields: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(chunks: Iterable[bytes | str]) -> Iterator[Message]:
    """Messages of an SSE byte/str stream (comments and retry hints are messages too)."""
    buf = ""
    for chunk in chunks:
        buf += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buf:
            block, buf = buf.split("\n\n", 1)
            msg = Message()
            for line in block.split("\n"):
                msg.fields.append(line)
                if line.startswith(":"):
                    msg.comment = line[1:].strip()
                elif line.startswith("retry: "):
                    msg.retry = int(line[7:])
                elif line.startswith("event: "):
                    msg.event = line[7:]
                elif line.startswith("data: "):
                    msg.data += line[6:]
                elif line.startswith("id: "):
                    msg.id = line[4:]
            yield msg


class SSEReader:
    """Parse a stream in a thread; ``next(timeout)`` returns the next message or raises."""

    def __init__(self, chunks: Iterable[bytes | str]):
        self._q: queue.Queue[Message | BaseException | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(chunks,), daemon=True)
        self._thread.start()

    def _run(self, chunks: Iterable[bytes | str]) -> None:
        try:
            for msg in parse_sse(chunks):
                self._q.put(msg)
            self._q.put(None)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            self._q.put(e)

    def next(self, timeout: float = 5.0, skip_comments: bool = True, skip_retry: bool = True) -> Message:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no SSE message in time")
            try:
                item = self._q.get(timeout=left)
            except queue.Empty as e:
                raise TimeoutError("no SSE message in time") from e
            if item is None:
                raise EOFError("stream ended")
            if isinstance(item, BaseException):
                raise item
            if skip_comments and item.comment is not None and not item.data:
                continue
            if skip_retry and item.retry is not None and not item.data:
                continue
            return item

    def until(self, event: str, timeout: float = 5.0) -> Message:
        """Skip messages until one of type ``event``."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next(max(0.01, deadline - time.monotonic()))
            if msg.event == event:
                return msg

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)


def close_stream(resp: requests.Response) -> None:
    """Close a streaming ``requests`` response whose body another thread is reading.

    Closing the file under a blocked reader waits for the read to time out; shutting the
    socket down first makes the reader see EOF at once.
    """
    try:
        sock = resp.raw._fp.fp.raw._sock  # http.client response -> SocketIO -> socket
        sock.shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        pass
    resp.close()


def seeded_hall(db_path: Path, windows: int = 6) -> dict[str, Any]:
    """A demo hall (windows open, no clerk) with one token per role."""
    from queue_server.db import connect
    from queue_server.demo import make_hall

    db = connect(db_path)
    try:
        return make_hall(db, windows=windows, tokens=True, appointments=0)
    finally:
        db.conn.close()


class Server:
    """The real queue server (waitress) in a subprocess on ``port``; restartable on the same port."""

    def __init__(self, db_path: Path, port: int, threads: int = 32, env: dict[str, str] | None = None):
        self.db_path = db_path
        self.port = port
        self.threads = threads
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self, timeout: float = 20.0) -> Server:
        env = dict(os.environ, YICHUANG_DB_PATH=str(self.db_path), PYTHONPATH=str(ROOT), **self.extra_env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "waitress", f"--threads={self.threads}", "--host=127.0.0.1",
             f"--port={self.port}", "--channel-timeout=300", "--call", "queue_server:create_app"],
            env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"server exited: {err[-2000:]}")
            try:
                if requests.get(self.url + "/api/health", timeout=0.5).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


#: Clerk console shortcut → the button it acts on.
KEY_BUTTON = {"F1": "btn-call", "Space": "btn-call", "r": "btn-recall", "s": "btn-start", "f": "btn-finish",
              "n": "btn-noshow", "t": "btn-transfer"}


def press(page: Any, key: str) -> None:
    """Press a console shortcut once the console is idle and the key's button is enabled
    (while a request is under way, or when its button is disabled, a key does nothing)."""
    page.wait_for_selector("body:not([data-busy='1'])", timeout=10000)
    if key in KEY_BUTTON:
        page.wait_for_selector(f"#{KEY_BUTTON[key]}:not([disabled])", timeout=10000)
    page.keyboard.press(key)
