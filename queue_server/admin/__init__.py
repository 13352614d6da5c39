"""The hall manager's capability: ``/admin`` pages over the JSON API, statistics, exports
and the end-of-day report (docs/admin.md).

* :mod:`~queue_server.admin.schema` — window-session log (kept by a trigger on window
  events), the archive files statistics read, one-time password flags;
* :mod:`~queue_server.admin.staff` — staff accounts and device tokens;
* :mod:`~queue_server.admin.appointments` — the admin's appointment list, booking, cancel;
* :mod:`~queue_server.admin.undo` — undo a change from its audit record;
* :mod:`~queue_server.admin.stats` — queue statistics from tickets and the call log
  (archive included), drill-down; :mod:`~queue_server.admin.rollups` — the per-day facts
  of closed days a range is read from (made on request and by a daily job); :mod:`~queue_server.admin.providers` — the registry
  other capabilities (好差评, 秒批) add their figures to;
* :mod:`~queue_server.admin.exports` — CSV (UTF-8 BOM) and XLSX;
  :mod:`~queue_server.admin.report` — the end-of-day report (XLSX + PDF), a daily job;
* ``routes.py`` (pages and ``/api/admin/...``, ``/api/stats/...``, ``/api/hours``), ``cli.py``.

The catalogue editing functions it calls live in the queue engine
(:mod:`queue_server.queue.catalog`, :mod:`queue_server.queue.hours`), shared with the CLI.
"""
