"""秒批 instant approval: items as data, decisions explained rule by rule, never an automatic
refusal (DESIGN §8, issue 11).

* :mod:`~queue_server.approvals.items` — items as data (TOML in ``items/``), dated
  parameters with a legal basis, rule sets with a content hash;
* :mod:`~queue_server.approvals.expr` — the three-valued rule conditions;
* :mod:`~queue_server.approvals.engine` — :func:`decide`: approved only when every rule passes;
* :mod:`~queue_server.approvals.checks` — cases files and the generated checks;
* :mod:`~queue_server.approvals.datasets`, :mod:`~queue_server.approvals.sources`,
  :mod:`~queue_server.approvals.data` — the shared-data collections, the embedded source and
  HTTP adapters, ``queue-server data load``;
* :mod:`~queue_server.approvals.service` — an application end to end (case, audit, print,
  referral ticket), a member of staff's decision, re-runs;
* ``schema.py``, ``routes.py``, ``cli.py`` — as every capability.
"""
