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


# --- the other personal documents (LABELLED-SYNTHETIC holders) ------------------------------

# (ISO 3166-1 alpha-3, numeric, Chinese name) of a few nationalities on foreigners' cards.
NATIONALITIES = [
    ("USA", "840", "美国"),
    ("GBR", "826", "英国"),
    ("DEU", "276", "德国"),
    ("FRA", "250", "法国"),
    ("CAN", "124", "加拿大"),
    ("AUS", "036", "澳大利亚"),
    ("JPN", "392", "日本"),
    ("SGP", "702", "新加坡"),
]
LATIN_SURNAMES = ["SMITH", "MILLER", "MUELLER", "MARTIN", "BROWN", "TANAKA", "WILSON", "LEE"]
LATIN_GIVEN = ["JOHN", "ANNA", "PETER", "MARIE", "DAVID", "EMMA", "LUCAS", "SOPHIE", "KENJI"]
# Years a card of that type is valid for an adult (under 18: 5 for the travel permits and the
# permanent residence card): 港澳通行证 10, 台湾通行证 5, residence permits 5, 永居证 10.
PERMIT_YEARS = {
    "hk_macau_permit": 10,
    "taiwan_permit": 5,
    "hk_macau_residence": 5,
    "taiwan_residence": 5,
    "foreign_permanent_residence": 10,
}
PERMIT_ISSUER = "国家移民管理局"


@dataclass(frozen=True)
class Holder:
    """A LABELLED-SYNTHETIC holder of a permit, residence permit or permanent residence card."""

    doc_type: str
    person: Person  # name, pinyin, sex, birth (the address and issuer for residence permits)
    number: str  # the document's own number
    valid_from: date
    valid_to: date
    count: str  # 换证次数 / 签发次数 (two digits)
    travel_permit: str = ""  # the residence permit's 通行证号码 (back side)
    latin_surname: str = ""
    latin_given: str = ""
    nationality: tuple[str, str, str] = ("CHN", "156", "中国")

    @property
    def latin_name(self) -> str:
        return f"{self.latin_surname} {self.latin_given}".strip()

    @property
    def order_name(self) -> str:
        """The name a filing order gives: the Latin name for a foreigner."""
        if self.doc_type == "foreign_permanent_residence":
            return self.latin_name
        return self.person.name


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def make_holder(
    rng: random.Random,
    today: date,
    doc_type: str,
    *,
    expired: bool = False,
    old_number: bool = False,
) -> Holder:
    """A holder of ``doc_type``; ``expired``: the card ran out before ``today``;
    ``old_number``: the 15-character number of the 2004/2017 permanent residence card."""
    p = make_person(rng, today)
    male = p.sex == "男"
    years = PERMIT_YEARS[doc_type]
    if expired:
        start = today - timedelta(days=365 * years + rng.randrange(30, 700))
    else:
        start = today - timedelta(days=rng.randrange(60, 365 * min(years, 4)))
    start = max(start, p.birth.replace(year=p.birth.year + 18))
    if start > today:
        start = today - timedelta(days=60)
    end = (
        start.replace(year=start.year + years)
        if (start.month, start.day) != (2, 29)
        else (start.replace(year=start.year + years, day=28))
    )
    count = f"{rng.randrange(0, 4):02d}"
    latin_s, latin_g = p.pinyin_surname, p.pinyin_given
    nationality = ("CHN", "156", "中国")
    travel = ""
    if doc_type == "hk_macau_permit":
        number = rng.choice("HM") + _digits(rng, 8)
    elif doc_type == "taiwan_permit":
        number = _digits(rng, 8)
    elif doc_type in ("hk_macau_residence", "taiwan_residence"):
        if doc_type == "taiwan_residence":
            region, travel = "830000", _digits(rng, 8)
        else:
            letter = rng.choice("HM")
            region, travel = ("810000" if letter == "H" else "820000"), letter + _digits(rng, 8)
        number = make_id_number(region, p.birth, male, rng)
    elif doc_type == "foreign_permanent_residence":
        nationality = rng.choice(NATIONALITIES)
        latin_s, latin_g = rng.choice(LATIN_SURNAMES), rng.choice(LATIN_GIVEN)
        province = rng.choice(REGIONS)[0][:2]
        if old_number:
            number = f"{nationality[0]}{province}{p.birth:%y%m%d}{_digits(rng, 4)}"
        else:
            seq = rng.randrange(0, 100) * 10 + rng.choice([1, 3, 5, 7, 9] if male else [0, 2, 4])
            first17 = f"9{province}{nationality[1]}{p.birth:%Y%m%d}{seq:03d}"
            number = first17 + id_check_char(first17)
    else:
        raise ValueError(doc_type)
    return Holder(
        doc_type=doc_type,
        person=p,
        number=number,
        valid_from=start,
        valid_to=end,
        count=count,
        travel_permit=travel,
        latin_surname=latin_s,
        latin_given=latin_g,
        nationality=nationality,
    )
