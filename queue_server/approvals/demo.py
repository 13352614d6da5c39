"""Synthetic people and companies for the demo hall (章丘区, region 370114): every item can be
approved and referred. The ID numbers are invented (valid GB 11643 check digits, fixed so
the README can name them); ``seed-demo`` loads them with ``make_hall`` and prints the table.

:data:`SHOWCASE` says which demo identity shows what; :func:`demo_data` is the load file.
"""

from __future__ import annotations

from typing import Any

from hardware.idnumber import id_check_digit, uscc_check_char


def _id(region: str, birth: str, seq: str) -> str:
    first17 = f"{region}{birth}{seq}"
    return first17 + id_check_digit(first17)


def _uscc(body: str) -> str:
    return body + uscc_check_char(body)


# name, region of birth in the ID, birth date, sequence, hukou region, death date
_PEOPLE: dict[str, tuple[str, str, str, str, str, str | None]] = {
    "elder_ok": ("王秀兰", "370181", "19440302", "124", "370114", None),
    "elder_young": ("李德胜", "370181", "19500815", "131", "370114", None),
    "elder_elsewhere": ("张桂英", "370102", "19381120", "142", "370102", None),
    "elder_receiving": ("刘福山", "370181", "19360214", "153", "370114", None),
    "elder_deceased": ("陈玉珍", "370181", "19410509", "164", "370114", "2026-10-03"),
    "insured_ok": ("孙丽", "370181", "19850721", "226", "370114", None),
    "insured_elsewhere": ("周强", "370102", "19790130", "237", "370102", None),
    "insured_recent": ("吴敏", "370181", "19900412", "248", "370114", None),
    "insured_frozen": ("郑涛", "370181", "19820905", "259", "370114", None),
    "parent_ok": ("马丽娟", "370181", "19930218", "326", "370114", None),
    "parent_spouse": ("黄伟", "370181", "19911003", "337", "370114", None),
    "parent_other_province": ("何静", "410105", "19950601", "348", "410105", None),
    "parent_other_spouse": ("冯磊", "410105", "19930909", "359", "410105", None),
    "driver_ok": ("高磊", "370112", "19861211", "417", "370112", None),
    "driver_drink": ("林军", "370181", "19900303", "427", "370114", None),
    "driver_new": ("罗勇", "370181", "19880808", "439", "370114", None),
    "graduate_ok": ("杨帆", "410105", "20020909", "516", "410105", None),
    "graduate_parttime": ("徐悦", "370302", "19990120", "527", "370302", None),
    "graduate_local": ("胡杰", "370181", "20010505", "539", "370114", None),
}

#: The demo ID numbers by role (what README.md and ``seed-demo`` list).
IDS: dict[str, str] = {key: _id(p[1], p[2], p[3]) for key, p in _PEOPLE.items()}
NAMES: dict[str, str] = {key: p[0] for key, p in _PEOPLE.items()}
#: Not in the persons table at all: the household register has no row (DATA_UNAVAILABLE).
IDS["elder_unknown"] = _id("370181", "19430707", "175")
NAMES["elder_unknown"] = "赵长庚"

COMPANY_OK = _uscc("91370114MA3C5L2X1")
COMPANY_GONE = _uscc("91370114MA3B7Q4N2")
PROJECT_OK = "2026-370114-34-03-000123"
PROJECT_ENERGY = "2026-370114-44-02-000456"
PROJECT_RESTRICTED = "2026-370114-30-03-000789"
ADDRESS_OK = "济南市章丘区明水街道百脉泉街88号"
ADDRESS_PROTECTED = "济南市章丘区绣源河水源地1号"

