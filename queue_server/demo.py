"""The demo hall: a believable 政务服务中心 built from the seeds (DESIGN §1), shared by the
``seed-demo``/``demo`` commands and the tests.

``make_hall(db, seed=42)`` fills an empty hall with 9 categories, 38 real service items
(zh + en), 15 windows (综合窗口 that serve everything, specialised windows, a 绿色通道
window), demo users with known passwords and today's appointments, and returns what it
made (users' passwords, appointment codes and synthetic ID numbers, optional tokens).

Opening hours: the demo hall stores realistic hours (Mon–Fri 08:30–12:00, 13:00–17:30,
Saturday 09:00–12:00 延时服务) but sets ``enforce_opening_hours`` to false so that the
demo works at any time of day; ``queue-server settings set enforce_opening_hours true``
turns the refusal on.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from functools import lru_cache
from typing import Any

from sqlite_utils import Database

from hardware.idnumber import id_check_digit, mask_id_number, mask_name
from queue_server import clock as clk
from queue_server.auth import create_token, create_user, hash_password
from queue_server.db import write_tx
from queue_server.errors import Conflict
from queue_server.idkey import id_digest
from queue_server.settings import DEFAULT_OPENING_HOURS, get_setting, invalidate, set_setting

# (code, name, name_en, prefix)
CATEGORIES: list[tuple[str, str, str, str]] = [
    ("qiye", "企业开办", "Business start-up", "A"),
    ("shebao", "社保医保", "Social & medical insurance", "B"),
    ("budongchan", "不动产登记", "Real estate registration", "C"),
    ("gongjijin", "住房公积金", "Housing provident fund", "D"),
    ("huzheng", "户政出入境", "Household & exit-entry", "E"),
    ("shuiwu", "税务", "Taxation", "F"),
    ("gongcheng", "工程建设项目", "Construction projects", "G"),
    ("zonghe", "综合受理", "General acceptance", "H"),
    ("minzheng", "民政事务", "Civil affairs", "J"),
]

# (code, category, name, name_en, self_service, daily_limit_per_id, avg_minutes)
SERVICES: list[tuple[str, str, str, str, bool, int | None, float]] = [
    ("QY01", "qiye", "企业设立登记", "Company establishment registration", False, None, 20),
    ("QY02", "qiye", "个体工商户设立登记", "Sole proprietorship registration", True, None, 10),
    ("QY03", "qiye", "企业变更登记", "Company change registration", False, None, 15),
    ("QY04", "qiye", "企业注销登记", "Company deregistration", False, None, 15),
    ("QY05", "qiye", "食品经营许可", "Food business licence", False, None, 15),
    ("QY06", "qiye", "印章刻制备案", "Company seal filing", False, None, 5),
    ("SB01", "shebao", "个人参保缴费证明打印", "Social insurance payment certificate", True, None, 3),
    ("SB02", "shebao", "养老保险关系转移", "Pension insurance transfer", False, None, 12),
    ("SB03", "shebao", "失业保险金申领", "Unemployment benefit claim", False, None, 10),
    ("SB04", "shebao", "医保异地就医备案", "Out-of-town medical care registration", False, None, 6),
    ("SB05", "shebao", "灵活就业人员参保登记", "Flexible-employment insurance registration", False, None, 8),
    ("SB06", "shebao", "社会保障卡申领", "Social security card application", False, None, 6),
    ("BD01", "budongchan", "二手房转移登记", "Resale housing transfer registration", False, 2, 25),
    ("BD02", "budongchan", "不动产抵押登记", "Mortgage registration", False, 3, 15),
    ("BD03", "budongchan", "不动产登记资料查询", "Property record inquiry", True, None, 5),
    ("BD04", "budongchan", "新建商品房转移登记", "New housing transfer registration", False, 2, 20),
    ("GJ01", "gongjijin", "住房公积金提取", "Housing fund withdrawal", False, None, 8),
    ("GJ02", "gongjijin", "住房公积金贷款申请", "Housing fund loan application", False, None, 25),
    ("GJ03", "gongjijin", "公积金缴存登记", "Housing fund deposit registration", False, None, 8),
    ("HZ01", "huzheng", "户口迁移", "Household registration transfer", False, None, 12),
    ("HZ02", "huzheng", "居民身份证换领", "Resident ID card renewal", False, None, 6),
    ("HZ03", "huzheng", "出入境证件申请", "Exit-entry document application", False, 1, 10),
    ("HZ04", "huzheng", "居住证办理", "Residence permit", False, None, 8),
    ("SW01", "shuiwu", "发票领用", "Invoice collection", False, None, 6),
    ("SW02", "shuiwu", "税务登记信息确认", "Tax registration confirmation", False, None, 8),
    ("SW03", "shuiwu", "个人所得税汇算清缴", "Individual income tax annual reconciliation", False, None, 10),
    ("SW04", "shuiwu", "二手房交易税费申报", "Resale housing tax declaration", False, None, 15),
    ("GC01", "gongcheng", "建设工程规划许可证核发", "Construction planning permit", False, None, 30),
    ("GC02", "gongcheng", "建筑工程施工许可证核发", "Construction works permit", False, None, 30),
    ("GC03", "gongcheng", "竣工验收备案", "Completion acceptance filing", False, None, 20),
    ("GC04", "gongcheng", "企业投资项目备案", "Enterprise investment project filing", True, None, 15),
    ("ZH01", "zonghe", "综合咨询", "General enquiries", False, None, 5),
    ("ZH02", "zonghe", "电子证照打印", "E-licence printing", True, None, 3),
    ("ZH03", "zonghe", "网约车驾驶员证", "Ride-hailing driver licence", True, None, 10),
    ("ZH04", "zonghe", "应届毕业生接收", "Graduate admission registration", True, None, 10),
    ("MZ01", "minzheng", "高龄津贴申请", "Old-age allowance application", True, None, 8),
    ("MZ02", "minzheng", "生育登记", "Birth registration", True, None, 6),
    ("MZ03", "minzheng", "婚姻登记", "Marriage registration", False, None, 15),
]


def _codes(category: str) -> list[str]:
    return [s[0] for s in SERVICES if s[1] == category]


# (number, name, services in priority order, kind)
WINDOWS: list[tuple[int, str, list[str], str]] = [
    (1, "1号窗口 综合窗口", ["*"], "universal"),
    (2, "2号窗口 综合窗口", ["*"], "universal"),
    (3, "3号窗口 综合窗口", ["*"], "universal"),
    (4, "4号窗口 企业开办", _codes("qiye"), "normal"),
    (5, "5号窗口 企业开办·税务", _codes("qiye") + ["SW01", "SW02"], "normal"),
    (6, "6号窗口 社保医保", _codes("shebao"), "normal"),
    (7, "7号窗口 社保医保", list(reversed(_codes("shebao"))), "normal"),
    (8, "8号窗口 不动产登记", _codes("budongchan") + ["SW04"], "normal"),
    (9, "9号窗口 不动产登记", _codes("budongchan"), "normal"),
    (10, "10号窗口 住房公积金", _codes("gongjijin"), "normal"),
    (11, "11号窗口 户政出入境", _codes("huzheng"), "normal"),
    (12, "12号窗口 税务", _codes("shuiwu"), "normal"),
    (13, "13号窗口 工程建设项目", _codes("gongcheng"), "normal"),
    (14, "14号窗口 民政事务", _codes("minzheng") + ["ZH01"], "normal"),
    (15, "15号窗口 绿色通道", ["ZH01"], "green"),
]

# (username, name, staff_no, role, password)
USERS: list[tuple[str, str, str, str, str]] = [
    ("admin", "周建华", "0001", "admin", "admin123"),
    ("tech", "孙工", "0900", "technician", "tech1234"),
    ("clerk1", "王晓明", "0101", "clerk", "clerk123"),
    ("clerk2", "李娜", "0102", "clerk", "clerk123"),
    ("clerk3", "张建国", "0103", "clerk", "clerk123"),
    ("clerk4", "刘芳", "0104", "clerk", "clerk123"),
    ("clerk5", "陈静", "0105", "clerk", "clerk123"),
    ("clerk6", "赵磊", "0106", "clerk", "clerk123"),
]

_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
_AREAS = ("370181", "370102", "370112", "370302", "370902")  # 章丘 历下 历城 淄川 泰山


@lru_cache(maxsize=16)
def _demo_password_hash(password: str) -> str:
    """Demo passwords are public anyway: hash each once per process (scrypt is slow on purpose)."""
    return hash_password(password)


def synthetic_id_number(rng: random.Random, birth_year: int | None = None) -> str:
    """A well-formed (GB 11643 check digit) but invented ID number for demos and tests."""
    year = birth_year if birth_year is not None else rng.randint(1950, 2003)
    born = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
    first17 = f"{rng.choice(_AREAS)}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + id_check_digit(first17)


def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2)))


def make_hall(
    db: Database,
    *,
    seed: int = 42,
    windows: int | None = None,
    appointments: int = 12,
    open_windows: bool = True,
    tokens: bool = False,
    enforce_hours: bool = False,
    clock: clk.Clock | None = None,
    approvals_data: bool = True,
    licences: bool = False,
) -> dict[str, Any]:
    """Seed an empty hall database and return what was made.

    ``windows`` limits the number of windows (default all 15; the last one is always the
    green channel). ``open_windows`` opens them without a clerk so tests can call at
    once. ``tokens`` also creates one token per role. Appointment slots: half spread over
    the working day, half around the current time so check-in works whenever the demo
    runs. ``approvals_data`` loads the synthetic people and companies of 秒批
    (:mod:`queue_server.approvals.demo`) into the embedded data source. ``licences`` loads the demo e-licences (``queue_server/licences/demo_licences.json``:
    居民身份证电子信息, 驾驶证, 社会保障卡, 营业执照 … of the demo's card holders, see
    :data:`DEMO_CITIZENS`).
    """
    if db.conn.execute("SELECT COUNT(*) FROM categories").fetchone()[0]:
        raise Conflict("hall_not_empty")
    rng = random.Random(seed)
    now = clk.now(clock)
    with write_tx(db) as conn:
        for i, (code, name, name_en, prefix) in enumerate(CATEGORIES):
            conn.execute(
                "INSERT INTO categories (code, name, name_en, prefix, sort) VALUES (?, ?, ?, ?, ?)",
                (code, name, name_en, prefix, i),
            )
        prefixes = {c[0]: c[3] for c in CATEGORIES}
        for i, (code, cat, name, name_en, selfs, limit, avg) in enumerate(SERVICES):
            conn.execute(
                "INSERT INTO services (code, name, name_en, category, prefix, self_service, daily_limit_per_id, "
                "avg_minutes, sort) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (code, name, name_en, cat, prefixes[cat], int(selfs), limit, avg, i),
            )
        chosen = WINDOWS if windows is None else WINDOWS[: max(0, windows - 1)] + [WINDOWS[-1]]
        for number, name, services, kind in chosen:
            conn.execute(
                "INSERT INTO windows (number, name, services, status, kind) VALUES (?, ?, ?, ?, ?)",
                (number, name, json.dumps(services), "open" if open_windows else "closed", kind),
            )
    for key, value in (
        ("hall_name", "济南市章丘区政务服务中心"),
        ("hall_name_en", "Zhangqiu District Government Service Center"),
        ("opening_hours", DEFAULT_OPENING_HOURS),
        ("enforce_opening_hours", enforce_hours),
        ("notice", "周六上午 09:00-12:00 延时服务;高频事项可在自助终端“秒批”办理"),
    ):
        set_setting(db, key, value)
    users = {}
    for username, name, staff_no, role, password in USERS:
        users[username] = {
            "id": create_user(db, username, password, display_name=name, staff_no=staff_no, role=role,
                              password_hash=_demo_password_hash(password)),
            "password": password,
            "name": name,
            "role": role,
        }
    made_appointments = _make_appointments(db, rng, appointments, now)
    if approvals_data:
        from queue_server.approvals.demo import load_demo

        load_demo(db)
        set_setting(db, "approvals.region", "370114")
    invalidate(db)
    result: dict[str, Any] = {
        "categories": [c[0] for c in CATEGORIES],
        "services": [s[0] for s in SERVICES],
        "windows": [w[0] for w in chosen],
        "users": users,
        "appointments": made_appointments,
    }
    if approvals_data:
        from queue_server.approvals.demo import IDS, NAMES, SHOWCASE

        result["approvals"] = {"ids": IDS, "names": NAMES, "showcase": SHOWCASE}
    if tokens:
        result["tokens"] = {
            role: create_token(db, role, f"demo-{role}")
            for role in ("kiosk", "display", "clerk", "admin", "technician", "verifier", "booking")
        }
    if licences:
        from queue_server.licences.register import load

        result["licences"] = load(db, demo_licences(), actor="system")
    return result


#: The demo's card holders who hold e-licences: the identity demo card (whose photo matches
#: the demo camera clip), the swipe step's demo senior card, the simulated reader's default card.
DEMO_CITIZENS = {
    "110101198001160019": "林曼努",
    "370181195003121239": "王秀兰",
    "370102198001011237": "张三",
}


def demo_licences() -> dict[str, Any]:
    """The demo e-licence file (``{"licences": [...]}``)."""
    from pathlib import Path

    path = Path(__file__).resolve().parent / "licences" / "demo_licences.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _make_appointments(db: Database, rng: random.Random, count: int, now: float) -> list[dict[str, Any]]:
    tz = str(get_setting(db, "timezone"))
    day = clk.business_day(now, tz)
    local_now = clk.local(now, tz)
    minute_now = local_now.hour * 60 + local_now.minute
    bookable = [s for s in SERVICES if not s[4]]
    fixed = [8 * 60 + 30 + 30 * i for i in range(16)]  # 08:30 .. 16:00
    # Around now: the first two started at most 9 minutes ago, so they are on time (the late
    # rule allows appointment_late_minutes, 15) whenever the demo or a test runs.
    around = [max(0, min(23 * 60, (minute_now // 10) * 10 + 30 * k)) for k in (0, 0, 1, 1, 2, 3)]
    starts = (around + fixed)[:count]
    out = []
    with write_tx(db) as conn:
        for i, start in enumerate(starts):
            svc = bookable[rng.randrange(len(bookable))]
            id_number = synthetic_id_number(rng)
            name = _name(rng)
            code = f"YY{rng.randrange(10**6):06d}"
            slot_start = f"{start // 60:02d}:{start % 60:02d}"
            end = start + 30
            slot_end = f"{min(end // 60, 23):02d}:{end % 60 if end < 24 * 60 else 59:02d}"
            conn.execute(
                "INSERT INTO appointments (code, service_code, day, slot_start, slot_end, name_masked, id_hash, "
                "id_masked, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (code, svc[0], day, slot_start, slot_end, mask_name(name), id_digest(db, id_number),
                 mask_id_number(id_number), time.time()),
            )
            out.append({"code": code, "service": svc[0], "day": day, "slot_start": slot_start,
                        "slot_end": slot_end, "id_number": id_number, "name": name, "index": i})
    return out
