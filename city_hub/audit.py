"""Anchoring each hall's audit chain at the hub, and flagging a hall whose chain changed.

A hall's audit rows are hash-chained (``queue_server.audit``): the hash of row *n* covers
row *n* and, through ``prev``, every row before it. So if the hub holds ``(n, hash_n)`` from
an earlier batch, any change to rows ``1..n`` — an edit, a deletion, a rebuilt chain —
changes the hash the hall's chain has at ``n`` now. Each batch carries:

* ``audit_head`` ``{id, hash, ts}`` — the hall's newest row, stored per batch in
  ``audit_heads``;
* ``audit_check`` ``{id, hash}`` — the hash the hall's chain has *now* at ``id``, the newest
  anchor the hub named in its previous answer (``hash`` null when that row is gone).

A hall is flagged (``halls.audit_flag`` + an ``audit_flags`` row) when:

* ``head_rewritten`` — the new head's id equals a stored head's id with another hash;
* ``chain_shorter`` — the new head's id is below the newest stored head's id;
* ``anchor_mismatch`` / ``anchor_missing`` — the hash at a stored anchor differs, or the row
  is gone.

Limits: the hub sees what the hall's uplink sends. A hall owner who rewrites the chain *and*
replaces the uplink to keep reporting the old hashes is not caught at once; the hub's heads
still let an inspector check the hall's chain offline (``queue-server audit verify`` prints
the head; every stored head must be on the chain it shows). A rewrite of rows *after* the
newest anchor and before the next batch is indistinguishable from new rows: the window is
one batch interval. Until the first batch there is nothing to compare against.
"""

from __future__ import annotations

from typing import Any

import psycopg


def check_and_store(conn: psycopg.Connection, hall: str, batch: str, head: dict[str, Any],
                    check: Any) -> tuple[str | None, int | None]:
    """Compare the batch's head and check with the stored heads, store the head, flag the
    hall if needed; returns ``(flag reason or None, id of the newest anchor)``."""
    head_id, head_hash = int(head["id"]), str(head["hash"])[:128]
    newest = conn.execute("SELECT head_id, head_hash FROM audit_heads WHERE hall = %s "
                          "ORDER BY head_id DESC, received_at DESC LIMIT 1", (hall,)).fetchone()
    flag: tuple[str, int | None, str | None, str | None] | None = None
    if newest is not None:
        same = conn.execute("SELECT head_hash FROM audit_heads WHERE hall = %s AND head_id = %s "
                            "ORDER BY received_at DESC LIMIT 1", (hall, head_id)).fetchone()
        if same is not None and same[0] != head_hash:
            flag = ("head_rewritten", head_id, same[0], head_hash)
        elif head_id < int(newest[0]):
            flag = ("chain_shorter", int(newest[0]), newest[1], None)
        elif isinstance(check, dict) and isinstance(check.get("id"), int):
            anchor = conn.execute("SELECT head_hash FROM audit_heads WHERE hall = %s AND head_id = %s "
                                  "ORDER BY received_at DESC LIMIT 1", (hall, check["id"])).fetchone()
            reported = check.get("hash")
            if anchor is not None and reported is None:
                flag = ("anchor_missing", check["id"], anchor[0], None)
            elif anchor is not None and reported != anchor[0]:
                flag = ("anchor_mismatch", check["id"], anchor[0], str(reported)[:128])
    conn.execute("INSERT INTO audit_heads (hall, batch, head_id, head_hash, head_ts) VALUES (%s, %s, %s, %s, %s) "
                 "ON CONFLICT DO NOTHING",
                 (hall, batch, head_id, head_hash, head.get("ts") if isinstance(head.get("ts"), int | float) else None))
    reason = None
    if flag is not None:
        reason, anchor_id, anchor_hash, reported_hash = flag
        conn.execute("INSERT INTO audit_flags (hall, reason, anchor_id, anchor_hash, reported_hash) "
                     "SELECT %s, %s, %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM audit_flags WHERE hall = %s "
                     "AND reason = %s AND anchor_id = %s AND reported_hash IS NOT DISTINCT FROM %s)",
                     (hall, reason, anchor_id, anchor_hash, reported_hash, hall, reason, anchor_id, reported_hash))
        conn.execute("UPDATE halls SET audit_flag = COALESCE(audit_flag, %s), "
                     "audit_flagged_at = COALESCE(audit_flagged_at, now()) WHERE code = %s",
                     (f"{reason} at record {anchor_id}", hall))
    # The anchor to prove next time: the newest head held (once flagged, the flag stays on the
    # hall until an inspector clears it; later batches are checked against the new chain).
    top = conn.execute("SELECT MAX(head_id) FROM audit_heads WHERE hall = %s", (hall,)).fetchone()
    return reason, (int(top[0]) if top and top[0] else None)