#: What each demo identity (or input) shows: (item, who/what, decision and reason).
SHOWCASE: list[tuple[str, str, str]] = [
    ("elderly_allowance", "elder_ok", "approved (born 1944, local hukou)"),
    ("elderly_allowance", "elder_young", "referred AGE_BELOW_MIN (born 1950)"),
    ("elderly_allowance", "elder_elsewhere", "referred NOT_LOCAL_HUKOU (历下区)"),
    ("elderly_allowance", "elder_receiving", "referred ALREADY_RECEIVING"),
    ("elderly_allowance", "elder_deceased", "referred DECEASED"),
    ("elderly_allowance", "elder_unknown", "referred DATA_UNAVAILABLE (no household-register row)"),
    ("insurance_certificate", "insured_ok", "approved for any months from 2019-01 to last month"),
    ("insurance_certificate", "insured_elsewhere", "referred NO_LOCAL_RECORD (insured in 历下区)"),
    ("insurance_certificate", "insured_recent", "approved from 2021-03; earlier months PERIOD_BEFORE_ELECTRONIC"),
    ("insurance_certificate", "insured_frozen", "referred ACCOUNT_FLAG"),
    ("birth_registration", "parent_ok", f"approved with spouse {IDS['parent_spouse']} and child order 2; "
     "order 3: INFO_MISMATCH"),
    ("birth_registration", "parent_other_province",
     f"referred CROSS_PROVINCE (spouse {IDS['parent_other_spouse']}, order 1)"),
    ("ride_hailing_driver", "driver_ok", "approved"),
    ("ride_hailing_driver", "driver_drink", "referred DRIVING_RECORD"),
    ("ride_hailing_driver", "driver_new", "referred LICENCE_EXPERIENCE (licence from 2024)"),
    ("graduate_settlement", "graduate_ok", "approved (bachelor 2026, from Henan)"),
    ("graduate_settlement", "graduate_parttime", "referred NON_FULLTIME"),
    ("graduate_settlement", "graduate_local", "referred ALREADY_SETTLED"),
    ("investment_filing", f"company {COMPANY_OK}, project {PROJECT_OK}", "approved"),
    ("investment_filing", f"company {COMPANY_OK}, project {PROJECT_ENERGY}", "referred NEEDS_APPROVAL_NOT_FILING"),
    ("investment_filing", f"company {COMPANY_GONE}, any project", "referred ENTERPRISE_NOT_ACTIVE, CODE_MISMATCH"),
    ("sole_proprietor_registration", "insured_ok", f"approved with 字号 泉香居, scope 1001, address {ADDRESS_OK}"),
    ("sole_proprietor_registration", "字号 老李家 (taken here), or scope 2002 (餐饮, licence first)",
     "referred NAME_CONFLICT / PRE_LICENSE_SCOPE"),
    ("sole_proprietor_registration", "driver_drink", "referred OPERATOR_RESTRICTED (on a court list)"),
]


