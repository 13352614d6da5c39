"""Configuring the uplink and reading its status (the CLI's domain side)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlparse

from sqlite_utils import Database

from queue_server.audit.chain import append
from queue_server.audit.records import AuditRecord, record_type
from queue_server.db import write_tx
from queue_server.errors import Conflict, ValidationError
from queue_server.uplink import manifests
from queue_server.uplink.worker import config, state
from yichuang import citylink


@record_type
@dataclass(frozen=True)
class UplinkConfigured(AuditRecord):
    """The hall's uplink was configured or switched on/off (never the private key: its
    public key's id is recorded)."""

    kind: ClassVar[str] = "uplink.configured"
    hub_url: str
    hall: str
    hall_key_id: str
    hub_key_id: str
    enabled: bool


def configure(db: Database, hub_url: str, hall: str, hall_key: str, hub_key: str, *,
              insecure: bool = False) -> dict[str, Any]:
    """Store the uplink's configuration (audited). Plain ``http://`` is refused unless the hub
    is on this machine (a loopback address: tests, a proxy on the same host) or ``insecure``
    says so: batches are signed either way, but over plain HTTP anyone on the way reads the
    hall's events and figures."""
    u = urlparse(hub_url)
    if u.scheme not in ("http", "https") or not u.netloc:
        raise ValidationError("bad_uplink_config", what="hub URL must be http(s)://host[:port]")
    if citylink.insecure_transport(hub_url) and not insecure:
        raise ValidationError("bad_uplink_config", what="http:// only to a loopback address (127.0.0.1, ::1, "
                              "localhost); use https:// or give --insecure")
    if not hall or len(hall) > 64:
        raise ValidationError("bad_uplink_config", what="hall code")
    try:
        hall_pub = citylink.public_of(hall_key)
        citylink.load_public(hub_key)
    except Exception as exc:
        raise ValidationError("bad_uplink_config", what="keys must be base64 Ed25519 keys") from exc
    rec = UplinkConfigured(hub_url=hub_url, hall=hall, hall_key_id=citylink.key_id(hall_pub),
                           hub_key_id=citylink.key_id(hub_key), enabled=True)
    with write_tx(db) as c:
        c.execute("INSERT INTO uplink_config (id, hub_url, hall, hall_key, hub_key, enabled, configured_at) "
                  "VALUES (1, ?, ?, ?, ?, 1, ?) ON CONFLICT (id) DO UPDATE SET hub_url = excluded.hub_url, "
                  "hall = excluded.hall, hall_key = excluded.hall_key, hub_key = excluded.hub_key, enabled = 1, "
                  "configured_at = excluded.configured_at",
                  (hub_url.rstrip("/"), hall, hall_key, hub_key, time.time()))
        c.execute("INSERT OR IGNORE INTO uplink_state (id) VALUES (1)")
        append(c, rec, actor="cli")
    return {"hub": hub_url, "hall": hall, "hall_public_key": hall_pub, "hub_key_id": rec.hub_key_id}


def set_enabled(db: Database, enabled: bool) -> None:
    cfg = config(db)
    if cfg is None:
        raise Conflict("uplink_not_configured")
    rec = UplinkConfigured(hub_url=cfg["hub_url"], hall=cfg["hall"],
                           hall_key_id=citylink.key_id(citylink.public_of(cfg["hall_key"])),
                           hub_key_id=citylink.key_id(cfg["hub_key"]), enabled=enabled)
    with write_tx(db) as c:
        c.execute("UPDATE uplink_config SET enabled = ? WHERE id = 1", (int(enabled),))
        append(c, rec, actor="cli")


def status(db: Database, now: float) -> dict[str, Any]:
    cfg = config(db)
    st = state(db)
    last_id = int(db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])
    return {
        "configured": cfg is not None, "enabled": bool(cfg and cfg["enabled"]),
        "hub": cfg["hub_url"] if cfg else None, "hall": cfg["hall"] if cfg else None,
        "insecure_transport": bool(cfg and citylink.insecure_transport(cfg["hub_url"])),
        "cursor": st["cursor"], "last_event_id": last_id, "backlog": max(0, last_id - int(st["cursor"])),
        "last_ok_age_s": None if st["last_ok_at"] is None else round(now - st["last_ok_at"], 1),
        "last_error": st["last_error"], "failures": st["failures"], "audit_anchor": st["anchor_id"],
        "manifests": manifests.held(db),
        "refused_manifests": [r for r in manifests.unreported(db, 1000) if r["result"] == "refused"],
    }
