"""The audit trail: an append-only, hash-chained record of every decision, identity check,
licence use and staff change (DESIGN §11).

* :mod:`~queue_server.audit.records` — one typed record per kind of thing audited;
* :mod:`~queue_server.audit.chain` — :func:`append` inside the change's own transaction,
  :func:`verify` and :func:`head`;
* ``schema.py`` (the ``audit`` table and the triggers that refuse UPDATE and DELETE),
  ``routes.py`` (``/api/audit/...``), ``cli.py`` (``queue-server audit ...``).

Records carry no personal field and no ID hash: they refer to ticket, case and user ids,
so purging personal data never touches the chain. ``docs/audit.md`` lists every kind.
"""

from queue_server.audit.chain import ChainHead, VerifyResult, append, head, verify
from queue_server.audit.records import RECORD_TYPES, AuditRecord

__all__ = ["RECORD_TYPES", "AuditRecord", "ChainHead", "VerifyResult", "append", "head", "verify"]
