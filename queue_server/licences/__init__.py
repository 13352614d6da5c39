"""E-licences (电子证照) and 亮证 (DESIGN §9, ``docs/licences.md``).

* :mod:`~queue_server.licences.identifier` — GB/T 36904 identifiers (ISO 7064 MOD 37,36);
* :mod:`~queue_server.licences.token` — the signed QR token (COSE_Sign1, CBOR, base45), pure;
* :mod:`~queue_server.licences.keys` — signing keys, rotation, the public keys document;
* :mod:`~queue_server.licences.register` — loading, issuing (:func:`register.issue_licence`
  for 秒批), versions, revocation, holder lookups by keyed digest;
* :mod:`~queue_server.licences.showing` — presentations, rotating tokens, verification;
* :mod:`~queue_server.licences.copies` — 自助打证 copies with an online check;
* :mod:`~queue_server.licences.trust` — across halls: the keys and revocations this hall
  reports to the city hub, the city's trust list it applies (other halls' keys, verify
  only); :mod:`~queue_server.licences.trustlist` reads a trust list (pure);
* ``schema.py``, ``records.py`` (audit kinds), ``routes.py``, ``cli.py``;
* ``python -m queue_server.licences verify QR --keys keys.json`` — the offline verifier.
"""
