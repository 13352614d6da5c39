"""An application at the kiosk, end to end: check the request, gather the facts, decide,
record the case and the audit, print, and for a referral issue the window ticket.

:func:`apply` is what ``POST /api/approvals`` calls::

    app = parse_application(db, body, today="2026-12-02", may_backdate=False)
    result = apply(db, app, kiosk="kiosk-01", idempotency_key=None)
    result["decision"]   # "approved" → result["certificate"]["verify_url"]
                         # "referred" → result["ticket"], result["notice"]

1. The request is checked whole before anything is written (unknown item, malformed body,
   bad ID check digit, bad inputs: a 4xx, nothing written).
2. Facts: the applicant's verification and age (from the ID number's birth date, on the
   application date — the ID number stays in memory), the hall's region, the inputs
   (ID-number inputs as keyed digests), and every source the item asks.
3. :func:`queue_server.approvals.engine.decide`.
4. One transaction: the case (``queue_server.cases``), the rule set stored once under its
   hash, the case details, the ``approval.decided`` audit record, and — approved — the
   verification reference and the certificate's print job.
5. Referred: those writes run inside the transaction that issues a ticket for the item's
   service (``referral_reason`` naming the rules; the queue's ``in_tx`` hook), with the link
   and the 一次性告知单 job: one commit. A ticket that cannot be issued (hall closed) leaves
   the case recorded, referred, with the notice printed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from hardware.idnumber import (
    age_on,
    is_valid_id_number,
    is_valid_uscc,
    mask_id_number,
    mask_name,
    normalize_id_number,
)
from queue_server import clock as clk
from queue_server.approvals import documents
from queue_server.approvals.datasets import COLLECTIONS, FACT_LABELS
from queue_server.approvals.engine import DECIDED_BY, Decision, decide, reasons_of
from queue_server.approvals.items import (
    _TEMPLATE_FIELD,
    Item,
    get_item,
    item_from_ruleset,
    registry,
)
from queue_server.approvals.records import ApprovalDecided, ApprovalHumanDecided
from queue_server.approvals.sources import (
    Answer,
    LocalSource,
    answer_facts,
    check_digest,
    facts_digest,
    source_for,
)
from queue_server.audit.chain import append
from queue_server.cases import get_case, link_ticket, new_verify_ref, open_case, set_case_status
from queue_server.db import write_tx
from queue_server.errors import Conflict, Forbidden, NotFound, QueueError, ValidationError
from queue_server.idkey import id_digest, id_digests, text_digest
from queue_server.licences.register import get_row as licence_row
from queue_server.licences.register import holder_masked as licence_holder_masked
from queue_server.licences.register import issue_licence, new_uscc
from queue_server.licences.register import public_item as licence_public_item
from queue_server.printing.jobs import enqueue_document, public_base_url
from queue_server.settings import all_settings

METHODS = ("face", "card", "staff")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_REGION = re.compile(r"^\d{6}$")

#: How the kiosk and the console word a case status.
STATUS_ZH = {"approved": "已通过", "referred": "转人工审核中", "rejected": "未通过（工作人员决定）",
             "open": "办理中", "revoked": "已撤销"}


@dataclass
class Application:
    item: Item
    id_number: str = field(repr=False)
    name: str = field(repr=False)
    method: str
    score: float | None
    inputs: dict[str, Any]
    application_date: str
    printer: str | None = None
    print_documents: bool = True


# -- 1. the request -------------------------------------------------------------------------
def _bad_input(name: str, zh: str, en: str) -> ValidationError:
    return ValidationError("bad_approval_input", input=name, what=zh, what_en=en)


def _options(item: Item, inp: Any, day: str) -> dict[str, str]:
    if inp.options_param:
        found = item.parameters[inp.options_param].at(day)
        value = found[1] if found else {}
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return {str(v): str(v) for v in value}
    return dict(inp.options)


def check_inputs(item: Item, raw: Any, day: str) -> dict[str, Any]:
    """The inputs of ``item`` from a request, typed and normalised; ``bad_approval_input``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationError("bad_field", field="inputs")
    known = {i.name for i in item.inputs}
    for name in raw:
        if name not in known:
            raise _bad_input(str(name)[:40], "没有这一项", "not an input of this item")
    out: dict[str, Any] = {}
    for inp in item.inputs:
        value = raw.get(inp.name)
        if value is None or value == "" or value == []:
            if inp.required:
                raise _bad_input(inp.name, "必填", "required")
            out[inp.name] = None
            continue
        t = inp.type
        if t == "month":
            if not isinstance(value, str) or not _MONTH.match(value):
                raise _bad_input(inp.name, "格式应为 YYYY-MM", "must be YYYY-MM")
        elif t == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise _bad_input(inp.name, "应为整数", "must be an integer")
            if (inp.minimum is not None and value < inp.minimum) or (inp.maximum is not None and value > inp.maximum):
                raise _bad_input(inp.name, f"应在 {inp.minimum} 到 {inp.maximum} 之间",
                                 f"must be {inp.minimum} to {inp.maximum}")
        elif t in ("text", "code"):
            if not isinstance(value, str) or not value.strip() or len(value) > 200:
                raise _bad_input(inp.name, "应为 1 到 200 个字", "must be 1 to 200 characters")
            value = value.strip()
            if inp.pattern and not re.fullmatch(inp.pattern, value):
                raise _bad_input(inp.name, "格式不正确", "wrong format")
        elif t == "choice":
            if not isinstance(value, str) or len(value) > 64:
                raise _bad_input(inp.name, "选项无效", "not a valid choice")
            if inp.strict and value not in _options(item, inp, day):
                raise _bad_input(inp.name, "选项无效", "not a valid choice")
        elif t == "choices":
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or len(value) > 50:
                raise _bad_input(inp.name, "应为选项列表", "must be a list of choices")
            if inp.strict and not set(value) <= set(_options(item, inp, day)):
                raise _bad_input(inp.name, "含无效选项", "has an invalid choice")
            value = list(dict.fromkeys(value))
        elif t == "id_number":
            if not isinstance(value, str) or not is_valid_id_number(value):
                raise _bad_input(inp.name, "身份证号码无效", "not a valid ID number")
            value = normalize_id_number(value)
        elif t == "uscc":
            if not isinstance(value, str) or not is_valid_uscc(value):
                raise _bad_input(inp.name, "统一社会信用代码无效", "not a valid unified social credit code")
            value = value.strip().upper()
        out[inp.name] = value
    for inp in item.inputs:
        other = inp.not_before
        if other and out.get(inp.name) is not None and out.get(other) is not None and out[inp.name] < out[other]:
            raise _bad_input(inp.name, f"不能早于{item_input_label(item, other)}", f"must not be before {other}")
    return out


