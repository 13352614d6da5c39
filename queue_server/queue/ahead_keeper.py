"""The keeper of the hall's run of the calling order for ``serve --workers N``: the process
that started the workers answers their 前面还有 N 人 questions from one run (the protocol
and the workers' side: :mod:`queue_server.queue.ahead_shared`)."""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import sys
import tempfile
import threading
import time
from typing import Any

from queue_server import clock as clk
from queue_server.db import db_path
from queue_server.migrations import open_db
from queue_server.queue.ahead import answer_batch
from queue_server.queue.ahead_shared import ANSWER, ASK
from queue_server.queue.common import hall

#: The longest the keeper holds a question back to answer it with the ones arriving next.
MAX_GATHER_S = 0.005


class Keeper:
    """The run keeper of ``serve --workers N`` (see the module docstring). Make it (it
    listens) before forking the workers, :meth:`start` it in the parent after, and give
    each worker its :attr:`path` (:func:`queue_server.queue.ahead_shared.use`). ``clock``:
    the hall's clock (tests); the real one otherwise. :attr:`batches` and :attr:`answered`
    count the snapshots taken and the questions answered from them."""

    def __init__(self, db_path: str, clock: clk.Clock | None = None) -> None:
        self.db_path = db_path
        self.clock = clock
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.dir = tempfile.mkdtemp(prefix="yichuang-ahead-")  # mode 0700: only this user
        self.path = os.path.join(self.dir, "ahead.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(256)
        self.batches = 0
        self.answered = 0
        self.last_answer_s = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve, name="ahead-keeper", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop answering (workers asking now count by themselves) and remove the socket."""
        self._stopping = True
        if self._thread is not None:
            try:  # wake the loop
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as poke:
                    poke.connect(self.path)
            except OSError:
                pass
            self._thread.join(timeout=5)
        self.listener.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def serve(self) -> None:
        try:
            db = open_db(self.db_path)
            try:
                self._loop(db)
            finally:
                db.conn.close()
        except Exception as exc:  # noqa: BLE001 — reported; the workers count by themselves
            print(f"queue-server: 前面还有 N 人 keeper stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            # Nobody listening: a worker's connect fails at once and it counts by itself,
            # instead of waiting ASK_TIMEOUT_S for a keeper that is gone.
            self.listener.close()

    def _loop(self, db: Any) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ)
        buffers: dict[socket.socket, bytes] = {}
        pending: list[tuple[socket.socket, int, str]] = []
        answer_at = 0.0  # when the questions pending are answered
        try:
            while not self._stopping:
                wait = max(0.0, answer_at - time.monotonic()) if pending else None
                for key, _mask in sel.select(timeout=wait):
                    sock: Any = key.fileobj
                    if sock is self.listener:
                        try:
                            conn, _addr = self.listener.accept()
                        except OSError:  # closed: the server is stopping
                            self._stopping = True
                            break
                        conn.settimeout(1.0)  # reads follow the selector; a send is 8 bytes to a waiting worker
                        sel.register(conn, selectors.EVENT_READ)
                        buffers[conn] = b""
                        continue
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        sel.unregister(sock)
                        sock.close()
                        buffers.pop(sock, None)
                        continue
                    buf = buffers[sock] + data
                    while len(buf) >= ASK.size:
                        tid, day, others = ASK.unpack_from(buf)
                        if not pending:
                            answer_at = 0.0
                        if others and not answer_at:
                            # Gather: other issuers of that worker are about to ask; their
                            # questions share this answer's run if it waits as long as the
                            # last answer took (a batch costs about the same for one ticket
                            # as for twenty), at most MAX_GATHER_S. A lone question: at once.
                            answer_at = time.monotonic() + min(self.last_answer_s, MAX_GATHER_S)
                        pending.append((sock, tid, day.decode()))
                        buf = buf[ASK.size:]
                    buffers[sock] = buf
                if pending and not self._stopping and time.monotonic() >= answer_at:
                    t0 = time.monotonic()
                    self._answer(db, pending)
                    pending = []
                    self.last_answer_s = time.monotonic() - t0
        finally:  # the workers waiting on a connection see it close and count by themselves
            for key in list(sel.get_map().values()):
                if key.fileobj is not self.listener:
                    key.fileobj.close()  # type: ignore[union-attr]
            sel.close()

    def _answer(self, db: Any, pending: list[tuple[socket.socket, int, str]]) -> None:
        answers: dict[int, tuple[int, int]] = {}
        try:
            h = hall(db, self.clock)
            asked = [tid for _s, tid, day in pending if day == h.day]
            if asked:
                answers = answer_batch(db.conn, db_path(db), h, asked)
        except Exception as exc:  # noqa: BLE001 — a worker counts by itself on "don't know"
            print(f"queue-server: 前面还有 N 人 keeper: {type(exc).__name__}: {exc}", file=sys.stderr)
        self.batches += 1
        for sock, tid, _day in pending:
            n, windows = answers.get(tid, (-1, 0))
            self.answered += n >= 0
            try:
                sock.sendall(ANSWER.pack(n, windows))
            except OSError:
                pass  # the worker went away; its connection is closed on the next read
