"""The hall's device health in a few lines, for people who are not technicians: the clerk
console (is my window's printer down?) and the admin area's header (is anything down?).

Devices are the kiosks and displays that beat (:mod:`.store`) and the print queue's printers
(``queue_server.printing.jobs.list_printers``: their last status and queue). Nothing personal.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlite_utils import Database

from queue_server.devices.store import STATE_ORDER, list_devices
from queue_server.printing.jobs import list_printers

#: A hall printer's status (``printers.status``) → the device state it counts as.
PRINTER_STATE = {"ok": "ok", "near_end": "warning", "unknown": "unknown"}


def printer_state(p: dict[str, Any]) -> str:
    """ok, warning (paper near end), unknown (silent) or error (paper out, cover open,
    offline, a fault, or paused waiting for a fix)."""
    if p.get("paused"):
        return "error"
    return PRINTER_STATE.get(str(p.get("status")), "error")


def hall_printers(db: Database | sqlite3.Connection) -> list[dict[str, Any]]:
    """The print queue's printers with the state they count as (``state``)."""
    return [{**p, "state": printer_state(p)} for p in list_printers(db)]


def count_states(devices: list[dict[str, Any]], printers: list[dict[str, Any]]) -> dict[str, int]:
    """How many devices and printers are in each state (stale counted apart)."""
    counts = {s: 0 for s in (*STATE_ORDER, "stale")}
    for x in (*devices, *printers):
        counts[x["state"]] += 1
    return counts


def window_printer_names(settings_map: Any, window: int, printer_names: list[str]) -> list[str]:
    """The printers at ``window``: the ``devices.window_printers`` setting's entry, else a
    printer named ``counter-N`` or ``window-N``."""
    entry = (settings_map or {}).get(str(window))
    if entry:
        return [entry] if isinstance(entry, str) else list(entry)
    return [n for n in (f"counter-{window}", f"window-{window}") if n in printer_names]


def summary(db: Database | sqlite3.Connection, *, now: float, stale_after_s: float,
            window_printers: Any = None, window: int | None = None) -> dict[str, Any]:
    """``{"state", "counts", "problems", "printers", "window"}``: the worst state in the hall
    (stale counts as error), how many devices are in each state, the devices and printers
    that are not ok (worst first), the hall printers, and — with ``window`` — that window's
    printers and their worst state."""
    devices = list_devices(db, now=now, stale_after_s=stale_after_s, full=True)
    printers = hall_printers(db)
    counts = count_states(devices, printers)
    problems: list[dict[str, Any]] = []
    for d in devices:
        if d["state"] != "ok":
            problems.append({"name": d["name"], "kind": d["kind"], "state": d["state"],
                             "detail": d["detail"], "since": d["since"]})
    for p in printers:
        if p["state"] != "ok":
            problems.append({"name": p["name"], "kind": "printer", "state": p["state"],
                             "detail": p["status_label"] + (f" — {p['status_detail']}" if p["status_detail"] else ""),
                             "since": p["paused_at"] or p["status_at"]})
    rank = {s: i for i, s in enumerate((*STATE_ORDER, "stale"))}
    problems.sort(key=lambda x: (-rank[x["state"]], x["name"]))
    overall = "ok"
    for s in ("unknown", "warning", "error"):
        if counts[s]:
            overall = s
    if counts["stale"]:
        overall = "error"
    out: dict[str, Any] = {
        "state": overall, "counts": counts, "problems": problems,
        "printers": [{"name": p["name"], "state": p["state"], "status": p["status"],
                      "label": p["status_label"], "queue": p["queue"], "paused": p["paused"]}
                     for p in printers],
        "window": None,
    }
    if window is not None:
        names = window_printer_names(window_printers, window, [p["name"] for p in printers])
        mine = [p for p in out["printers"] if p["name"] in names]
        worst = "ok"
        for p in mine:
            if STATE_ORDER.index(p["state"]) > STATE_ORDER.index(worst):
                worst = p["state"]
        out["window"] = {"number": window, "printers": mine, "state": worst}
    return out