def item_input_label(item: Item, name: str) -> str:
    return next((i.label for i in item.inputs if i.name == name), name)


def parse_application(body: dict[str, Any], *, today: str, may_backdate: bool) -> Application:
    """Check a ``POST /api/approvals`` body whole; a 4xx :class:`QueueError` if anything is
    wrong (nothing has been written yet)."""
    code = body.get("item")
    if code is None:
        raise ValidationError("missing_field", field="item")
    if not isinstance(code, str):
        raise ValidationError("bad_field", field="item")
    item = get_item(code)
    if item is None:
        raise ValidationError("unknown_approval_item", item=code[:64])
    applicant = body.get("applicant")
    if applicant is None:
        raise ValidationError("missing_field", field="applicant")
    if not isinstance(applicant, dict):
        raise ValidationError("bad_field", field="applicant")
    id_number = applicant.get("id_number")
    if id_number is None:
        raise ValidationError("missing_field", field="applicant.id_number")
    if not isinstance(id_number, str) or not is_valid_id_number(id_number):
        raise ValidationError("bad_id_number")
    name = applicant.get("name", "")
    if name is None:
        name = ""
    if not isinstance(name, str) or len(name) > 50:
        raise ValidationError("bad_applicant", what="姓名应为 50 字以内的文字", what_en="name: text of at most 50 characters")
    verification = body.get("verification")
    if verification is None:
        raise ValidationError("missing_field", field="verification")
    if not isinstance(verification, dict) or verification.get("method") not in METHODS:
        raise ValidationError("bad_verification")
    score = verification.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        raise ValidationError("bad_field", field="verification.score")
    date = body.get("application_date")
    if date is None:
        date = today
    if not isinstance(date, str) or not _DATE.match(date):
        raise ValidationError("bad_application_date")
    try:
        dt.date.fromisoformat(date)
    except ValueError as exc:
        raise ValidationError("bad_application_date") from exc
    if date != today and not may_backdate:
        raise Forbidden("approval_date_admin_only")
    printer = body.get("printer")
    if printer is not None and (not isinstance(printer, str) or len(printer) > 40):
        raise ValidationError("bad_field", field="printer")
    want_print = body.get("print", True)
    if not isinstance(want_print, bool):
        raise ValidationError("bad_field", field="print")
    inputs = check_inputs(item, body.get("inputs"), date)
    return Application(item, normalize_id_number(id_number), name.strip(), str(verification["method"]),
                       None if score is None else float(score), inputs, date, printer, want_print)


