"""The per-ticket columns of ``admin_stats_days`` (the table of migration ``m0002`` in
:mod:`queue_server.admin.schema`), in a module of their own: :mod:`queue_server.admin.rollups`
packs and reads them without importing the schema module, which calls into the statistics
before archiving (:func:`queue_server.admin.schema.before_archive`)."""

from __future__ import annotations

#: The per-ticket columns of ``admin_stats_days`` (``c_<name>``): name → numpy dtype, packed
#: little-endian (``queue_server/admin/rollups.py`` reads and writes them).
STATS_COLUMNS: dict[str, str] = {
    "svc": "<u2", "cat": "<u2", "win": "<i4", "clerk": "<i8", "hour": "u1", "status": "u1",
    "transferred": "u1", "calls": "<i4", "recalls": "<i4", "wait": "<f8", "walk": "<f8", "service": "<f8",
}
