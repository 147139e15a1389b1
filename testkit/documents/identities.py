"""Random but well-formed identities for LABELLED-SYNTHETIC documents (no real person)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from app.documents.validators import id_check_char, uscc_check_char

SURNAMES = [
    "张",
    "王",
    "李",
    "赵",
    "刘",
    "陈",
    "杨",
    "黄",
    "周",
    "吴",
    "徐",
    "孙",
    "马",
    "朱",
    "胡",
    "郭",
    "何",
    "林",
    "罗",
    "高",
    "郑",
    "梁",
    "谢",
    "宋",
    "唐",
    "欧阳",
    "司马",
]
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志宏海波鹏飞雪梅琳晨宇浩然子涵欣怡"
)
PINYIN = {
    "张": "ZHANG",
    "王": "WANG",
    "李": "LI",
    "赵": "ZHAO",
    "刘": "LIU",
    "陈": "CHEN",
    "杨": "YANG",
    "黄": "HUANG",
    "周": "ZHOU",
    "吴": "WU",
    "徐": "XU",
    "孙": "SUN",
    "马": "MA",
    "朱": "ZHU",
    "胡": "HU",
    "郭": "GUO",
    "何": "HE",
    "林": "LIN",
    "罗": "LUO",
    "高": "GAO",
    "郑": "ZHENG",
    "梁": "LIANG",
    "谢": "XIE",
    "宋": "SONG",
    "唐": "TANG",
    "欧阳": "OUYANG",
    "司马": "SIMA",
}
ETHNICITIES = ["汉", "汉", "汉", "汉", "回", "满", "壮", "蒙古", "藏", "苗"]
REGIONS = [  # (code, province, city, district)
    ("440106", "广东省", "广州市", "天河区"),
    ("110105", "北京市", "", "朝阳区"),
    ("310115", "上海市", "", "浦东新区"),
    ("330106", "浙江省", "杭州市", "西湖区"),
    ("510107", "四川省", "成都市", "武侯区"),
    ("420106", "湖北省", "武汉市", "武昌区"),
    ("320102", "江苏省", "南京市", "玄武区"),
    ("610113", "陕西省", "西安市", "雁塔区"),
]
STREETS = ["中山路", "人民路", "解放大道", "建设路", "和平街", "科技园路", "滨江大道", "文化路"]
BIZ_WORDS = ["星辰", "云帆", "智联", "远航", "博创", "华信", "锦程", "海纳", "新源", "恒通"]
BIZ_KINDS = ["网络科技", "信息技术", "电子商务", "文化传媒", "软件开发", "数据服务"]


@dataclass(frozen=True)
class Person:
    name: str
    pinyin_surname: str
    pinyin_given: str
    sex: str  # "男" / "女"
    ethnicity: str
    birth: date
    address: str
    id_number: str
    issuer: str
    valid_from: date
    valid_to: date | None  # None = 长期


@dataclass(frozen=True)
class Company:
    name: str
    uscc: str
    legal_rep: str
    address: str
    established: date


def _pinyin_given(rng: random.Random, n: int) -> str:
    syll = [
        "WEI",
        "FANG",
        "NA",
        "XIU",
        "YING",
        "MIN",
        "JING",
        "LI",
        "QIANG",
        "LEI",
        "JUN",
        "YANG",
        "YONG",
        "YAN",
        "JIE",
        "JUAN",
        "TAO",
        "MING",
        "CHAO",
        "HAI",
        "BO",
        "PENG",
    ]
    return "".join(rng.choice(syll) for _ in range(n))


def make_id_number(region: str, birth: date, male: bool, rng: random.Random) -> str:
    seq = rng.randrange(0, 100) * 10 + (
        rng.choice([1, 3, 5, 7, 9]) if male else rng.choice([0, 2, 4, 6, 8])
    )
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def _validity(birth: date, issued: date) -> date | None:
    """GB 11643 card rules: <16 y: 5 years, 16-25: 10, 26-45: 20, >45: long-term."""
    age = (issued - birth).days // 365
    if age < 16:
        years = 5
    elif age <= 25:
        years = 10
    elif age <= 45:
        years = 20
    else:
        return None
    try:
        return issued.replace(year=issued.year + years)
    except ValueError:  # 29 Feb
        return issued.replace(year=issued.year + years, day=28)


def make_person(rng: random.Random, today: date, *, expired: bool = False) -> Person:
    surname = rng.choice(SURNAMES)
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))
    male = rng.random() < 0.5
    region, prov, city, district = rng.choice(REGIONS)
    birth = date(rng.randrange(1960, 2004), rng.randrange(1, 13), rng.randrange(1, 29))
    if expired:
        # issued at 17 (10-year card) long enough ago that it ran out before today
        birth = date(min(1995, today.year - 30) - rng.randrange(0, 12), birth.month, birth.day)
        issued = birth.replace(year=birth.year + 17)
        valid_to = _validity(birth, issued)
    else:
        years_back = rng.randrange(0, 8)
        issued = date(today.year - years_back, rng.randrange(1, 13), rng.randrange(1, 29))
        issued = max(issued, birth.replace(year=birth.year + 16))
        if issued > today:
            issued = today - timedelta(days=30)
        valid_to = _validity(birth, issued)
        if valid_to is not None and valid_to <= today:
            issued = today - timedelta(days=200)
            valid_to = _validity(birth, issued)
    address = f"{prov}{city}{district}{rng.choice(STREETS)}{rng.randrange(1, 300)}号"
    if rng.random() < 0.5:
        address += f"{rng.randrange(1, 30)}栋{rng.randrange(101, 2800)}房"
    issuer = f"{city or prov}公安局{district}分局"
    return Person(
        name=surname + given,
        pinyin_surname=PINYIN[surname],
        pinyin_given=_pinyin_given(rng, len(given)),
        sex="男" if male else "女",
        ethnicity=rng.choice(ETHNICITIES),
        birth=birth,
        address=address,
        id_number=make_id_number(region, birth, male, rng),
        issuer=issuer,
        valid_from=issued,
        valid_to=valid_to,
    )


_ORG_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_uscc(region: str, rng: random.Random) -> str:
    # GB 11714 organisation code (8 chars + check) inside the GB 32100 code.
    body = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(
        (int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, weights, strict=True)
    )
    cd = 11 - total % 11
    org = body + ("X" if cd == 10 else "0" if cd == 11 else str(cd))
    first17 = "91" + region + org
    return first17 + uscc_check_char(first17)


def make_company(rng: random.Random, today: date) -> Company:
    region, prov, city, district = rng.choice(REGIONS)
    place = (city or prov).rstrip("市省")
    word, kind = rng.choice(BIZ_WORDS), rng.choice(BIZ_KINDS)
    if rng.random() < 0.3:
        name = f"{word}{kind}（{place}）有限公司"
    else:
        name = f"{place}{word}{kind}有限公司"
    rep = make_person(rng, today).name
    est = date(rng.randrange(2005, today.year), rng.randrange(1, 13), rng.randrange(1, 29))
    street = f"{rng.choice(STREETS)}{rng.randrange(1, 300)}号"
    addr = f"{prov}{city}{district}{street}{rng.randrange(2, 30)}楼"
    return Company(
        name=name, uscc=make_uscc(region, rng), legal_rep=rep, address=addr, established=est
    )
