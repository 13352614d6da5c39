"""The 差评 reason list from the city hub: the ``evaluation_reasons`` manifest's apply hook.

The content is a reason list as ``queue-server evaluations reasons import`` reads it::

    {"version": "2027.1", "source": "省政务服务评价办法（2027）",
     "reasons": [{"code": "attitude", "name": "服务态度差", "name_en": "Poor attitude"}, …]}

It is imported as a new version and becomes current (:func:`~queue_server.evaluations.reasons.
import_reasons`: checked whole, one transaction, audited ``evaluations.reasons_imported``);
evaluations already made keep the version their codes belong to. The version the hall
already has as current, with the same reasons, changes nothing; any other version the hall
already has, or a list that is not right, is refused and the current list stays (the uplink
logs, audits and reports the refusal to the hub).
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from queue_server.evaluations.reasons import current_version, import_reasons, reason_list
from queue_server.uplink.manifests import manifest_kind

KIND = "evaluation_reasons"


@manifest_kind(KIND)
def apply_reason_list(db: Database, content: Any) -> dict[str, Any]:
    """The ``evaluation_reasons`` hook (raises to refuse)."""
    if isinstance(content, dict) and content.get("version") == current_version(db):
        held = reason_list(db)["reasons"]
        sent = content.get("reasons")
        if isinstance(sent, list) and [{k: r.get(k) for k in ("code", "name", "name_en")}
                                       for r in sent if isinstance(r, dict)] == held and len(sent) == len(held):
            return {"version": content["version"], "unchanged": True}
    return import_reasons(db, content, actor="uplink")
