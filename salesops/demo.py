"""Demo company master data (A5): 47 reps in 5 teams, 213 hospitals in Zhejiang, products,
customers and contacts. Deterministic (seeded RNG) and idempotent (get_or_create on natural keys).

Other apps add history in their own `demo.py` with `seed(ctx: DemoContext)`; `seed_demo` calls them
in dependency order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from .models import (
    Contact,
    ContactTitle,
    Customer,
    Department,
    Hospital,
    HospitalGrade,
    Product,
    ProductLine,
    Rep,
    Role,
    Team,
)

User = get_user_model()
DEMO_PASSWORD = "salesops-demo"

# City, (lat, lon) of its centre (WGS-84), districts.
CITIES = [
    ("杭州", (30.2741, 120.1551), ["上城", "拱墅", "西湖", "滨江", "萧山", "余杭", "临平", "富阳"]),
    ("宁波", (29.8683, 121.5440), ["海曙", "江北", "鄞州", "镇海", "北仑", "奉化"]),
    ("温州", (27.9943, 120.6994), ["鹿城", "龙湾", "瓯海", "洞头", "乐清", "瑞安"]),
    ("绍兴", (30.0303, 120.5802), ["越城", "柯桥", "上虞", "诸暨"]),
    ("嘉兴", (30.7522, 120.7555), ["南湖", "秀洲", "海宁", "桐乡"]),
    ("湖州", (30.8930, 120.0868), ["吴兴", "南浔", "德清", "长兴"]),
    ("金华", (29.0790, 119.6474), ["婺城", "金东", "义乌", "东阳", "永康"]),
    ("台州", (28.6564, 121.4208), ["椒江", "黄岩", "路桥", "温岭", "临海"]),
    ("衢州", (28.9700, 118.8593), ["柯城", "衢江", "江山"]),
    ("丽水", (28.4676, 119.9229), ["莲都", "龙泉", "青田"]),
    ("舟山", (29.9853, 122.2072), ["定海", "普陀"]),
]
PROVINCIAL_3A = [
    "浙江大学医学院附属第一医院", "浙江大学医学院附属第二医院", "浙江大学医学院附属邵逸夫医院",
    "浙江省人民医院", "浙江省中医院", "浙江省立同德医院", "杭州市第一人民医院", "宁波大学附属第一医院",
    "温州医科大学附属第一医院", "温州医科大学附属第二医院",
]
CITY_3A = ["{c}市中心医院", "{c}市人民医院", "{c}市中医院", "{c}市第一人民医院"]
CITY_2A = ["{c}市第二人民医院", "{c}市第三人民医院", "{c}市妇幼保健院", "{c}市中西医结合医院", "{d}区人民医院", "{d}区中医院", "{d}区第二人民医院"]
PRIVATE = ["{c}{d}骨科医院", "{c}康复医院", "{c}{d}仁和医院", "{c}博爱医院", "{c}{d}同仁医院", "{c}明州医院"]
DEPARTMENTS = ["骨科", "关节外科", "脊柱外科", "创伤骨科", "运动医学科", "设备科"]
STREETS = ["解放路", "中山路", "人民路", "环城北路", "建设路", "学院路", "文化路", "新华路"]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "强", "洋", "勇", "军", "杰", "娟", "涛", "明", "超", "霞", "平", "刚", "辉", "鹏", "婷", "浩", "宇", "晨", "欣", "佳", "俊", "斌"]

PRODUCT_LINES = [
    ("joint", "关节类", [("AK-HIP-01", "人工髋关节假体（生物型）", "28600.00"), ("AK-HIP-02", "人工髋关节假体（骨水泥型）", "21800.00"), ("AK-KNEE-01", "人工膝关节假体", "32500.00"), ("AK-KNEE-02", "单髁膝关节假体", "26800.00")]),
    ("spine", "脊柱类", [("SP-PED-01", "椎弓根螺钉系统", "9800.00"), ("SP-CAGE-01", "椎间融合器", "7600.00"), ("SP-PLT-01", "颈椎前路钢板", "8900.00"), ("SP-KYP-01", "椎体成形系统", "12600.00")]),
    ("trauma", "创伤类", [("TR-NAIL-01", "股骨髓内钉", "6800.00"), ("TR-PLT-01", "锁定加压接骨板", "4200.00"), ("TR-SCR-01", "空心螺钉", "980.00"), ("TR-EXF-01", "外固定支架", "5600.00")]),
    ("sports", "运动医学类", [("SM-ANC-01", "带线锚钉", "3200.00"), ("SM-ACL-01", "前交叉韧带重建系统", "15800.00")]),
]
TEAMS = [("杭州一组", "杭州"), ("杭州二组", "杭州"), ("宁绍组", "宁波"), ("温台组", "温州"), ("浙中西组", "金华")]


@dataclass
class DemoContext:
    rng: random.Random
    stdout: object
    teams: list = field(default_factory=list)
    reps: list = field(default_factory=list)  # User objects with role rep
    supervisors: list = field(default_factory=list)
    director: object = None
    ops: object = None
    hospitals: list = field(default_factory=list)
    customers: list = field(default_factory=list)
    products: list = field(default_factory=list)
    logins: list = field(default_factory=list)

    def say(self, message: str) -> None:
        self.stdout.write(message)


def _person_name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(SURNAMES), "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


_password_hash: list[str] = []


def _user(username: str, last: str, first: str, **extra) -> User:
    if not _password_hash:  # hash once: 50 PBKDF2 rounds would dominate the seeding time
        _password_hash.append(make_password(DEMO_PASSWORD))
    user, _ = User.objects.get_or_create(
        # Chinese names read surname first; Django's get_full_name() is "first last", so the whole
        # name goes into first_name.
        username=username, defaults={"first_name": f"{last}{first}", "last_name": "", "password": _password_hash[0], **extra}
    )
    return user


def _hospital_names(seed: int) -> list[tuple[str, str, str, str]]:
    """(name, grade, city, district) — 213 unique, weighted to 三甲 and 二甲 as the company sells."""
    rng = random.Random(seed)
    names: dict[str, tuple[str, str, str, str]] = {}
    for name in PROVINCIAL_3A:
        city = next((c for c, _, _ in CITIES if c in name), "杭州" if "浙江" in name else "温州")
        names[name] = (name, HospitalGrade.GRADE_3A, city, CITIES[[c for c, _, _ in CITIES].index(city)][2][0])
    for city, _centre, districts in CITIES:
        for pattern in CITY_3A:
            name = pattern.format(c=city, d=districts[0])
            names.setdefault(name, (name, HospitalGrade.GRADE_3A, city, districts[0]))
        for district in districts:
            for pattern in CITY_2A:
                name = pattern.format(c=city, d=f"{city}市{district}")
                names.setdefault(name, (name, HospitalGrade.GRADE_2A, city, district))
            for pattern in PRIVATE[:3]:
                name = pattern.format(c=city, d=district)
                names.setdefault(name, (name, HospitalGrade.PRIVATE, city, district))
    ordered = sorted(names.values(), key=lambda row: (row[1] != HospitalGrade.GRADE_3A, rng.random()))
    return ordered[:213]


@transaction.atomic
def seed_master_data(ctx: DemoContext) -> None:
    """Every random draw comes from a generator keyed by the entity, so a second run draws the same
    values whatever the first one created — that is what makes seeding idempotent."""
    seed = ctx.rng.random()
    lines = {}
    for code, line_name, products in PRODUCT_LINES:
        line, _ = ProductLine.objects.get_or_create(code=code, defaults={"name": line_name})
        lines[code] = line
        for model_number, name, price in products:
            product, _ = Product.objects.get_or_create(
                model_number=model_number, defaults={"name": name, "line": line, "list_price": Decimal(price)}
            )
            ctx.products.append(product)

    director = _user("director", "戴", "总监")
    Rep.objects.get_or_create(user=director, defaults={"role": Role.DIRECTOR, "grades_served": []})
    ops = _user("ops", "欧", "运营", is_staff=True, is_superuser=True)
    Rep.objects.get_or_create(user=ops, defaults={"role": Role.OPS, "grades_served": []})
    ctx.director, ctx.ops = director, ops
    ctx.logins += [("总监", "director"), ("运营（后台 /admin/）", "ops")]

    line_codes = list(lines)
    rep_index = 0
    for team_index, (team_name, region) in enumerate(TEAMS, start=1):
        team, _ = Team.objects.get_or_create(name=team_name, defaults={"region": region})
        rng = random.Random(f"{seed}-team-{team_index}")
        last, first = _person_name(rng)
        supervisor = _user(f"sup{team_index}", last, first)
        Rep.objects.get_or_create(
            user=supervisor,
            defaults={"role": Role.SUPERVISOR, "team": team, "grades_served": list(HospitalGrade.values), "wecom_userid": f"sup{team_index}"},
        )
        if team.supervisor_id != supervisor.pk:
            team.supervisor = supervisor
            team.save()
        ctx.teams.append(team)
        ctx.supervisors.append(supervisor)
        ctx.logins.append((f"主管 · {team_name}", supervisor.username))
        members = 10 if team_index <= 2 else 9  # 10 + 10 + 9 + 9 + 9 = 47
        for _ in range(members):
            rep_index += 1
            rng = random.Random(f"{seed}-rep-{rep_index}")
            last, first = _person_name(rng)
            user = _user(f"rep{rep_index:02d}", last, first)
            grades = rng.choice([["3A"], ["3A", "2A"], ["2A", "private"], ["3A", "2A", "private"]])
            rep, created = Rep.objects.get_or_create(
                user=user,
                defaults={
                    "role": Role.REP,
                    "team": team,
                    "grades_served": grades,
                    "capacity": rng.choice([15, 20, 25]),
                    "on_duty": rng.random() > 0.06,
                    "wecom_userid": f"rep{rep_index:02d}",
                    "phone": f"139{rng.randrange(10**8):08d}",
                },
            )
            if created:
                rep.product_lines.set(rng.sample([lines[c] for c in line_codes], k=rng.choice((1, 2))))
            ctx.reps.append(user)
            if rep_index in (1, 2, 21):
                ctx.logins.append((f"销售 · {team_name}", user.username))

    centres = {city: (centre, districts) for city, centre, districts in CITIES}
    for name, grade, city, district in _hospital_names(int(seed * 10**6)):
        rng = random.Random(f"{seed}-{name}")
        (lat, lon), _districts = centres[city]
        hospital, _ = Hospital.objects.get_or_create(
            name=name,
            defaults={
                "grade": grade,
                "city": city,
                "address": f"浙江省{city}市{district}区{rng.choice(STREETS)}{rng.randrange(1, 400)}号",
                "latitude": Decimal(f"{lat + rng.uniform(-0.08, 0.08):.6f}"),
                "longitude": Decimal(f"{lon + rng.uniform(-0.08, 0.08):.6f}"),
            },
        )
        ctx.hospitals.append(hospital)

    team_of_city = {"杭州": [0, 1], "湖州": [0], "嘉兴": [1], "宁波": [2], "绍兴": [2], "舟山": [2], "温州": [3], "台州": [3], "丽水": [3], "金华": [4], "衢州": [4]}
    reps_by_team: dict[int, list] = {}
    for user in ctx.reps:
        reps_by_team.setdefault(user.rep.team_id, []).append(user)
    for hospital in ctx.hospitals:
        rng = random.Random(f"{seed}-customers-{hospital.name}")
        team = ctx.teams[rng.choice(team_of_city[hospital.city])]
        for dept_name in rng.sample(DEPARTMENTS[:5], k=2 if hospital.grade != HospitalGrade.PRIVATE else 1):
            department, _ = Department.objects.get_or_create(hospital=hospital, name=dept_name)
            customer, created = Customer.objects.get_or_create(
                hospital=hospital,
                name=f"{hospital.name} {dept_name}",
                defaults={"department": department, "owner": rng.choice(reps_by_team[team.pk]), "phone": f"0571{rng.randrange(10**7):07d}"},
            )
            if created:
                last, first = _person_name(rng)
                Contact.objects.create(customer=customer, name=f"{last}{first}", title=ContactTitle.DIRECTOR, phone=f"138{rng.randrange(10**8):08d}")
                if rng.random() < 0.35:
                    last, first = _person_name(rng)
                    Contact.objects.create(customer=customer, name=f"{last}{first}", title=rng.choice([ContactTitle.DEAN, ContactTitle.VICE_DEAN]), phone=f"137{rng.randrange(10**8):08d}")
            ctx.customers.append(customer)
    ctx.say(
        f"基础数据：{Team.objects.count()} 个团队，{Rep.objects.filter(role=Role.REP).count()} 名销售，"
        f"{Hospital.objects.count()} 家医院，{Customer.objects.count()} 个客户，{Product.objects.count()} 个产品"
    )
