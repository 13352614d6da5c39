"""The window rule: a clerk acts for their own window. One check, used by every window action.

A clerk is signed in to a window by opening it (``windows.clerk_user_id``); closing it
signs them out. Every action at a window — call, recall, start, finish, no-show,
transfer, cancel, pause, resume, close, and any later one — runs :func:`check_window`
for the window it acts at (or :func:`check_ticket` for the ticket it moves) inside its
write transaction, so the rule and the change see the same state:

* an admin (and the engine's own callers: CLI, demo, tests) acts at any window;
* a clerk acts only at the windows they have open (403 ``window_not_signed_in`` for a
  window nobody has open, ``not_your_window`` for one another clerk has open);
* a clerk device token bound to a window (``queue-server token create --role clerk
  --window N``) acts only at window N (403 ``token_window_bound``);
* a clerk device token bound to no window acts only at windows no clerk has open.

A ticket is *at* the window that called it (called, serving, no-show) and *for* the window
it was transferred to; a waiting ticket not transferred is for every open window that
serves its service (and, for a priority group's ticket, every open green-channel window). Cancelling a waiting ticket that is not for one's own window needs a
reason and is audited (``ticket.cancelled_elsewhere``), see
:func:`queue_server.queue.lifecycle.cancel`.

Routes hand the engine an :class:`Acting` (``queue_server.api.common.acting``); engine
functions take it as ``clerk_user_id`` (an ``int`` still means a signed-in clerk, ``None``
anyone) and normalise it with :func:`as_acting`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from queue_server.errors import Forbidden
from queue_server.queue.common import PRIORITY_GROUPS, Window, load_window, load_windows


@dataclass(frozen=True)
class Acting:
    """Who acts at a window: a signed-in clerk (``user_id``), a window-bound clerk device
    (``bound_window``), an unbound clerk device (neither), or anyone (``anywhere``)."""

    user_id: int | None = None
    bound_window: int | None = None
    anywhere: bool = False


ANYWHERE = Acting(anywhere=True)


def as_acting(who: int | Acting | None) -> Acting:
    """``None`` → anyone (admin, engine callers); an ``int`` → that signed-in clerk."""
    if isinstance(who, Acting):
        return who
    if who is None:
        return ANYWHERE
    return Acting(user_id=int(who))


def window_refusal(w: Window, who: Acting) -> Forbidden | None:
    """Why ``who`` may not act at ``w`` (None: they may)."""
    if who.anywhere:
        return None
    if who.bound_window is not None:
        if w.number != who.bound_window:
            return Forbidden("token_window_bound", bound=who.bound_window, window=w.number)
        return None
    if who.user_id is None:  # a clerk device bound to no window
        return Forbidden("not_your_window", window=w.number) if w.clerk_user_id is not None else None
    if w.clerk_user_id == who.user_id:
        return None
    if w.clerk_user_id is None:
        return Forbidden("window_not_signed_in", window=w.number)
    return Forbidden("not_your_window", window=w.number)


def check_window(w: Window, who: int | Acting | None) -> None:
    """The rule (see the module): 403 unless ``who`` may act at window ``w``."""
    refusal = window_refusal(w, as_acting(who))
    if refusal is not None:
        raise refusal


def ticket_windows(conn: sqlite3.Connection, row: sqlite3.Row | dict[str, Any]) -> list[Window]:
    """The windows a ticket is at or for (see the module)."""
    if row["status"] == "waiting":
        if row["transfer_window"] is not None:
            return [load_window(conn, int(row["transfer_window"]))]
        green = row["priority"] in PRIORITY_GROUPS  # a green-channel window calls these of any service
        return [w for w in load_windows(conn) if w.status != "closed"
                and (w.serves(str(row["service_code"])) or (green and w.kind == "green"))]
    if row["window"] is not None:
        return [load_window(conn, int(row["window"]))]
    return []


def ticket_refusal(conn: sqlite3.Connection, row: sqlite3.Row | dict[str, Any],
                   who: int | Acting | None) -> Forbidden | None:
    """Why ``who`` may not act on this ticket (None: they may, at one of its windows)."""
    acting = as_acting(who)
    if acting.anywhere:
        return None
    windows = ticket_windows(conn, row)
    refusals = [window_refusal(w, acting) for w in windows]
    if any(r is None for r in refusals):
        return None
    if refusals:
        return refusals[0]
    window = row["transfer_window"] or row["window"] or acting.bound_window or "—"
    return Forbidden("window_not_signed_in", window=window)


def check_ticket(conn: sqlite3.Connection, row: sqlite3.Row | dict[str, Any], who: int | Acting | None) -> None:
    """403 unless ``who`` may act on the ticket of ``row`` (at or for one of their windows)."""
    refusal = ticket_refusal(conn, row, who)
    if refusal is not None:
        raise refusal


# --- what each token role reads of a ticket ----------------------------------------------------

#: Roles that read a whole ticket (masked ID, appointment, notes clerks typed).
STAFF_READERS = ("clerk", "admin", "supervisor")

#: What anyone with a token reads of any ticket: its number and where it stands.
PUBLIC_TICKET_FIELDS = ("id", "day", "number", "service", "service_name", "service_name_en", "category", "status",
                        "waiting_ahead", "estimated_wait_minutes", "issued_at", "called_at", "window",
                        "window_name", "call_count")

#: Fields only staff read, even of a kiosk's own ticket: the notes clerks type.
STAFF_ONLY_FIELDS = ("transfer_note",)


def ticket_view(ticket: dict[str, Any], role: str, token_name: str) -> dict[str, Any]:
    """``ticket`` as a caller of ``role`` may read it: staff everything; a kiosk its own
    tickets (issued under its token name) without staff notes; everyone else — displays,
    technicians, other kiosks — the number, service, status and window only (no masked ID,
    appointment code, progress code or note)."""
    if role in STAFF_READERS:
        return ticket
    if role == "kiosk" and ticket.get("issued_by") == token_name:
        return {k: v for k, v in ticket.items() if k not in STAFF_ONLY_FIELDS}
    return {k: ticket[k] for k in PUBLIC_TICKET_FIELDS if k in ticket}
