"""好差评: evaluations after every service and the 差评 rectification loop (DESIGN §10,
docs/evaluations.md).

* :mod:`.store` — recording evaluations (rules: levels, reasons, 一次一评, channels);
* :mod:`.rectifications` and :mod:`.loop` — the case a 差评 opens and the steps of the loop;
* :mod:`.workdays` and :mod:`.calendar_days` — deadlines on the Chinese working-day calendar;
* :mod:`.figures` — ``GET /api/stats/evaluations``;
* :mod:`.reasons`, :mod:`.limits`, :mod:`.records` (audit kinds);
* ``schema.py``, ``routes.py`` (API, rating pad, supervisor page), ``cli.py``.
"""
