"""One run of the calling order for every worker process of ``serve --workers N``: the
workers' side (the keeper is :mod:`queue_server.queue.ahead_keeper`).

前面还有 N 人 of a newly issued ticket comes from the simulated run of the calling order
(:mod:`queue_server.queue.ahead`), brought on by the tickets issued since. Each worker
process keeping its own run would play every new ticket into each of them, the other
processes' tickets too: with two workers, twice the work for one answer. So the process
that started the workers (it only waits for them otherwise) keeps the hall's run and
answers for all of them, over a Unix socket in a private directory:

* a worker that has committed a ticket sends its id and business day
  (:func:`ask`; 4 + 10 bytes) and waits, without its work slot, for (N, windows);
* the keeper reads every question that has arrived (when a question says that other
  issuers of its worker are inside their write transaction, it waits for more as long as
  its last answer took, at most 5 ms), takes *one* snapshot after them (each was
  sent after its ticket's commit, so the snapshot holds every asked ticket) and answers
  them all from one run — questions arriving while it works wait for the next snapshot,
  like a group commit;
* "don't know" (another day, an error) and a keeper that does not answer in
  :data:`ASK_TIMEOUT_S` make the worker count locally, as a single process does
  (:func:`queue_server.queue.ahead.after_commit`); after a failure it does not ask again
  for :data:`RETRY_AFTER_S`.

Progress pages (``/t/<code>``) still read each process's own kept run: they change nothing
and most ask about a state already counted.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

from queue_server.slots import released

ASK = struct.Struct("!q10sH")  # ticket id, business day (YYYY-MM-DD), issuers still in a transaction
ANSWER = struct.Struct("!ii")  # N, windows; N = -1: don't know
#: How long a worker waits for the keeper before counting by itself.
ASK_TIMEOUT_S = 2.0
#: After a keeper failed to answer, how long a worker counts by itself before asking again.
RETRY_AFTER_S = 10.0

_path: str | None = None
_local = threading.local()
_down_until = 0.0


def use(path: str | None) -> None:
    """Ask the keeper listening at ``path`` from now on (None: count in this process)."""
    global _path, _down_until
    _path, _down_until = path, 0.0
    _local.__dict__.clear()


def ask(ticket_id: int, day: str, others: int = 0) -> tuple[int, int] | None:
    """(N, windows) of a just-committed ticket from the keeper; None when there is no keeper,
    it does not know, or it does not answer (the caller then counts by itself). ``others``:
    issuers of this process inside their write transaction now — their questions follow in
    a moment, so the keeper waits for them (a lone question is answered at once)."""
    global _down_until
    if _path is None or time.monotonic() < _down_until:
        return None
    sock: socket.socket | None = getattr(_local, "sock", None)
    try:
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(ASK_TIMEOUT_S)
            sock.connect(_path)
            _local.sock = sock
        with released():
            sock.sendall(ASK.pack(ticket_id, day.encode(), min(others, 65535)))
            got = b""
            while len(got) < ANSWER.size:
                chunk = sock.recv(ANSWER.size - len(got))
                if not chunk:
                    raise ConnectionError("the keeper closed the connection")
                got += chunk
    except OSError:
        if sock is not None:
            sock.close()
        _local.sock = None
        _down_until = time.monotonic() + RETRY_AFTER_S
        return None
    n, windows = ANSWER.unpack(got)
    return None if n < 0 else (n, windows)
