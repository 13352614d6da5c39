"""The event types the queue records (``docs/architecture.md`` documents each)."""

from __future__ import annotations

from queue_server.events import declare

_TICKET = ("ticket_id", "number", "window")

declare("ticket.issued", ("ticket_id", "number", "service", "category", "priority"), "A ticket was issued (取号).")
for _name, _doc in (("ticket.called", "A window called a ticket (叫号)."),
                    ("ticket.recalled", "A window called a ticket again, or a recent no-show back (重呼).")):
    declare(_name, ("ticket_id", "number", "window", "window_name", "service", "called_at"), _doc)
declare("ticket.started", _TICKET, "The clerk started serving the called ticket.")
declare("ticket.finished", _TICKET, "The clerk finished the ticket (办结).")
declare("ticket.no_show", _TICKET, "The called citizen did not come (过号).")
declare("ticket.cancelled", _TICKET, "The ticket was cancelled.")
declare("ticket.transferred", ("ticket_id", "number", "from_window", "to_window", "to_service"),
        "The ticket was transferred to another window or service (转窗); number and issue time kept.")
for _name, _doc in (("window.opened", "A clerk opened the window."),
                    ("window.paused", "The window paused service (暂停服务), with a reason."),
                    ("window.resumed", "The window resumed service."),
                    ("window.closed", "The window closed.")):
    declare(_name, ("window", "status", "reason"), _doc)
declare("notice.changed", ("notice",), "The hall display's notice line changed.")
declare("day.reset", ("day", "expired_tickets"), "The first ticket of a new business day expired yesterday's open tickets.")
declare("hall.configured", ("categories", "services", "windows"), "The catalogue was imported (hall import).")
