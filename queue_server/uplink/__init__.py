"""The hall's uplink to the city hub (DESIGN §13): pushes the ``events`` table (the
transactional outbox) to the hub in signed batches with the audit chain head and the day's
figures, and pulls the hub's signed manifests. Never in a request's path: a hall with no
hub, or a hub away for days, serves citizens as before.

* ``schema.py`` — config, cursor and manifest tables; the archive hold on unsent events;
* :mod:`~queue_server.uplink.worker` — the pushing thread ``queue-server serve`` starts;
* :mod:`~queue_server.uplink.manifests` — verify, apply and keep signed manifests; the
  apply-hook registry (:func:`~queue_server.uplink.manifests.manifest_kind`);
* :mod:`~queue_server.uplink.figures` — the day's figures sent with each batch;
* :mod:`~queue_server.uplink.parts` — optional batch parts capabilities add (``licence_trust``);
* ``cli.py`` — ``queue-server uplink configure|status|push|disable``.
"""
