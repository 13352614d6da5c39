"""What an approval case prints: the certificate (approved) and the 一次性告知单 (referred).

Both are :class:`hardware.printer.document.DocumentData` and go through the server's print
queue as ``document`` jobs. They carry the holder masked (王*兰, 3701**********123X), never
a full name or ID number. The certificate's QR is the short verification URL ``/v/<ref>``;
the notice's QR is the queue ticket's progress page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from hardware.printer.document import Block, DocumentData
from queue_server.approvals.items import Item


def input_lines(item: Item, inputs: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, shown value)`` of what the citizen entered (ID numbers only as "已核验")."""
    rows = []
    for inp in item.inputs:
        value = inputs.get(inp.name)
        if inp.type == "id_number":
            shown = "已填写（脱敏）" if value else ""
        elif inp.type == "choice":
            labels = dict(inp.options)
            shown = labels.get(str(value), str(value)) if value is not None else "全部"
        elif inp.type == "choices" and isinstance(value, list):
            labels = dict(inp.options)
            shown = "、".join(labels.get(str(v), str(v)) for v in value)
        else:
            shown = "" if value is None else str(value)
        if shown:
            rows.append((inp.label, shown))
    return rows


def certificate(item: Item, *, case: str, hall_name: str, holder: dict[str, str], inputs: dict[str, Any],
                outputs: Sequence[Sequence[Any]], verify_url: str, decided_by: str, issued_at: dt.datetime,
                ruleset_version: str, staff: bool = False, licence: dict[str, Any] | None = None) -> DocumentData:
    blocks = [
        Block.field("办件编号", case),
        Block.field("事项", item.name),
        Block.field("办理结果", "已通过（工作人员审核）" if staff else "已通过（即时审批）"),
        Block.field("申请人", f"{holder.get('name_masked', '')} {holder.get('id_masked', '')}".strip()),
    ]
    blocks += [Block.field(label, value) for label, value in input_lines(item, inputs)]
    blocks += [Block.field(str(o[0]), str(o[2])) for o in outputs]
    if licence:  # the result is a licence: issued into the register, shown under 亮证
        blocks += [Block.field("电子证照", f"{licence['type_name']}（已存入亮证）"),
                   Block.field("证照编号", str(licence["number"])),
                   Block.field("证照标识", str(licence["identifier"]))]
    blocks += [
        Block.field("审批", f"{'工作人员' if staff else '系统'} · 规则 {item.code} {ruleset_version}"),
        Block.field("办结时间", f"{issued_at:%Y-%m-%d %H:%M}"),
        Block.qr(verify_url, "扫码核验本凭证真伪和状态", "Scan to check this document"),
    ]
    return DocumentData(title=item.result, title_en=item.result_en, hall_name=hall_name,
                        blocks=tuple(blocks), issued_at=issued_at)


def notice(item: Item, *, case: str, hall_name: str, reasons: list[dict[str, Any]], bring: list[str],
           windows: list[dict[str, Any]], ticket: dict[str, Any] | None, progress_url: str,
           issued_at: dt.datetime) -> DocumentData:
    """一次性告知单: what did not pass, what to bring, which window — and the queue number."""
    blocks = [Block.field("事项", item.name), Block.field("办件编号", case)]
    if ticket is not None:
        blocks.append(Block.big(str(ticket["number"]), "请凭此号到窗口办理 Queue No."))
        ahead = ticket.get("waiting_ahead")
        if isinstance(ahead, int):
            blocks.append(Block.text_(f"您前面还有 {ahead} 人等候" if ahead > 0 else "您前面没有人等候，请留意叫号",
                                      align="center"))
    blocks += [Block.rule(), Block.heading("需工作人员审核的原因"),
               Block.bullets([r["message"] for r in reasons], numbered=True)]
    if bring:
        blocks += [Block.heading("请携带"), Block.bullets(bring)]
    if windows:
        blocks += [Block.heading("办理窗口"), Block.text_(window_text(windows))]
    blocks.append(Block.text_("本告知为一次性告知，按上述材料即可办理；工作人员会当面审核并作出决定。"))
    if progress_url:
        blocks.append(Block.qr(progress_url, "扫码查看排队进度", "Scan for queue progress"))
    return DocumentData(title="一次性告知单", title_en="One-time notice", hall_name=hall_name,
                        blocks=tuple(blocks), issued_at=issued_at)


def window_text(windows: list[dict[str, Any]], lang: str = "zh") -> str:
    """"14号窗口 民政事务，或 1、2、3 号综合窗口" from the windows that serve the item."""
    special = [w for w in windows if not w.get("universal")]
    universal = [w for w in windows if w.get("universal")]
    parts = [str(w["name"]) if lang == "zh" else f"window {w['number']}" for w in special]
    if universal:
        numbers = "、".join(str(w["number"]) for w in universal)
        parts.append(f"{numbers} 号综合窗口" if lang == "zh" else f"universal windows {numbers.replace('、', ', ')}")
    if lang == "zh":
        return "，或 ".join(parts) if parts else "请到咨询台询问"
    return " or ".join(parts) if parts else "ask at the information desk"
