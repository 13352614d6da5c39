"""一窗通 city hub: every hall's events, audit heads and 好差评 in PostgreSQL; signed
manifests down to the halls. See ``docs/city-hub.md``.

* :mod:`city_hub.store` — connections, the hub's signing key, halls;
* :mod:`city_hub.schema` — the PostgreSQL schema (monthly partitions of ``events``);
* :mod:`city_hub.ingest` — ``POST /ingest/<hall>``: check and store a signed batch once;
* :mod:`city_hub.audit` — audit chain heads and the flag of an altered chain;
* :mod:`city_hub.manifests` — signed, content-addressed manifests;
* :mod:`city_hub.province` — the provincial 好差评 push (outbox, mapping, adapters);
* :mod:`city_hub.views` — what the city page shows;
* :mod:`city_hub.app` (Flask) and :mod:`city_hub.cli` (click, ``city-hub``).
"""
