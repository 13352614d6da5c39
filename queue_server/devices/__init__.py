"""Device health for technicians: heartbeats of kiosks and displays, the latest state of
every device and its components, state history, and test actions queued for a device and
carried out at its next heartbeat (``docs/technicians.md``).

* :mod:`.schema` — the ``devices`` migration set and what archiving does with its rows;
* :mod:`.store` — heartbeats (validation, state, history, events), the reads, staleness;
* :mod:`.sweeper` — the server thread that records devices stale when no heartbeat comes;
* :mod:`.actions` — test actions: queue, deliver, result, expiry;
* :mod:`.summary` — the hall-wide summary (devices and the print queue's printers) for the
  clerk console and the admin area;
* :mod:`.routes` — the API and the ``/tech`` page; :mod:`.cli` — ``queue-server devices``.
"""