def demo_data() -> dict[str, list[dict[str, Any]]]:
    """The demo's load file (as ``queue-server data load`` reads it)."""
    persons = [{"id_number": IDS[k], "name": p[0], "hukou_region": p[4], "death_date": p[5]}
               for k, p in _PEOPLE.items()]
    i = IDS
    return {
        "persons": persons,
        "benefits": [
            {"id_number": i["elder_receiving"], "benefit": "elderly_allowance", "since": "2016-03-01"},
            {"id_number": i["elder_ok"], "benefit": "minimum_living", "since": "2021-01-01"},
        ],
        "social_insurance": [
            {"id_number": i["insured_ok"], "region": "370114", "kind": "pension", "from_month": "2012-07",
             "to_month": None, "status": "normal"},
            {"id_number": i["insured_ok"], "region": "370114", "kind": "medical", "from_month": "2012-07",
             "to_month": None, "status": "normal"},
            {"id_number": i["insured_elsewhere"], "region": "370102", "kind": "pension", "from_month": "2008-01",
             "to_month": None, "status": "normal"},
            {"id_number": i["insured_recent"], "region": "370114", "kind": "pension", "from_month": "2021-03",
             "to_month": None, "status": "normal"},
            {"id_number": i["insured_frozen"], "region": "370114", "kind": "pension", "from_month": "2010-05",
             "to_month": None, "status": "frozen"},
            {"id_number": i["parent_ok"], "region": "370114", "kind": "pension", "from_month": "2016-09",
             "to_month": None, "status": "normal"},
        ],
        "marriages": [
            {"id_number": i["parent_ok"], "spouse_id_number": i["parent_spouse"], "registered": "2019-05-20",
             "status": "married"},
            {"id_number": i["parent_spouse"], "spouse_id_number": i["parent_ok"], "registered": "2019-05-20",
             "status": "married"},
            {"id_number": i["parent_other_province"], "spouse_id_number": i["parent_other_spouse"],
             "registered": "2024-10-01", "status": "married"},
        ],
        "children": [{"id_number": i["parent_ok"], "birth_date": "2021-03-14"},
                     {"id_number": i["parent_spouse"], "birth_date": "2021-03-14"}],
        "birth_registrations": [{"id_number": i["parent_ok"], "child_order": 1, "registered": "2020-09-01"}],
        "residence_permits": [],
        "driving_licences": [
            {"id_number": i["driver_ok"], "licence_class": "C1", "first_issued": "2012-04-10", "status": "valid",
             "full_point_cycles": 0},
            {"id_number": i["driver_drink"], "licence_class": "C1", "first_issued": "2011-06-01", "status": "valid",
             "full_point_cycles": 0},
            {"id_number": i["driver_new"], "licence_class": "C1", "first_issued": "2024-06-01", "status": "valid",
             "full_point_cycles": 0},
        ],
        "police_records": [{"id_number": i["driver_drink"], "kind": "drink_driving", "date": "2020-08-16"}],
        "taxi_revocations": [],
        "exams": [{"id_number": i[k], "exam": "ride_hailing", "passed": "2026-09-01"}
                  for k in ("driver_ok", "driver_drink", "driver_new")],
        "education": [
            {"id_number": i["graduate_ok"], "level": "bachelor", "school": "山东大学", "fulltime": True,
             "domestic": True, "graduated": "2026-06-30"},
            {"id_number": i["graduate_parttime"], "level": "master", "school": "济南大学", "fulltime": False,
             "domestic": True, "graduated": "2026-06-30"},
            {"id_number": i["graduate_local"], "level": "bachelor", "school": "齐鲁工业大学", "fulltime": True,
             "domestic": True, "graduated": "2026-06-30"},
        ],
        "restrictions": [{"id_number": i["driver_drink"], "kind": "失信被执行人", "since": "2025-02-01"}],
        "companies": [
            {"uscc": COMPANY_OK, "name": "济南明水精工机械有限公司", "region": "370114", "status": "active"},
            {"uscc": COMPANY_GONE, "name": "济南龙山建材有限公司", "region": "370114", "status": "deregistered"},
        ],
        "projects": [
            {"code": PROJECT_OK, "uscc": COMPANY_OK, "name": "精密零部件扩产项目", "industry": "C3484",
             "sector": "机械制造"},
            {"code": PROJECT_ENERGY, "uscc": COMPANY_OK, "name": "厂房屋顶分布式光伏电站", "industry": "D4416",
             "sector": "能源"},
            {"code": PROJECT_RESTRICTED, "uscc": COMPANY_OK, "name": "水泥熟料生产线", "industry": "C3011",
             "sector": "建材"},
        ],
        "names": [{"trade_name": "老李家", "region": "370114"}, {"trade_name": "百脉泉", "region": "370114"},
                  {"trade_name": "泉香居", "region": "370102"}],
        "addresses": [
            {"address": ADDRESS_OK, "region": "370114", "zone": "商业区"},
            {"address": "济南市章丘区双山街道汇泉路1号", "region": "370114", "zone": "商业区"},
            {"address": ADDRESS_PROTECTED, "region": "370114", "zone": "水源保护区"},
        ],
    }


def load_demo(db: Any) -> dict[str, int]:
    """Load :func:`demo_data` into the hall's embedded source."""
    import json

    from queue_server.approvals.data import load_data

    return load_data(db, json.dumps(demo_data(), ensure_ascii=False))
