"""The event types 好差评 records (``docs/architecture.md`` and ``docs/evaluations.md``
document each). The city hub pushes ``evaluation.created`` on to the province."""

from __future__ import annotations

from queue_server.events import declare

declare("evaluation.created",
        ("id", "level", "channel", "channel_code", "service", "window", "ticket", "ticket_number", "case",
         "service_day", "count", "reasons", "reasons_version", "bad", "realname", "rectification", "created_at"),
        "An evaluation (好差评) was recorded; a ticket's carries ticket and ticket_number, a kiosk case's "
        "carries case. No evaluator, no comment.")
declare("rectification.changed", ("id", "evaluation", "step", "status", "deadline", "provisional"),
        "A 差评 rectification case was opened (step open) or took a step of the loop.")