# -- 2. facts --------------------------------------------------------------------------------
def group_facts(item: Item, facts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Facts by the source that gave them (``application.date`` is the decision's own)."""
    groups: dict[str, dict[str, Any]] = {}
    for name, value in facts.items():
        source = item.fact_source(name)
        if source != "application":
            groups.setdefault(source, {})[name] = value
    return groups


def gather_facts(db: Database, app: Application, settings: dict[str, Any], clock: clk.Clock | None = None
                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(facts, source references)`` for ``app``. Each reference's ``at`` is when the
    source answered, on the hall's ``clock`` (the request's own groups: when they were read)."""
    item = app.item
    facts: dict[str, Any] = {"applicant.verification": app.method}
    age = age_on(app.id_number, dt.date.fromisoformat(app.application_date))
    if age is not None:
        facts["applicant.age"] = age
    region = settings.get("approvals.region")
    if isinstance(region, str) and _REGION.match(region):
        facts["hall.region"] = region
    for inp in item.inputs:
        value = app.inputs.get(inp.name)
        facts[f"input.{inp.name}"] = (id_digests(db, value) if inp.type == "id_number" and value is not None
                                      else value)
    config = settings.get("approvals.sources") or {}
    wanted = list(item.sources.items())
    local = LocalSource(db)

    def ask(entry: tuple[str, str]) -> Answer:
        name, key_spec = entry
        key = app.id_number if key_spec == "applicant" else app.inputs.get(key_spec[6:])
        if not isinstance(key, str) or not key:
            answer = Answer(name, "none", "unavailable", detail="no key to look up")
        else:
            answer = source_for(db, name, config, local).fetch(COLLECTIONS[name], key, app.application_date)
        return answer if answer.at is not None else replace(answer, at=clk.now(clock))

    remote = any(isinstance(config, dict) and config.get(n) for n, _ in wanted)
    if remote and len(wanted) > 1:  # remote registers answer in parallel; the local tables are fast
        with ThreadPoolExecutor(max_workers=min(8, len(wanted))) as pool:
            answers = list(pool.map(ask, wanted))
    else:
        answers = [ask(e) for e in wanted]
    refs: list[dict[str, Any]] = []
    for answer in answers:
        got = answer_facts(COLLECTIONS[answer.collection], answer)
        facts.update(got)
        ref = {"source": answer.collection, "adapter": answer.adapter, "at": round(answer.at or 0.0, 3),
               "status": answer.status, "digest": facts_digest(db, got) if got else None}
        if answer.detail:
            ref["detail"] = answer.detail
        refs.append(ref)
    now = round(clk.now(clock), 3)
    for name, group in group_facts(item, facts).items():
        if name in ("applicant", "input", "settings"):
            refs.append({"source": name, "adapter": "request" if name != "settings" else "settings",
                         "at": now, "status": "ok", "digest": facts_digest(db, group)})
    return facts, refs


# -- 3./4. decide and record -----------------------------------------------------------------
class _Replay(Exception):
    def __init__(self, case: str) -> None:
        self.case = case


def _hall_time(settings: dict[str, Any], t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, ZoneInfo(str(settings.get("timezone") or "Asia/Shanghai"))).replace(tzinfo=None)


def windows_for(conn: sqlite3.Connection, service: str) -> list[dict[str, Any]]:
    """Windows that serve ``service``: its specialised windows, then universal ones."""
    rows = conn.execute("SELECT number, name, services, kind FROM windows ORDER BY number").fetchall()
    special, universal = [], []
    for number, name, services, kind in rows:
        codes = json.loads(services or "[]")
        if service in codes:
            special.append({"number": number, "name": name, "universal": False})
        elif "*" in codes and kind != "green":
            universal.append({"number": number, "name": name, "universal": True})
    return special + universal


def _summary(item: Item, holder: dict[str, str], app_date: str, outputs: list[Any], staff: bool,
             licence: dict[str, Any] | None = None) -> dict[str, Any]:
    lines = [["申请人 Applicant", holder["name_masked"]], ["证件号码 ID", holder["id_masked"]],
             ["办理结果 Result", "已通过（工作人员审核）" if staff else "已通过（即时审批）"],
             ["申请日期 Date", app_date]]
    lines += [[f"{o[0]} {o[1]}".strip(), str(o[2])] for o in outputs]
    if licence:
        lines += [["电子证照 E-licence", f"{licence['type_name']}（已发放，可在「亮证」出示）"],
                  ["证照编号 Licence number", licence["number"]],
                  ["证照标识 Identifier", licence["identifier"]]]
    return {"item": item.code, "lines": lines}


# -- the licence an approval issues ------------------------------------------------------------
def _shown_input(item: Item, name: str, inputs: dict[str, Any], day: str) -> str:
    inp = next((i for i in item.inputs if i.name == name), None)
    value = inputs.get(name)
    if inp is None or value is None or inp.type == "id_number" or value == "(digest)":
        return ""
    if inp.type in ("choice", "choices"):
        labels = _options(item, inp, day)
        values = value if isinstance(value, list) else [value]
        return "、".join(labels.get(str(v), str(v)) for v in values)
    return str(value)


def render_licence_text(item: Item, template: str, inputs: dict[str, Any], day: str) -> str:
    """A ``[licence]`` template with ``{input.<name>}`` replaced by what the citizen entered."""
    return _TEMPLATE_FIELD.sub(lambda m: _shown_input(item, m.group(1)[6:], inputs, day), template)


def issue_item_licence(conn: sqlite3.Connection, item: Item, *, case: str, inputs: dict[str, Any],
                       applicant_key: str | None, day: str, region: str, actor: str,
                       now: float) -> dict[str, Any]:
    """Issue the licence an approved item's result is (``item.licence``) inside the case's
    write transaction: a new USCC for a new business (holder and number), the applicant as its
    operator by keyed ID digest, valid from the hall's ``day``. The licence view of the case."""
    spec = item.licence
    assert spec is not None
    if not _REGION.match(region):
        region = spec.issuer_uscc[2:8]
    uscc = new_uscc(conn, spec.uscc_prefix, region)
    valid_to = None
    if spec.valid_years is not None:
        start = dt.date.fromisoformat(day)
        try:
            end = start.replace(year=start.year + spec.valid_years)
        except ValueError:  # 29 February
            end = start.replace(year=start.year + spec.valid_years, day=28)
        valid_to = (end - dt.timedelta(days=1)).isoformat()
    fields = {k: render_licence_text(item, v, inputs, day) for k, v in spec.fields}
    got = issue_licence(conn, type_code=spec.type_code, type_name=spec.type_name, number=uscc,
                        holder_name=render_licence_text(item, spec.holder_name, inputs, day),
                        holder_id_type="uscc", holder_id=uscc, issuer_name=spec.issuer_name,
                        issuer_uscc=spec.issuer_uscc, issue_date=day, valid_from=day, valid_to=valid_to,
                        fields={k: v for k, v in fields.items() if v}, legal_rep_key=applicant_key, case=case,
                        source="approval", actor=actor, now=now)
    return licence_view(conn, got["id"], day)


def licence_view(conn: sqlite3.Connection, licence_id: int, day: str) -> dict[str, Any]:
    """The licence of a case as responses and documents show it (a business's name and USCC
    are public register data; a person's number would be masked)."""
    row = licence_row(conn, licence_id)
    item = licence_public_item(row, day)
    number = str(row["number_shown"]) if row["holder_id_type"] == "uscc" else item["number_masked"]
    return {**item, "number": number, "holder": licence_holder_masked(row), "in_wallet": True}


def apply(db: Database, app: Application, *, kiosk: str, source: str = "kiosk",
          idempotency_key: str | None = None, clock: clk.Clock | None = None,
          request: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Decide ``app`` and record everything (see the module docstring); the API response.

    Approved: one transaction (case, details, audit, verification reference, certificate job).
    Referred: the same writes run inside the transaction that issues the window ticket (the
    queue's ``in_tx`` hook), with the link and the 一次性告知单 job — one commit. A ticket that
    cannot be issued (hall closed) leaves the case recorded and referred, with the notice.

    ``idempotency_key``: a request with a key already used gets the first request's case
    (``"replayed": true``) only when its body is the same as the first one's — ``request``,
    the JSON body as received (default: the body ``app`` was parsed from, rebuilt); with
    another body it is 422 ``idempotency_key_reused`` and nothing is written."""
    if request is None:
        request = application_body(app)
    if idempotency_key is not None:
        seen = _replayed_case(db, idempotency_key, request)
        if seen:
            return {**case_response(db, seen), "replayed": True}
    started = time.perf_counter()
    settings = all_settings(db)
    item = app.item
    facts, refs = gather_facts(db, app, settings, clock)
    decision = decide(item, facts, app.application_date)
    rec = _Record(item, app, decision, facts, refs, kiosk, clk.now(clock), settings, idempotency_key,
                  id_digest(db, app.id_number), request, request_digest(db, request) if idempotency_key else None)
    rec.decision_ms = round((time.perf_counter() - started) * 1000, 3)
    try:
        if decision.approved:
            with write_tx(db) as conn:
                number = rec.write(conn)
            return case_response(db, number)
        return _refer(db, rec, source=source, clock=clock)
    except (_Replay, sqlite3.IntegrityError):
        # the same Idempotency-Key at the same time: the first request's case (if the same request)
        seen = _replayed_case(db, idempotency_key, request) if idempotency_key is not None else ""
        if seen:
            return {**case_response(db, seen), "replayed": True}
        raise


class _Record:
    """What :func:`apply` writes, in whichever transaction it runs."""

    def __init__(self, item: Item, app: Application, decision: Decision, facts: dict[str, Any],
                 refs: list[dict[str, Any]], kiosk: str, now: float, settings: dict[str, Any],
                 idempotency_key: str | None, applicant_key: str, request: Mapping[str, Any],
                 digest: str | None) -> None:
        self.item, self.app, self.decision, self.facts, self.refs = item, app, decision, facts, refs
        self.applicant_key = applicant_key
        self.request, self.digest = request, digest
        self.decision_ms: float | None = None
        self.kiosk, self.now, self.settings, self.key = kiosk, now, settings, idempotency_key
        self.holder = {"name_masked": mask_name(app.name) if app.name else "",
                       "id_masked": mask_id_number(app.id_number)}
        self.base = public_base_url(settings)
        self.number = ""

    def write(self, conn: sqlite3.Connection, ticket_id: int | None = None) -> str:
        """The case, its details, the audit record (and, approved, the certificate); the number."""
        item, app, decision, now = self.item, self.app, self.decision, self.now
        if self.key is not None and conn.execute("SELECT 1 FROM approval_idempotency WHERE key = ?",
                                                 (self.key,)).fetchone():
            raise _Replay(self.key)
        today = clk.business_day(now, str(self.settings.get("timezone") or "Asia/Shanghai"))
        number = open_case(conn, "approval", item.code, item.name, kiosk=self.kiosk, day=today, now=now,
                           status=decision.decision)["number"]
        if not conn.execute("SELECT 1 FROM approval_rulesets WHERE hash = ?", (item.hash,)).fetchone():
            conn.execute("INSERT INTO approval_rulesets (hash, item, version, canonical, stored_at) "
                         "VALUES (?, ?, ?, ?, ?)", (item.hash, item.code, item.version, item.canonical, now))
        rules = [r.as_dict() for r in decision.rules]
        stored_inputs = {k: ("(digest)" if v is not None and _is_id_input(item, k) else v)
                         for k, v in app.inputs.items()}
        licence = None
        if decision.approved and item.licence is not None:
            # the result is a licence: issued into the register in this same transaction
            licence = issue_item_licence(conn, item, case=number, inputs=app.inputs, applicant_key=self.applicant_key,
                                         day=today, region=str(self.facts.get("hall.region") or ""),
                                         actor=DECIDED_BY, now=now)
        conn.execute(
            "INSERT INTO approval_cases (case_number, item, ruleset_hash, ruleset_version, application_date, "
            "decision, rules, parameters, facts, sources, inputs, outputs, holder, verification_method, "
            "verification_score, kiosk, decided_by, decided_at, ticket_id, applicant_key, licence_id, decision_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (number, item.code, item.hash, item.version, app.application_date, decision.decision,
             _j(rules), _j(decision.parameters), _j(self.facts), _j(self.refs), _j(stored_inputs),
             _j([list(o) for o in decision.outputs]), _j(self.holder), app.method, app.score, self.kiosk,
             DECIDED_BY, now, ticket_id, self.applicant_key, licence["id"] if licence else None, self.decision_ms))
        if ticket_id is not None:
            link_ticket(conn, number, ticket_id)
        if self.key is not None:
            conn.execute("INSERT INTO approval_idempotency (key, case_number, created_at, request_digest) "
                         "VALUES (?, ?, ?, ?)", (self.key, number, now, self.digest))
        append(conn, ApprovalDecided(
            case=number, item=item.code, ruleset_version=item.version, ruleset_hash=item.hash,
            application_date=app.application_date, rules=rules, parameters=decision.parameters,
            sources=self.refs, decision=decision.decision, decided_by=DECIDED_BY, kiosk=self.kiosk,
            verification_method=app.method, verification_score=app.score,
            licence=licence["identifier"] if licence else None), actor=DECIDED_BY, ts=now)
        if decision.approved:
            outputs = [list(o) for o in decision.outputs]
            ref = new_verify_ref(conn, number, _summary(item, self.holder, app.application_date, outputs, False,
                                                        licence), now=now)
            doc = documents.certificate(
                item, case=number, hall_name=str(self.settings.get("hall_name") or ""), holder=self.holder,
                inputs=app.inputs, outputs=outputs, verify_url=f"{self.base}/v/{ref}", decided_by=DECIDED_BY,
                issued_at=_hall_time(self.settings, now), ruleset_version=item.version, licence=licence)
            job = enqueue_document(conn, doc.as_dict(), app.printer) if app.print_documents else None
            conn.execute("UPDATE approval_cases SET verify_ref = ?, print_job = ? WHERE case_number = ?",
                         (ref, job, number))
        self.number = number
        return number

    def print_notice(self, conn: sqlite3.Connection, ticket: tuple[str, str] | None) -> None:
        """Queue the 一次性告知单 (with the queue number and its progress QR when there is a ticket)."""
        item, decision = self.item, self.decision
        bring, _ = _bring_from_rules(item, [r.as_dict() for r in decision.rules])
        doc = documents.notice(item, case=self.number, hall_name=str(self.settings.get("hall_name") or ""),
                               reasons=decision.reasons(item), bring=bring, windows=windows_for(conn, item.service),
                               ticket={"number": ticket[0]} if ticket else None,
                               progress_url=f"{self.base}/t/{ticket[1]}" if ticket and self.base else "",
                               issued_at=_hall_time(self.settings, self.now))
        job = enqueue_document(conn, doc.as_dict(), self.app.printer) if self.app.print_documents else None
        conn.execute("UPDATE approval_cases SET print_job = ? WHERE case_number = ?", (job, self.number))


def application_body(app: Application) -> dict[str, Any]:
    """A ``POST /api/approvals`` body for ``app`` (for callers that have no request body)."""
    verification: dict[str, Any] = {"method": app.method}
    if app.score is not None:
        verification["score"] = app.score
    body: dict[str, Any] = {"item": app.item.code, "applicant": {"id_number": app.id_number, "name": app.name},
                            "verification": verification, "inputs": app.inputs,
                            "application_date": app.application_date, "print": app.print_documents}
    if app.printer is not None:
        body["printer"] = app.printer
    return body


def request_digest(db: Database, request: Mapping[str, Any]) -> str:
    """The keyed digest (``k1:<hex>``, HMAC-SHA256 under the ID key ring) of a request body's
    canonical JSON (keys sorted, no spaces): what an ``Idempotency-Key`` is stored with. The
    body holds the applicant's ID number, so the digest is keyed — a plain hash could be
    reversed by trying the numbers a masked ID leaves open."""
    return facts_digest(db, request)


def _replayed_case(db: Database, key: str, request: Mapping[str, Any]) -> str:
    """The case the retry key ``key`` made, when ``request`` is the body it was made with;
    "" when the key is new; 422 ``idempotency_key_reused`` when it was used for another body
    (or the digest cannot be checked: written before digests, or under a purged ID key)."""
    row = db.conn.execute("SELECT case_number, request_digest FROM approval_idempotency WHERE key = ?",
                          (key,)).fetchone()
    if row is None:
        return ""
    if not row[1] or check_digest(db, request, str(row[1])) is not True:
        raise ValidationError("idempotency_key_reused")
    return str(row[0])


def _is_id_input(item: Item, name: str) -> bool:
    return any(i.name == name and i.type == "id_number" for i in item.inputs)


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def referral_reason(item: Item, reasons: list[dict[str, Any]]) -> str:
    """What the ticket says for the clerk (the console shows the whole trace of the case)."""
    text = f"秒批转人工（{item.name}）：" + "；".join(f"{r['rule']} {r['text']}（{r['code']}）" for r in reasons)
    return text if len(text) <= 200 else text[:199] + "…"


def _refer(db: Database, rec: _Record, *, source: str, clock: clk.Clock | None) -> dict[str, Any]:
    """A referred case: recorded inside the transaction that issues its window ticket."""
    from queue_server.queue import issue_ticket

    app, item = rec.app, rec.item
    elderly_age = int(rec.settings.get("elderly_age") or 0)
    age = age_on(app.id_number, dt.date.fromisoformat(app.application_date))
    priority = "elderly" if elderly_age and age is not None and age >= elderly_age else None

    def in_ticket_tx(conn: sqlite3.Connection, ticket_id: int) -> str:
        number = rec.write(conn, ticket_id)
        row = conn.execute("SELECT number, progress_code FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        rec.print_notice(conn, (str(row[0]), str(row[1])))
        return number

    try:
        ticket = issue_ticket(db, item.service, priority=priority,
                              referral_reason=referral_reason(item, rec.decision.reasons(item)),
                              issued_by=rec.kiosk, source=source, clock=clock, in_tx=in_ticket_tx,
                              idempotency_key=f"approval:{rec.key}" if rec.key is not None else None)
    except QueueError as exc:  # e.g. hall_closed: the case stays referred; the notice says where to go
        with write_tx(db) as conn:
            rec.write(conn)
            rec.print_notice(conn, None)
        return case_response(db, rec.number, extra={"ticket_error": exc.as_dict()["error"]})
    seen = _replayed_case(db, rec.key, rec.request) if ticket.get("replayed") and rec.key is not None else ""
    if seen:
        return {**case_response(db, seen), "replayed": True}
    if ticket.get("in_tx_error") or not rec.number:
        # the hook's writes were rolled back (the ticket stands): record the case and link it now
        rec.number = ""
        with write_tx(db) as conn:
            rec.write(conn, int(ticket["id"]))
            rec.print_notice(conn, (str(ticket["number"]), str(ticket["progress_code"])))
    public = {k: v for k, v in ticket.items() if k not in ("in_tx_result", "in_tx_error")}
    return case_response(db, rec.number, extra={"ticket": public})


# -- reading a case ---------------------------------------------------------------------------
_CASE_FIELDS = ("case_number, item, ruleset_hash, ruleset_version, application_date, decision, rules, parameters, "
                "facts, sources, inputs, outputs, holder, verification_method, verification_score, kiosk, "
                "decided_by, decided_at, ticket_id, verify_ref, print_job, staff_decision, staff_note, staff_by, "
                "staff_at, applicant_key, licence_id")


def _details(db: Database | sqlite3.Connection, number: str) -> dict[str, Any]:
    conn = db.conn if isinstance(db, Database) else db
    row = conn.execute(f"SELECT {_CASE_FIELDS} FROM approval_cases WHERE case_number = ?",
                       (number.strip().upper(),)).fetchone()
    if row is None:
        raise NotFound("case_not_found", case=number)
    d = dict(zip([f.strip() for f in _CASE_FIELDS.split(",")], tuple(row), strict=True))
    for key in ("rules", "parameters", "facts", "sources", "inputs", "outputs", "holder"):
        d[key] = json.loads(d[key])
    return d


def _item_for(db: Database | sqlite3.Connection, d: dict[str, Any]) -> Item:
    item = get_item(d["item"])
    if item is not None and item.hash == d["ruleset_hash"]:
        return item
    return stored_ruleset(db, d["ruleset_hash"])


def stored_ruleset(db: Database | sqlite3.Connection, digest: str) -> Item:
    conn = db.conn if isinstance(db, Database) else db
    row = conn.execute("SELECT canonical FROM approval_rulesets WHERE hash = ?", (digest,)).fetchone()
    if row is None:
        raise NotFound("ruleset_not_found", hash=digest[:16])
    return item_from_ruleset(row[0])


_RESPONSE_FIELDS = ("case_number", "item", "ruleset_hash", "ruleset_version", "application_date", "decision",
                    "rules", "ticket_id", "verify_ref", "print_job", "outputs", "licence_id")


def case_response(db: Database, number: str, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``POST /api/approvals`` answer for a case (also what a replay returns)."""
    row = db.conn.execute(f"SELECT {', '.join(_RESPONSE_FIELDS)} FROM approval_cases WHERE case_number = ?",
                          (number.strip().upper(),)).fetchone()
    if row is None:
        raise NotFound("case_not_found", case=number)
    d = dict(zip(_RESPONSE_FIELDS, tuple(row), strict=True))
    d["rules"] = json.loads(d["rules"])
    case = get_case(db, d["case_number"])
    item = _item_for(db, d)
    rules = d["rules"]
    reasons = _reasons(item, rules)
    out: dict[str, Any] = {
        "case": d["case_number"], "item": d["item"], "decision": d["decision"], "status": case["status"],
        "reasons": [{k: r[k] for k in ("rule", "code", "message", "message_en")} for r in reasons],
        "rules": [{"rule": r["rule"], "result": r["result"], "code": r["code"]} for r in rules],
        "ruleset": {"version": d["ruleset_version"], "hash": d["ruleset_hash"]},
        "application_date": d["application_date"],
    }
    settings = all_settings(db)
    if d["verify_ref"]:
        outputs = json.loads(d["outputs"]) if isinstance(d["outputs"], str) else d["outputs"]
        out["certificate"] = {"verify_url": f"{public_base_url(settings)}/v/{d['verify_ref']}",
                              "title": item.result, "title_en": item.result_en,
                              "outputs": [{"label": o[0], "label_en": o[1], "value": o[2]} for o in outputs],
                              "print": _print_state(db, d["print_job"])}
    if d["licence_id"] is not None:
        out["licence"] = licence_view(db.conn, int(d["licence_id"]),
                                      clk.business_day(clk.now(None), str(settings.get("timezone") or "Asia/Shanghai")))
        if "certificate" in out:
            out["certificate"]["licence"] = out["licence"]["identifier"]
    if d["decision"] == "referred":
        zh, en = _bring_from_rules(item, rules)
        windows = windows_for(db.conn, item.service)
        out["notice"] = {"bring": zh, "bring_en": en, "windows": [w["number"] for w in windows],
                         "window_text": documents.window_text(windows),
                         "window_text_en": documents.window_text(windows, "en"),
                         "print": _print_state(db, d["print_job"])}
        if extra and "ticket" in extra:
            out["ticket"] = extra["ticket"]
        elif d["ticket_id"] is not None:
            from queue_server.queue import get_ticket

            try:
                out["ticket"] = get_ticket(db, int(d["ticket_id"]))
            except NotFound:
                out["ticket"] = {"id": d["ticket_id"]}
        if extra and "ticket_error" in extra:
            out["ticket_error"] = extra["ticket_error"]
    return out


def _reasons(item: Item, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reasons of stored rule results, with each rule's text and basis."""
    return [{**r, "text_en": item.rule(r["rule"]).text_en, "basis": item.rule(r["rule"]).basis}
            for r in reasons_of(item, rules)]


def _bring_from_rules(item: Item, rules: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    zh, en = list(item.bring), list(item.bring_en)
    for r in rules:
        if r["result"] != "pass":
            rule = item.rule(r["rule"])
            zh += [b for b in rule.bring if b not in zh]
            en += [b for b in rule.bring_en if b not in en]
    return zh, en


def _print_state(db: Database, job_id: int | None) -> dict[str, Any]:
    if job_id is None:
        return {"status": "not_queued"}
    row = db.conn.execute("SELECT state, last_error, printer FROM print_jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        return {"status": "unknown", "job_id": job_id}
    return {"status": row[0], "job_id": job_id, "printer": row[2], **({"error": row[1]} if row[1] else {})}


def _shown(value: Any) -> Any:
    """A fact value as the console shows it: ID digests are never shown."""
    if isinstance(value, list) and value and all(isinstance(v, str) and re.match(r"^[a-z]\d+:[0-9a-f]{64}$", v)
                                                 for v in value):
        return "（证件号，已比对）"
    if isinstance(value, str) and re.match(r"^[a-z]\d+:[0-9a-f]{64}$", value):
        return "（证件号，已比对）"
    if isinstance(value, list):
        return [_shown(v) for v in value]
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    return value


def case_detail(db: Database, number: str) -> dict[str, Any]:
    """Everything about an approval case, for the clerk's console and ``GET /api/approvals/<case>``:
    the rule trace with each rule's text, basis, facts (values and sources) and result."""
    d = _details(db, number)
    case = get_case(db, d["case_number"])
    item = _item_for(db, d)
    out = case_response(db, d["case_number"])
    facts = d["facts"]
    trace = []
    for r in d["rules"]:
        rule = item.rule(r["rule"])
        trace.append({**r, "text": rule.text, "text_en": rule.text_en, "basis": rule.basis,
                      "values": {f: _shown(facts.get(f)) for f in rule.facts if f in facts},
                      "labels": {f: FACT_LABELS.get(f) or (item_input_label(item, f[6:]) if f.startswith("input.")
                                                           else f) for f in rule.facts}})
    out.update({
        "item_name": item.name, "item_name_en": item.name_en, "status_text": STATUS_ZH.get(case["status"], case["status"]),
        "trace": trace, "parameters": d["parameters"], "sources": d["sources"], "holder": d["holder"],
        "inputs": [{"name": n, "label": item_input_label(item, n), "value": _shown(v)} for n, v in d["inputs"].items()],
        "outputs": d["outputs"], "verification": {"method": d["verification_method"], "score": d["verification_score"]},
        "kiosk": d["kiosk"], "decided_by": d["decided_by"], "decided_at": d["decided_at"],
        "ticket_id": d["ticket_id"], "service": item.service,
    })
    out["reasons_detail"] = _reasons(item, d["rules"])
    if d["staff_decision"]:
        out["staff"] = {"decision": d["staff_decision"], "note": d["staff_note"], "by": d["staff_by"],
                        "at": d["staff_at"], "by_name": _staff_name(db, d["staff_by"])}
    return out


def _staff_name(db: Database, actor: str | None) -> str | None:
    if not actor or not actor.startswith("user:") or not actor[5:].isdigit():
        return None
    row = db.conn.execute("SELECT display_name, staff_no FROM users WHERE id = ?", (int(actor[5:]),)).fetchone()
    return None if row is None else f"{row[0]}（工号 {row[1]}）" if row[1] else str(row[0])


def find_by_ticket(db: Database, ticket_id: int) -> str | None:
    row = db.conn.execute("SELECT case_number FROM approval_cases WHERE ticket_id = ?", (ticket_id,)).fetchone()
    return None if row is None else str(row[0])


def case_kiosk(db: Database, number: str) -> str:
    return str(_details(db, number)["kiosk"])


# -- a member of staff decides ----------------------------------------------------------------
def decide_by_staff(db: Database, number: str, decision: Any, note: Any, *, actor: str,
                    printer: str | None = None, print_certificate: bool = False,
                    clock: clk.Clock | None = None) -> dict[str, Any]:
    """A clerk's decision on a referred case: ``approved`` or ``rejected`` (with a written
    note). Audited as ``approval.human_decided`` with the staff id; approval creates the
    verification reference (and prints the certificate when asked)."""
    if decision not in ("approved", "rejected"):
        raise ValidationError("bad_staff_decision")
    if note is not None and not isinstance(note, str):
        raise ValidationError("bad_field", field="note")
    note = (note or "").strip()
    if len(note) > 500:
        raise ValidationError("field_too_long", field="note", max_len=500)
    if decision == "rejected" and not note:
        raise ValidationError("approval_note_required")
    settings = all_settings(db)
    now = clk.now(clock)
    with write_tx(db) as conn:
        d = _details(conn, number)
        case = get_case(conn, d["case_number"])
        if case["status"] != "referred":
            raise Conflict("approval_not_referred", case=case["number"], status=case["status"],
                           status_zh=STATUS_ZH.get(case["status"], case["status"]))
        item = _item_for(conn, d)
        number = case["number"]
        conn.execute("UPDATE approval_cases SET staff_decision = ?, staff_note = ?, staff_by = ?, staff_at = ? "
                     "WHERE case_number = ?", (decision, note, actor, now, number))
        set_case_status(conn, number, decision, now=now)
        licence = None
        if decision == "approved" and item.licence is not None:
            if not d["applicant_key"]:
                raise Conflict("approval_licence_no_applicant", case=number)
            inputs = {k: (None if v == "(digest)" else v) for k, v in d["inputs"].items()}
            region = str(settings.get("approvals.region") or "")
            licence = issue_item_licence(conn, item, case=number, inputs=inputs, applicant_key=d["applicant_key"],
                                         day=clk.business_day(now, str(settings.get("timezone") or "Asia/Shanghai")),
                                         region=region, actor=actor, now=now)
            conn.execute("UPDATE approval_cases SET licence_id = ? WHERE case_number = ?", (licence["id"], number))
        append(conn, ApprovalHumanDecided(case=number, item=item.code, decision=decision,
                                          note_digest=text_digest(db, note) if note else None,
                                          engine_decision=d["decision"], ruleset_hash=d["ruleset_hash"],
                                          licence=licence["identifier"] if licence else None),
               actor=actor, ts=now)
        if decision == "approved":
            holder = d["holder"]
            ref = new_verify_ref(conn, number, _summary(item, holder, d["application_date"], [], True, licence),
                                 now=now)
            job = None
            if print_certificate:
                doc = documents.certificate(
                    item, case=number, hall_name=str(settings.get("hall_name") or ""), holder=holder,
                    inputs={k: (None if v == "(digest)" else v) for k, v in d["inputs"].items()}, outputs=[],
                    verify_url=f"{public_base_url(settings)}/v/{ref}", decided_by=actor,
                    issued_at=_hall_time(settings, now), ruleset_version=d["ruleset_version"], staff=True,
                    licence=licence)
                job = enqueue_document(conn, doc.as_dict(), printer)
            conn.execute("UPDATE approval_cases SET verify_ref = ?, print_job = COALESCE(?, print_job) "
                         "WHERE case_number = ?", (ref, job, number))
    return case_detail(db, number)


# -- re-running a case -------------------------------------------------------------------------
def _audit_record(db: Database, number: str) -> dict[str, Any] | None:
    row = db.conn.execute("SELECT data FROM audit WHERE kind = 'approval.decided' AND json_extract(data, '$.case') = ? "
                          "ORDER BY id LIMIT 1", (number,)).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def rerun(db: Database, number: str) -> dict[str, Any]:
    """Re-run a case from its record: the stored rule set (by hash), the recorded facts and
    application date. Checks the facts against the keyed digests in the audit record, then
    says whether the decision and every rule's result are the same — and what today's rule
    set of the item would decide on the same facts."""
    d = _details(db, number)
    number = d["case_number"]
    recorded = stored_ruleset(db, d["ruleset_hash"])
    record = _audit_record(db, number)
    problems: list[str] = []
    if record is None:
        problems.append("no approval.decided audit record for this case")
    else:
        for key, want in (("decision", d["decision"]), ("ruleset_hash", d["ruleset_hash"]),
                          ("application_date", d["application_date"]), ("rules", d["rules"])):
            if record.get(key) != want:
                problems.append(f"case details differ from the audit record in {key}")
        groups = group_facts(recorded, d["facts"])
        for ref in record.get("sources", []):
            digest = ref.get("digest")
            if not digest:
                if groups.get(ref["source"]):
                    problems.append(f"facts of {ref['source']} stored although the source gave none")
                continue
            ok = check_digest(db, groups.get(ref["source"], {}), digest)
            if ok is False:
                problems.append(f"facts of {ref['source']} do not match the audit record's digest")
            elif ok is None:
                problems.append(f"facts of {ref['source']}: digest key {digest.split(':')[0]} is not in the key ring")
    again = decide(recorded, d["facts"], d["application_date"])
    got = [{"rule": r.rule, "result": r.result, "code": r.code} for r in again.rules]
    had = [{"rule": r["rule"], "result": r["result"], "code": r["code"]} for r in d["rules"]]
    same = again.decision == d["decision"] and got == had
    if not same:
        problems.append("the re-run does not give the recorded decision")
    out: dict[str, Any] = {
        "case": number, "item": d["item"], "ruleset": {"version": d["ruleset_version"], "hash": d["ruleset_hash"]},
        "application_date": d["application_date"], "recorded": d["decision"], "rerun": again.decision,
        "same": same and not problems, "rules": got, "problems": problems,
    }
    current = registry().get(d["item"])
    if current is not None and current.hash != recorded.hash:
        now = decide(current, d["facts"], d["application_date"])
        out["current"] = {"version": current.version, "hash": current.hash, "decision": now.decision,
                          "same": now.decision == d["decision"]}
    return out


# -- the item list ----------------------------------------------------------------------------
def describe_items(day: str) -> list[dict[str, Any]]:
    """``GET /api/approvals/items``: every item with its inputs (options as in force on
    ``day``) and rule set."""
    out = []
    for item in sorted(registry().values(), key=lambda i: (int(i.definition.get("order", 100)), i.code)):
        inputs = []
        for inp in item.inputs:
            entry: dict[str, Any] = {"name": inp.name, "label": inp.label, "label_en": inp.label_en,
                                     "type": inp.type, "required": inp.required}
            options = _options(item, inp, day)
            if options:
                entry["options"] = [{"value": k, "label": v} for k, v in options.items()]
            for key, value in (("min", inp.minimum), ("max", inp.maximum), ("pattern", inp.pattern),
                               ("help", inp.help), ("help_en", inp.help_en), ("not_before", inp.not_before)):
                if value not in (None, ""):
                    entry[key] = value
            inputs.append(entry)
        out.append({"code": item.code, "name": item.name, "name_en": item.name_en, "category": item.category,
                    "order": int(item.definition.get("order", 100)),
                    "category_name": item.category_name, "category_name_en": item.category_name_en,
                    "service": item.service, "summary": item.summary, "summary_en": item.summary_en,
                    "result": item.result, "result_en": item.result_en, "bring": list(item.bring),
                    "bring_en": list(item.bring_en), "sources": sorted(item.sources),
                    "rules": [{"rule": r.id, "text": r.text, "text_en": r.text_en, "code": r.code}
                              for r in item.rules],
                    "inputs": inputs, "ruleset": item.ruleset})
    return out
