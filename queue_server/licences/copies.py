"""自助打证: a licence copy printed at a kiosk, with an online check instead of a long-lived
token (``domain/licences.md``: a URL with 16 random bytes fits QR version 3 and opens in
any phone).

Each copy is a kiosk case (kind ``licence_print``) with a reference (``/v/<ref>``) whose page
shows the holder-safe summary and the case status; revoking the licence turns the status
of its copies' cases to ``revoked`` (:func:`register.on_revoked`). The paper layout is
:func:`copy_document`, in the shape of the print queue's generic ``document`` jobs; the copy
is queued through ``queue_server.printing.jobs.enqueue_document`` — which the 秒批 work
adds — and until that exists the copy is recorded and its reference returned with
``print.status = "not_available"`` (the kiosk shows the QR on screen instead).
"""

from __future__ import annotations

import time
from typing import Any

from sqlite_utils import Database

from queue_server.audit.chain import append
from queue_server.cases import new_verify_ref, open_case, ref_check, set_case_status
from queue_server.db import write_tx
from queue_server.errors import Forbidden
from queue_server.licences.records import LicencePrinted
from queue_server.licences.register import (
    STATUS_TEXT,
    effective_status,
    get_row,
    holder_masked,
    is_holder,
    mask_number,
    require_in_force,
)
from queue_server.licences.showing import PRESENT_METHODS, today
from queue_server.settings import all_settings


def summary(row: Any) -> dict[str, Any]:
    """What ``/v/<ref>`` shows for a copy: masked, no ID number."""
    valid_to = row["valid_to"] or "长期"
    return {"kind": "licence_copy", "lines": [
        ["证照 Licence", row["type_name"]],
        ["证照编号 Number", mask_number(row["number_shown"])],
        ["持证人 Holder", holder_masked(row)],
        ["颁发机构 Issuer", row["issuer_name"]],
        ["有效期 Valid", f"{row['valid_from']} — {valid_to}"],
        ["证照标识 Identifier", row["identifier"]],
    ]}


@ref_check("licence_copy")
def copy_status_now(conn: Any, ref: str) -> dict[str, Any] | None:
    """A printed copy's QR says whether the licence is valid *today* — revoked, expired or
    superseded since the copy was printed shows as such, whatever the paper says."""
    found = conn.execute("SELECT licence_id FROM licence_prints WHERE ref = ?", (ref,)).fetchone()
    if found is None:
        return None
    db = Database(conn)
    row = get_row(db, int(found[0]))
    status = effective_status(row, today(db, time.time()))
    zh, en = STATUS_TEXT[status]
    return {"status": status, "zh": f"证照{zh}", "en": f"Licence: {en}", "tone": "good" if status == "valid" else "bad"}


def copy_document(row: Any, *, case: str, url: str, hall_name: str) -> dict[str, Any]:
    """The printed copy in the print queue's document shape (``DocumentData.as_dict()`` of
    ``hardware.printer.document``: title, hall name, blocks): face data masked, the online
    check's QR, the case number. Type-specific fields are left off the paper."""
    lines = summary(row)["lines"]
    blocks: list[dict[str, Any]] = [{"kind": "heading", "text": row["type_name"]}]
    blocks += [{"kind": "field", "label": label.split(" ")[0], "text": value} for label, value in lines[1:]]
    blocks += [{"kind": "rule"},
               {"kind": "qr", "payload": url, "caption": "扫码在线核验，以在线结果为准",
                "caption_en": "Scan to check online; the online result is authoritative"},
               {"kind": "field", "label": "办件编号", "text": case}]
    return {"title": "电子证照打印件", "title_en": "E-licence copy", "hall_name": hall_name, "blocks": blocks,
            "issued_at": None, "reprint": False}


def _enqueue(conn: Any, document: dict[str, Any], printer: str | None) -> tuple[str, int | None]:
    """Queue the copy as a ``document`` print job when the print queue has them (the 秒批 work
    adds ``queue_server.printing.jobs.enqueue_document``); ``(status, job id)``."""
    from queue_server.printing import jobs

    enqueue = getattr(jobs, "enqueue_document", None)
    if enqueue is None:
        return "not_available", None
    job_id = enqueue(conn, document, printer)
    return ("queued", int(job_id)) if job_id is not None else ("not_configured", None)


def print_copy(db: Database, licence_id: int, *, holder_id_number: str, method: str, kiosk: str,
               printer: str | None = None, base_url: str = "", now: float | None = None) -> dict[str, Any]:
    """Record a licence copy for its face- or staff-verified holder and return its case,
    reference and online check URL (the QR printed on it)."""
    t = time.time() if now is None else now
    row = get_row(db, licence_id)
    if not is_holder(db, row, holder_id_number):
        raise Forbidden("licence_not_holder")
    if method not in PRESENT_METHODS:
        raise Forbidden("licence_face_required")
    day = today(db, t)
    require_in_force(row, day)
    settings = all_settings(db)
    base = (str(settings.get("public_url") or "") or base_url).rstrip("/")
    with write_tx(db) as conn:
        case = open_case(conn, "licence_print", row["type_code"], row["type_name"], kiosk=kiosk, day=day, now=t)
        set_case_status(conn, case["number"], "done", now=t)
        ref = new_verify_ref(conn, case["number"], summary(row), now=t)
        url = f"{base}/v/{ref}"
        document = copy_document(row, case=case["number"], url=url, hall_name=str(settings["hall_name"]))
        status, job_id = _enqueue(conn, document, printer)
        conn.execute("INSERT INTO licence_prints (licence_id, case_number, ref, kiosk, job_id, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (licence_id, case["number"], ref, kiosk, job_id, t))
        append(conn, LicencePrinted(licence_id=licence_id, kiosk=kiosk, case=case["number"], job_id=job_id),
               actor=kiosk, ts=t)
    messages = {"queued": ("正在打印，请稍候取件", "Printing; please take your copy"),
                "not_configured": ("未配置打印机", "No printer configured"),
                "not_available": ("暂不能打印，请使用屏幕上的二维码", "Printing is not available yet; use the QR code on screen")}
    zh, en = messages[status]
    out_print: dict[str, Any] = {"status": status, "message": zh, "message_en": en}
    if job_id is not None:
        out_print["job_id"] = job_id
    return {"case": case["number"], "ref": ref, "url": url, "document": document, "print": out_print}
