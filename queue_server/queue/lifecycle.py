"""Ticket lifecycle and windows: call, recall, start, finish, no-show, transfer, cancel;
open, pause, resume, close.

::

    waiting ──call──▶ called ──start──▶ serving ──finish──▶ done
       ▲                │  ▲                │
       │             no-show│recall         │
       │                ▼  │                │
       └──transfer── no_show (recallable for no_show_recall_minutes, last N per window)
    waiting/called/no_show ──cancel──▶ cancelled      (earlier days: expired)

Each function is one :func:`~queue_server.db.write_tx`: it reads the ticket, checks the
transition, writes it with a guarded ``UPDATE … WHERE status = …`` and records the event,
so two clerks can never move the same ticket twice.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlite_utils import Database

from queue_server import clock as clk
from queue_server.audit.chain import append
from queue_server.db import db_path, write_tx
from queue_server.errors import Conflict, Forbidden, NotFound, ValidationError, unknown_service
from queue_server.events import record_event
from queue_server.queue import event_types  # noqa: F401  (declares what this module records)
from queue_server.queue.access import Acting, as_acting, check_ticket, check_window, ticket_refusal
from queue_server.queue.ahead import ahead_and_windows
from queue_server.queue.common import (
    PRIORITY_GROUPS,
    Hall,
    Window,
    fetch_ticket_row,
    hall,
    load_window,
    load_windows,
    ticket_dict,
)
from queue_server.queue.estimate import estimate_minutes
from queue_server.queue.order import next_for
from queue_server.queue.records import TicketCancelledElsewhere, TicketSpecialCalled

_STATUS_ZH = {
    "waiting": "等待中", "called": "已叫号", "serving": "办理中", "done": "已办结",
    "no_show": "已过号", "cancelled": "已取消", "expired": "已失效",
}


def _bad_state(row: sqlite3.Row, action_zh: str, action: str) -> Conflict:
    status = row["status"]
    return Conflict("bad_ticket_state", number=row["number"], status=status,
                    status_zh=_STATUS_ZH.get(status, status), action=action, action_zh=action_zh)


#: The window rule (:mod:`queue_server.queue.access`); every window action calls it.
_check_clerk = check_window

#: Who acts: an :class:`~queue_server.queue.access.Acting`, a signed-in clerk's user id, or
#: None for anyone (admins, the engine's own callers).
Who = int | Acting | None


def _called_event(conn: sqlite3.Connection, kind: str, row: sqlite3.Row, window: Window,
                   clerk_user_id: int | None, now: float) -> None:
    conn.execute(
        "INSERT INTO call_log (ticket_id, number, window, kind, clerk_user_id, ts) VALUES (?, ?, ?, ?, ?, ?)",
        (row["id"], row["number"], window.number, kind, clerk_user_id, now),
    )
    record_event(
        conn,
        "ticket.called" if kind == "call" else "ticket.recalled",
        {"ticket_id": row["id"], "number": row["number"], "window": window.number,
         "window_name": window.name, "service": row["service_code"], "called_at": now},
        ts=now,
    )


def call_next(
    db: Database, window: int, *, clerk_user_id: Who = None, clock: clk.Clock | None = None,
    guard: bool = False,
) -> dict[str, Any] | None:
    """Call the next ticket for ``window`` (order: :mod:`queue_server.queue.order`).

    The window's current ticket is closed first: ``serving`` → done, ``called`` → no-show
    (recallable). Returns the called ticket, or None when nobody waits for this window.

    ``guard`` applies the repeat guard (the API's 叫下一位 does, unless the clerk confirmed):
    while the window's current ticket is ``called`` and was called less than
    ``call_repeat_guard_seconds`` ago, the call is refused with 409 ``just_called`` and
    that ticket is left as it is — a double press must not mark the citizen walking up
    as absent.
    """
    h = hall(db, clock)
    uid = as_acting(clerk_user_id).user_id
    with write_tx(db) as conn:
        w = _open_window_for_call(conn, window, clerk_user_id)
        if guard:
            _repeat_guard(conn, w, h)
        _close_current(conn, w, h)
        ticket_id = next_for(conn, w, h)
        if ticket_id is None:
            return None
        cur = conn.execute(
            "UPDATE tickets SET status = 'called', called_at = ?, window = ?, clerk_user_id = ?, "
            "call_count = call_count + 1, transfer_window = NULL WHERE id = ? AND status = 'waiting'",
            (h.now, w.number, uid, ticket_id),
        )
        if cur.rowcount != 1:  # cannot happen under write_tx; never call a ticket twice
            raise Conflict("call_race")
        row = fetch_ticket_row(conn, ticket_id)
        _called_event(conn, "call", row, w, uid, h.now)
    return ticket_dict(row)


def _open_window_for_call(conn: sqlite3.Connection, window: int, clerk_user_id: Who) -> Window:
    w = load_window(conn, window)
    check_window(w, clerk_user_id)
    if w.status != "open":
        if w.status == "paused":
            raise Conflict("window_paused", window=w.number, reason=w.pause_reason)
        raise Conflict("window_closed", window=w.number)
    return w


def _repeat_guard(conn: sqlite3.Connection, w: Window, h: Hall) -> None:
    seconds = int(h.settings.get("call_repeat_guard_seconds") or 0)
    if seconds <= 0:
        return
    row = conn.execute(
        "SELECT number, called_at FROM tickets WHERE day = ? AND window = ? AND status = 'called' "
        "ORDER BY called_at DESC LIMIT 1",
        (h.day, w.number),
    ).fetchone()
    if row is not None and row[1] is not None and h.now - float(row[1]) < seconds:
        raise Conflict("just_called", number=row[0], window=w.number, seconds=seconds,
                       called_at=float(row[1]))


def _close_current(conn: sqlite3.Connection, w: Window, h: Hall) -> None:
    current = conn.execute(
        "SELECT id, number, status FROM tickets WHERE day = ? AND window = ? AND status IN ('called', 'serving')",
        (h.day, w.number),
    ).fetchall()
    for t in current:
        if t["status"] == "serving":
            conn.execute("UPDATE tickets SET status = 'done', finished_at = ? WHERE id = ?", (h.now, t["id"]))
            kind = "ticket.finished"
        else:
            conn.execute("UPDATE tickets SET status = 'no_show', closed_at = ? WHERE id = ?", (h.now, t["id"]))
            kind = "ticket.no_show"
        record_event(conn, kind, {"ticket_id": t["id"], "number": t["number"], "window": w.number}, ts=h.now)


def _load_ticket_for(conn: sqlite3.Connection, ticket_id: int) -> sqlite3.Row:
    return fetch_ticket_row(conn, ticket_id)


def recall(
    db: Database, ticket_id: int, *, window: int | None = None, clerk_user_id: Who = None,
    clock: clk.Clock | None = None,
) -> dict[str, Any]:
    """重呼: call a ``called`` ticket again, or bring back a recent no-show.

    A no-show is recallable for ``no_show_recall_minutes`` and only if it is among the
    last ``no_show_recall_last`` no-shows of its window.
    """
    h = hall(db, clock)
    with write_tx(db) as conn:
        row = _load_ticket_for(conn, ticket_id)
        if row["status"] not in ("called", "no_show") or row["day"] != h.day:
            raise _bad_state(row, "重呼", "recall")
        check_ticket(conn, row, clerk_user_id)  # the ticket is at one of the caller's windows
        w = load_window(conn, window if window is not None else int(row["window"]))
        check_window(w, clerk_user_id)  # and so is the window it is recalled to
        if w.status != "open":
            raise Conflict("window_not_open", window=w.number)
        if row["status"] == "no_show":
            _check_recallable(conn, row, h)
            _close_current(conn, w, h)
        conn.execute(
            "UPDATE tickets SET status = 'called', called_at = ?, window = ?, call_count = call_count + 1, "
            "closed_at = NULL WHERE id = ?",
            (h.now, w.number, ticket_id),
        )
        row = _load_ticket_for(conn, ticket_id)
        _called_event(conn, "recall", row, w, as_acting(clerk_user_id).user_id, h.now)
    return ticket_dict(row)


def _check_recallable(conn: sqlite3.Connection, row: sqlite3.Row, h: Hall) -> None:
    if _not_recallable(conn, row, h) is not None:
        raise Conflict("no_show_expired", number=row["number"])


def _last_no_shows(conn: sqlite3.Connection, h: Hall, window: Any) -> set[int]:
    last_n = int(h.settings.get("no_show_recall_last") or 0)
    recent = conn.execute(
        "SELECT id FROM tickets WHERE day = ? AND window = ? AND status = 'no_show' "
        "ORDER BY closed_at DESC, id DESC LIMIT ?",
        (h.day, window, last_n),
    ).fetchall()
    return {int(r[0]) for r in recent}


def _not_recallable(conn: sqlite3.Connection, row: sqlite3.Row, h: Hall,
                    last: set[int] | None = None) -> str | None:
    """Why a no-show can no longer be recalled: ``too_old`` (past ``no_show_recall_minutes``)
    or ``not_among_last`` (not among the last ``no_show_recall_last`` of its window); None
    when it can."""
    minutes = int(h.settings.get("no_show_recall_minutes") or 0)
    if row["closed_at"] is None or h.now - float(row["closed_at"]) > minutes * 60:
        return "too_old"
    if last is None:
        last = _last_no_shows(conn, h, row["window"])
    if int(row["id"]) not in last:
        return "not_among_last"
    return None


def no_shows(db: Database, window: int, *, clock: clk.Clock | None = None) -> list[dict[str, Any]]:
    """Today's 过号 tickets of ``window``, newest first, each with ``recallable`` and
    ``not_recallable`` (None, ``"too_old"`` or ``"not_among_last"``)."""
    h = hall(db, clock)
    conn = db.conn
    w = load_window(conn, window)
    from queue_server.queue.common import TICKET_SELECT

    rows = conn.execute(
        TICKET_SELECT + " WHERE t.day = ? AND t.window = ? AND t.status = 'no_show' "
        "ORDER BY t.closed_at DESC, t.id DESC",
        (h.day, w.number),
    ).fetchall()
    last = _last_no_shows(conn, h, w.number)
    out = []
    for row in rows:
        why = _not_recallable(conn, row, h, last)
        out.append({**ticket_dict(row), "closed_at": row["closed_at"], "recallable": why is None,
                    "not_recallable": why})
    return out


def call_number(
    db: Database, window: int, number: str, *, reason: str | None = None, clerk_user_id: Who = None,
    actor: str = "system", clock: clk.Clock | None = None,
) -> dict[str, Any]:
    """特呼: call today's ticket ``number`` at ``window`` out of order.

    The ticket must be waiting (or a no-show that is still recallable) and of a service
    the window serves (or transferred to it). The window's current ticket is closed as by
    :func:`call_next` (called → 过号, serving → done); the call is a normal call (the same
    ``ticket.called`` event, voice and screens) and is audited (``ticket.special_call``)
    with the clerk and the reason. No repeat guard: the clerk named the number.
    """
    if not isinstance(number, str) or not 1 < len(number.strip()) < 12:
        raise ValidationError("bad_number")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 200):
        raise ValidationError("bad_note")
    number = number.strip().upper()
    h = hall(db, clock)
    uid = as_acting(clerk_user_id).user_id
    with write_tx(db) as conn:
        found = conn.execute("SELECT id FROM tickets WHERE day = ? AND number = ?", (h.day, number)).fetchone()
        if found is None:
            raise NotFound("ticket_not_found", number=number)
        row = fetch_ticket_row(conn, int(found[0]))
        w = _open_window_for_call(conn, window, clerk_user_id)
        check_ticket(conn, row, clerk_user_id)  # a no-show of another window, a ticket sent elsewhere: not here
        before = row["status"]
        if before == "no_show":
            if _not_recallable(conn, row, h) is not None:
                raise _bad_state(row, "特呼", "call out of order")
        elif before != "waiting":
            raise _bad_state(row, "特呼", "call out of order")
        eligible = (
            row["transfer_window"] == w.number
            or w.serves(row["service_code"])
            or (w.kind == "green" and row["priority"] in PRIORITY_GROUPS)
        )
        if not eligible:
            raise Conflict("service_not_at_window", number=row["number"], window=w.number,
                           service=row["service_code"], service_name=row["service_name"])
        _close_current(conn, w, h)
        cur = conn.execute(
            "UPDATE tickets SET status = 'called', called_at = ?, window = ?, clerk_user_id = ?, "
            "call_count = call_count + 1, transfer_window = NULL, closed_at = NULL WHERE id = ? AND status = ?",
            (h.now, w.number, uid, row["id"], before),
        )
        if cur.rowcount != 1:
            raise Conflict("call_race")
        ticket_id = int(row["id"])
        row = fetch_ticket_row(conn, ticket_id)
        _called_event(conn, "call", row, w, uid, h.now)
        append(conn, TicketSpecialCalled(ticket=ticket_id, number=row["number"], window=w.number,
                                         clerk_user_id=uid, reason=reason or "", was=before),
               actor=actor, ts=h.now)
    return ticket_dict(row)


def _simple_transition(
    db: Database, ticket_id: int, *, allowed: tuple[str, ...], new_status: str, time_col: str,
    event: str, action_zh: str, action: str, clerk_user_id: Who, clock: clk.Clock | None,
    reason: str | None = None,
) -> dict[str, Any]:
    h = hall(db, clock)
    with write_tx(db) as conn:
        row = _load_ticket_for(conn, ticket_id)
        if row["status"] not in allowed or row["day"] != h.day:
            raise _bad_state(row, action_zh, action)
        elsewhere = False
        refusal = ticket_refusal(conn, row, clerk_user_id)
        if refusal is not None:
            # Only cancelling a waiting ticket may happen away from one's own window: with a reason, audited.
            if action != "cancel" or row["status"] != "waiting":
                raise refusal
            if not isinstance(reason, str) or not reason.strip() or len(reason) > 100:
                raise ValidationError("cancel_reason_required")
            elsewhere = True
        if action == "cancel" and (elsewhere or reason):
            append(conn, TicketCancelledElsewhere(
                ticket_id=ticket_id, number=row["number"], day=row["day"],
                window=row["transfer_window"] or row["window"], reason=str(reason or "").strip()[:100],
                own_window=not elsewhere), actor=_actor(clerk_user_id), ts=h.now)
        cur = conn.execute(
            f"UPDATE tickets SET status = ?, {time_col} = ? WHERE id = ? AND status = ?",
            (new_status, h.now, ticket_id, row["status"]),
        )
        if cur.rowcount != 1:
            raise _bad_state(row, action_zh, action)
        record_event(conn, event, {"ticket_id": ticket_id, "number": row["number"], "window": row["window"]},
                     ts=h.now)
        row = _load_ticket_for(conn, ticket_id)
    return ticket_dict(row)


def start(db: Database, ticket_id: int, *, clerk_user_id: Who = None,
          clock: clk.Clock | None = None) -> dict[str, Any]:
    """The citizen arrived at the window: called → serving."""
    return _simple_transition(db, ticket_id, allowed=("called",), new_status="serving", time_col="started_at",
                              event="ticket.started", action_zh="开始办理", action="start",
                              clerk_user_id=clerk_user_id, clock=clock)


def finish(db: Database, ticket_id: int, *, clerk_user_id: Who = None,
           clock: clk.Clock | None = None) -> dict[str, Any]:
    """办结: serving (or called, when the clerk skips start) → done."""
    return _simple_transition(db, ticket_id, allowed=("serving", "called"), new_status="done",
                              time_col="finished_at", event="ticket.finished", action_zh="办结",
                              action="finish", clerk_user_id=clerk_user_id, clock=clock)


def no_show(db: Database, ticket_id: int, *, clerk_user_id: Who = None,
            clock: clk.Clock | None = None) -> dict[str, Any]:
    """过号: called → no_show (recallable for a while)."""
    return _simple_transition(db, ticket_id, allowed=("called",), new_status="no_show", time_col="closed_at",
                              event="ticket.no_show", action_zh="过号", action="mark as no-show",
                              clerk_user_id=clerk_user_id, clock=clock)


def cancel(db: Database, ticket_id: int, *, clerk_user_id: Who = None, reason: str | None = None,
           clock: clk.Clock | None = None) -> dict[str, Any]:
    """Cancel a waiting, called or no-show ticket at one's own window. A waiting ticket that
    is not for one's own window may be cancelled with a ``reason`` (422
    ``cancel_reason_required`` without), audited ``ticket.cancelled_elsewhere``; so is any
    cancel given a reason."""
    return _simple_transition(db, ticket_id, allowed=("waiting", "called", "no_show"), new_status="cancelled",
                              time_col="closed_at", event="ticket.cancelled", action_zh="取消",
                              action="cancel", clerk_user_id=clerk_user_id, clock=clock, reason=reason)


def _actor(who: Who) -> str:
    a = as_acting(who)
    if a.user_id is not None:
        return f"user:{a.user_id}"
    if a.bound_window is not None:
        return f"window-token:{a.bound_window}"
    return "staff" if not a.anywhere else "system"


def transfer(
    db: Database, ticket_id: int, *, window: int | None = None, service: str | None = None,
    note: str | None = None, clerk_user_id: Who = None, clock: clk.Clock | None = None,
) -> dict[str, Any]:
    """转窗/转办: back to waiting for another window and/or service.

    The ticket keeps its number and original issue time. Transferred to a window, only
    that window calls it, before anyone else; transferred to a service, it queues for
    that service by its original issue time.
    """
    if window is None and service is None:
        raise ValidationError("transfer_target_required")
    if note is not None and (not isinstance(note, str) or len(note) > 200):
        raise ValidationError("bad_note")
    h = hall(db, clock)
    with write_tx(db) as conn:
        row = _load_ticket_for(conn, ticket_id)
        if row["status"] not in ("waiting", "called", "serving") or row["day"] != h.day:
            raise _bad_state(row, "转窗", "transfer")
        check_ticket(conn, row, clerk_user_id)
        target = load_window(conn, window) if window is not None else None
        to_window = target.number if target is not None else None
        category = row["category"]
        to_service = row["service_code"]
        if service is not None:
            svc = conn.execute("SELECT code, category, active FROM services WHERE code = ?", (service,)).fetchone()
            if svc is None or not svc[2]:
                raise unknown_service(service)
            to_service, category = svc[0], svc[1]
        if to_window is not None and to_window == row["window"] and service is None:
            raise ValidationError("transfer_same_window")
        if target is not None and target.status == "closed":
            # Nobody would ever call it there: name the open windows that serve the service.
            others = [o.number for o in load_windows(conn)
                      if o.status == "open" and o.serves(to_service)
                      and (service is not None or o.number != row["window"])]
            listed = "、".join(str(n) for n in others)
            raise Conflict("window_closed", window=target.number, open_windows=others,
                           open_windows_zh=f"；可转往 {listed} 号窗口" if others else "；目前没有开启的窗口办理该事项",
                           open_windows_en=f"; open windows for this service: {', '.join(map(str, others))}"
                           if others else "; no open window serves this service")
        conn.execute(
            "UPDATE tickets SET status = 'waiting', transfer_window = ?, transfer_note = ?, transferred_at = ?, "
            "service_code = ?, category = ? WHERE id = ?",
            (to_window, note, h.now, to_service, category, ticket_id),
        )
        record_event(
            conn, "ticket.transferred",
            {"ticket_id": ticket_id, "number": row["number"], "from_window": row["window"],
             "to_window": to_window, "to_service": to_service},
            ts=h.now,
        )
        row = _load_ticket_for(conn, ticket_id)
    return ticket_dict(row)


# --- windows ---------------------------------------------------------------------------


def _window_event(conn: sqlite3.Connection, type_: str, w: int, status: str, reason: str | None,
                  now: float) -> None:
    record_event(conn, type_, {"window": w, "status": status, "reason": reason}, ts=now)


def open_window(db: Database, window: int, clerk_user_id: Who = None, *,
                clock: clk.Clock | None = None) -> dict[str, Any]:
    """A clerk signs in at the window: it opens (from closed or paused) and is theirs until
    they close it (:mod:`queue_server.queue.access`). A window-bound device token opens
    only its window; nobody opens a window another clerk has open (409 ``window_taken``)."""
    now = clk.now(clock)
    who = as_acting(clerk_user_id)
    with write_tx(db) as conn:
        w = load_window(conn, window)
        if who.bound_window is not None and who.bound_window != w.number:
            raise Forbidden("token_window_bound", bound=who.bound_window, window=w.number)
        if not who.anywhere and w.status != "closed" and w.clerk_user_id not in (None, who.user_id):
            raise Conflict("window_taken", window=w.number)
        conn.execute(
            "UPDATE windows SET status = 'open', pause_reason = NULL, clerk_user_id = ? WHERE number = ?",
            (who.user_id, window),
        )
        _window_event(conn, "window.opened", window, "open", None, now)
        w = load_window(conn, window)
    return window_dict(w)


def pause_window(db: Database, window: int, reason: str, *, clerk_user_id: Who = None,
                 clock: clk.Clock | None = None) -> dict[str, Any]:
    """暂停服务 with a reason shown on the displays."""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 100:
        raise ValidationError("reason_required")
    now = clk.now(clock)
    with write_tx(db) as conn:
        w = load_window(conn, window)
        check_window(w, clerk_user_id)
        if w.status != "open":
            raise Conflict("window_not_open", window=w.number)
        conn.execute("UPDATE windows SET status = 'paused', pause_reason = ? WHERE number = ?",
                     (reason.strip(), window))
        _window_event(conn, "window.paused", window, "paused", reason.strip(), now)
        w = load_window(conn, window)
    return window_dict(w)


def resume_window(db: Database, window: int, *, clerk_user_id: Who = None,
                  clock: clk.Clock | None = None) -> dict[str, Any]:
    now = clk.now(clock)
    with write_tx(db) as conn:
        w = load_window(conn, window)
        check_window(w, clerk_user_id)
        if w.status != "paused":
            raise Conflict("window_not_paused", window=w.number)
        conn.execute("UPDATE windows SET status = 'open', pause_reason = NULL WHERE number = ?", (window,))
        _window_event(conn, "window.resumed", window, "open", None, now)
        w = load_window(conn, window)
    return window_dict(w)


def close_window(db: Database, window: int, *, clerk_user_id: Who = None,
                 clock: clk.Clock | None = None) -> dict[str, Any]:
    """The clerk signs out; waiting tickets stay for the other windows."""
    now = clk.now(clock)
    with write_tx(db) as conn:
        w = load_window(conn, window)
        check_window(w, clerk_user_id)
        conn.execute(
            "UPDATE windows SET status = 'closed', pause_reason = NULL, clerk_user_id = NULL WHERE number = ?",
            (window,),
        )
        _window_event(conn, "window.closed", window, "closed", None, now)
        w = load_window(conn, window)
    return window_dict(w)


def window_dict(w: Window) -> dict[str, Any]:
    return {
        "number": w.number,
        "name": w.name,
        "services": w.services,
        "status": w.status,
        "pause_reason": w.pause_reason,
        "kind": w.kind,
        "clerk_user_id": w.clerk_user_id,
    }


def get_ticket(db: Database, ticket_id: int, *, clock: clk.Clock | None = None) -> dict[str, Any]:
    """One ticket with its current people-ahead and wait estimate."""
    conn = db.conn
    row = fetch_ticket_row(conn, ticket_id)
    ahead = minutes = 0
    if row["status"] == "waiting":
        ahead, windows = ahead_and_windows(conn, db_path(db), hall(db, clock), int(row["id"]))
        minutes = estimate_minutes(conn, db_path(db), row["day"], row["service_code"], ahead, windows)
    return ticket_dict(row, waiting_ahead=ahead, estimated_wait_minutes=minutes)


def find_ticket(db: Database, number: str, *, clock: clk.Clock | None = None) -> dict[str, Any]:
    """Today's ticket with this number (A012), for the kiosk's progress query."""
    h = hall(db, clock)
    if not isinstance(number, str) or not 1 < len(number) < 12:
        raise ValidationError("bad_number")
    row = db.conn.execute("SELECT id FROM tickets WHERE day = ? AND number = ?",
                          (h.day, number.strip().upper())).fetchone()
    if row is None:
        raise NotFound("ticket_not_found", number=number)
    return get_ticket(db, int(row[0]), clock=clock)


def called_at(db: Database, ticket_id: int) -> tuple[str, int]:
    """``(number, window)`` of a ticket that has been called (what the voice announces)."""
    row = db.conn.execute("SELECT number, window FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    if row is None:
        raise NotFound("ticket_not_found", ticket=ticket_id)
    if row[1] is None:
        raise Conflict("ticket_not_called")
    return str(row[0]), int(row[1])
