"""The queue engine: numbering, lifecycle, call-next order, appointments, limits, estimates.

Plain Python on a sqlite-utils :class:`~sqlite_utils.Database`; no Flask. Every function
that changes something is one :func:`queue_server.db.write_tx` and records its event in
that transaction; the caller pokes the event bus after it returns. Errors are the typed
errors of :mod:`queue_server.errors`. Every function takes an optional ``clock``.
"""

from queue_server.queue.catalog import categories, services, windows
from queue_server.queue.lifecycle import (
    call_next,
    call_number,
    called_at,
    cancel,
    close_window,
    find_ticket,
    finish,
    get_ticket,
    no_show,
    no_shows,
    open_window,
    pause_window,
    recall,
    resume_window,
    start,
    transfer,
    window_dict,
)
from queue_server.queue.state import hall_state, set_notice, ticket_progress, window_queue
from queue_server.queue.tickets import check_in, issue_ticket

__all__ = [
    "call_next",
    "call_number",
    "called_at",
    "categories",
    "cancel",
    "check_in",
    "close_window",
    "find_ticket",
    "finish",
    "get_ticket",
    "hall_state",
    "issue_ticket",
    "no_show",
    "no_shows",
    "open_window",
    "pause_window",
    "recall",
    "resume_window",
    "services",
    "set_notice",
    "start",
    "ticket_progress",
    "transfer",
    "window_dict",
    "window_queue",
    "windows",
]
