"""The shared-data collections (数据共享) the items ask, and how their rows become facts.

Each collection is what one authority says about a person or a company: the household
register (``persons``), 民政 benefits, 人社 insurance records, marriages, the driving
licence register, and so on. The embedded source keeps them as local tables in the hall
database (``queue-server data load``); an HTTP adapter may answer for any of them instead
(:mod:`queue_server.approvals.sources`). Both give rows of the shape declared here.

Rows are looked up by their ``key`` field: a person's ID number (stored only as a keyed
digest, :func:`queue_server.idkey.id_digest`), a company's unified social credit code, a
project code, a normalised address. A *single* collection has at most one row per key and
gives one fact per field (``person.hukou_region``); no row means those facts are missing,
so every rule that needs them is UNKNOWN. Any other collection gives one fact, the list of
rows (``insurance.records``), which is empty when the source has none — an answer, not a
missing fact.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from hardware.idnumber import is_valid_id_number, is_valid_uscc, normalize_id_number

_REGION = re.compile(r"^\d{6}$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Field:
    """One field of a collection's rows. ``kind``: ``id_number`` (stored as keyed digests),
    ``region`` (6 digits), ``date`` (ISO), ``month`` (YYYY-MM), ``text``, ``int``, ``bool``,
    ``uscc`` (GB 32100), ``enum`` (one of ``choices``)."""

    name: str
    kind: str
    required: bool = True
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Collection:
    name: str
    key: str
    """The field rows are looked up by."""
    key_kind: str
    """``id_number``, ``uscc`` or ``text`` (compared after removing spaces)."""
    fields: tuple[Field, ...]
    fact: str
    """Facts are ``<fact>.<field>`` (single) or ``<fact>.records`` (lists)."""
    single: bool = False
    hidden: tuple[str, ...] = ()
    """Fields kept in the table but not given to rules (a person's name)."""
    description: str = ""

    def fact_names(self) -> tuple[str, ...]:
        if self.single:
            return tuple(f"{self.fact}.{f.name}" for f in self.fields if f.name not in self.hidden)
        return (f"{self.fact}.records",)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def _c(name: str, key: str, key_kind: str, fact: str, fields: list[Field], **kw: Any) -> Collection:
    return Collection(name, key, key_kind, tuple(fields), fact, **kw)


F = Field

#: Every collection the embedded source and the load file know.
COLLECTIONS: dict[str, Collection] = {c.name: c for c in (
    _c("persons", "id_number", "id_number", "person", [
        F("name", "text"), F("hukou_region", "region"), F("death_date", "date", required=False)],
        single=True, hidden=("name",), description="公安 household register: hukou region, death registration"),
    _c("benefits", "id_number", "id_number", "benefits", [F("benefit", "text"), F("since", "date")],
       description="民政 benefits a person receives now"),
    _c("social_insurance", "id_number", "id_number", "insurance", [
        F("region", "region"), F("kind", "text"), F("from_month", "month"),
        F("to_month", "month", required=False), F("status", "enum", choices=("normal", "frozen"))],
       description="人社 participation and payment records (to_month empty: ongoing)"),
    _c("marriages", "id_number", "id_number", "marriage", [
        F("spouse_id_number", "id_number"), F("registered", "date"),
        F("status", "enum", choices=("married", "divorced", "widowed"))],
       description="民政 marriage registrations (one row per spouse)"),
    _c("children", "id_number", "id_number", "children", [F("birth_date", "date")],
       description="population register: children recorded for a parent"),
    _c("birth_registrations", "id_number", "id_number", "birth_registrations", [
        F("child_order", "int"), F("registered", "date")],
       description="卫健 birth registrations (生育登记) already made"),
    _c("residence_permits", "id_number", "id_number", "residence", [
        F("region", "region"), F("since", "date"), F("valid_until", "date")],
       description="公安 residence permits (居住证)"),
    _c("driving_licences", "id_number", "id_number", "licence", [
        F("licence_class", "text"), F("first_issued", "date"),
        F("status", "enum", choices=("valid", "suspended", "revoked")),
        F("full_point_cycles", "int")],
       description="traffic police: licence class, first issue, 12-point cycles in the last three"),
    _c("police_records", "id_number", "id_number", "police", [
        F("kind", "enum", choices=("traffic_crime", "dangerous_driving", "drug", "drink_driving",
                                   "violent_crime", "other")),
        F("date", "date")],
       description="公安 records that bar a ride-hailing permit"),
    _c("taxi_revocations", "id_number", "id_number", "revocations", [F("date", "date")],
       description="transport authority: revoked taxi qualifications"),
    _c("exams", "id_number", "id_number", "exams", [F("exam", "text"), F("passed", "date")],
       description="qualification exams passed"),
    _c("education", "id_number", "id_number", "education", [
        F("level", "enum", choices=("college", "bachelor", "master", "doctor")), F("school", "text"),
        F("fulltime", "bool"), F("domestic", "bool"), F("graduated", "date")],
       single=True, description="学信 the highest degree"),
    _c("restrictions", "id_number", "id_number", "restrictions", [F("kind", "text"), F("since", "date")],
       description="court restriction lists (失信被执行人, 限制高消费)"),
    _c("companies", "uscc", "uscc", "company", [
        F("name", "text"), F("region", "region"),
        F("status", "enum", choices=("active", "deregistered", "revoked", "abnormal"))],
       description="市场监管 register of companies"),
    _c("projects", "code", "text", "project", [
        F("uscc", "uscc"), F("name", "text"), F("industry", "text"), F("sector", "text")],
       description="投资项目在线审批监管平台: unified project codes"),
    _c("names", "trade_name", "text", "names", [F("region", "region")],
       description="企业名称库: trade names (字号) in use"),
    _c("addresses", "address", "text", "address", [F("region", "region"), F("zone", "text")],
       description="standard address library (标准地址库) with zone"),
)}


def normalize_key(kind: str, value: str) -> str:
    """How a key is compared: ID numbers and USCCs upper case, text without spaces."""
    if kind == "id_number":
        return normalize_id_number(value)
    if kind == "uscc":
        return value.strip().upper()
    return "".join(value.split())


def check_value(f: Field, value: Any) -> tuple[Any, str | None]:
    """``(normalised value, None)`` or ``(None, what is wrong)`` for one field value."""
    if value is None or (value == "" and not f.required):  # an optional field left empty: absent
        return (None, None) if not f.required else (None, "required")
    k = f.kind
    if k == "text":
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            return None, "must be a non-empty string (at most 200 characters)"
        return value.strip(), None
    if k == "id_number":
        if not isinstance(value, str) or not is_valid_id_number(value):
            return None, "not a valid resident ID number (GB 11643 check digit, birth date)"
        return normalize_id_number(value), None
    if k == "uscc":
        if not isinstance(value, str) or not is_valid_uscc(value):
            return None, "not a valid unified social credit code (GB 32100)"
        return value.strip().upper(), None
    if k == "region":
        if not isinstance(value, str) or not _REGION.match(value):
            return None, "must be a 6-digit region code"
        return value, None
    if k == "date":
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError
            dt.date.fromisoformat(value)
        except ValueError:
            return None, "must be an ISO date (YYYY-MM-DD)"
        return value, None
    if k == "month":
        if not isinstance(value, str) or not _MONTH.match(value):
            return None, "must be a month (YYYY-MM)"
        return value, None
    if k == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return None, "must be an integer"
        return value, None
    if k == "bool":
        if not isinstance(value, bool):
            return None, "must be true or false"
        return value, None
    if k == "enum":
        if value not in f.choices:
            return None, f"must be one of {', '.join(f.choices)}"
        return value, None
    raise ValueError(f"unknown field kind {k}")  # pragma: no cover - a table error


def all_fact_names() -> dict[str, str]:
    """Every fact a collection can give → its collection's name."""
    return {fact: c.name for c in COLLECTIONS.values() for fact in c.fact_names()}


#: How the clerk's console names a fact (engine facts, then the collections').
FACT_LABELS: dict[str, str] = {
    "applicant.verification": "身份核验方式",
    "applicant.age": "年龄（按身份证，周岁）",
    "hall.region": "本厅行政区划",
    "application.date": "申请日期",
    "person.hukou_region": "户籍地区划（公安）",
    "person.death_date": "死亡登记日期（公安）",
    "benefits.records": "在享待遇（民政）",
    "insurance.records": "参保缴费记录（人社）",
    "marriage.records": "婚姻登记（民政）",
    "children.records": "子女记录（人口信息）",
    "birth_registrations.records": "已办生育登记（卫健）",
    "residence.records": "居住证（公安）",
    "licence.records": "机动车驾驶证（交警）",
    "police.records": "违法犯罪记录（公安）",
    "revocations.records": "从业资格撤销记录（交通）",
    "exams.records": "从业资格考试（交通）",
    "education.level": "学历层次（学信）",
    "education.school": "毕业院校（学信）",
    "education.fulltime": "全日制（学信）",
    "education.domestic": "国内学历（学信）",
    "education.graduated": "毕业日期（学信）",
    "restrictions.records": "限制名单（法院）",
    "company.records": "企业登记（市场监管）",
    "project.records": "项目赋码信息（投资平台）",
    "names.records": "已用字号（名称库）",
    "address.records": "标准地址（地址库）",
}
