from datetime import date

import pytest

from app.documents import fields as F
from app.documents.ocr import OcrLine


def line(
    text: str, x: float, y: float, w: float = 100, h: float = 30, score: float = 0.99
) -> OcrLine:
    return OcrLine(text=text, score=score, box=(x, y, x + w, y + h))


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("星辰科技（广州）有限公司", "星辰科技(广州)有限公司", True),
        ("星辰科技（广州）有限公司", "星辰科技 ( 广州 ) 有限公司", True),
        ("星辰科技【广州】有限公司", "星辰科技(广州)有限公司", True),
        ("ＡＢＣ科技有限公司", "abc科技有限公司", True),
        ("星辰科技有限公司", "星辰科技有限责任公司", False),
        ("星辰科技（广州）有限公司", "星辰科技（深圳）有限公司", False),
        ("星辰科技有限公司", "星辰科技股份有限公司", False),
        ("", "", False),
    ],
)
def test_subject_name_normalisation(a: str, b: str, same: bool) -> None:
    assert F.same_subject_name(a, b) is same


def test_person_names() -> None:
    assert F.same_person_name("阿卜杜·热合曼", "阿卜杜•热合曼")
    assert F.same_person_name("张 三", "张三")
    assert not F.same_person_name("张三", "张叁")
    assert F.latin_name_key("ZHANG, SAN") == F.latin_name_key("zhang<<san") == "ZHANGSAN"


def test_dates_and_validity_parsing() -> None:
    assert F.parse_date("1990年1月5日") == date(1990, 1, 5)
    assert F.parse_date("１９９０ 年 11 月 13 日") == date(1990, 11, 13)
    assert F.parse_date("1990年13月5日") is None
    assert F.parse_validity("2020.01.01-2040.01.01") == (date(2020, 1, 1), date(2040, 1, 1))
    assert F.parse_validity("2020.01.01一长期") == (date(2020, 1, 1), "长期")
    assert F.parse_validity("nothing") == (None, None)


TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("start", "end", "birth", "ok"),
    [
        (date(2020, 1, 1), date(2040, 1, 1), None, True),
        (date(2020, 1, 1), date(2030, 1, 1), None, True),
        (date(2020, 1, 1), date(2027, 1, 1), None, False),  # 7 years: no such card
        (date(2020, 1, 1), "长期", date(1960, 1, 1), True),  # 60 at issue
        (date(2020, 1, 1), "长期", date(1990, 1, 1), False),  # 30 at issue: must be 20 years
        (date(2020, 1, 1), date(2040, 1, 1), date(1990, 6, 1), True),
        (date(2020, 1, 1), date(2030, 1, 1), date(1970, 6, 1), False),  # 49 at issue: long-term
        (date(2027, 1, 1), date(2047, 1, 1), None, False),  # starts in the future
        (date(2024, 2, 29), date(2034, 2, 28), None, True),
    ],
)
def test_validity_rules(start: date, end: date | str, birth: date | None, ok: bool) -> None:
    assert (F.validity_problem(start, end, TODAY, birth) is None) is ok


def test_id_front_extraction_from_lines() -> None:
    lines = [
        line("姓名", 60, 60),
        line("张三丰", 180, 58),
        line("性别", 60, 150),
        line("男", 180, 150, 40),
        line("民族汉", 330, 150),
        line("出生", 60, 240),
        line("1990年11月13日", 180, 240, 300),
        line("住址", 60, 330),
        line("广东省广州市天河区中山", 180, 330, 400),
        line("路1号", 180, 378, 100),
        line("公民身份号码", 60, 520, 200),
        line("44010619901113751X", 340, 520, 500, score=0.7),
    ]
    f = F.extract_id_front(lines)
    assert {k: v.value for k, v in f.items()} == {
        "name": "张三丰",
        "sex": "男",
        "ethnicity": "汉",
        "birth_date": "1990-11-13",
        "address": "广东省广州市天河区中山路1号",
        "id_number": "44010619901113751X",
    }
    assert f["id_number"].score == pytest.approx(0.7)


def test_licence_extraction_cuts_at_the_next_label() -> None:
    lines = [
        line("统一社会信用代码", 100, 100, 200),
        line("91440106MA5CXXXXOK", 100, 140, 300),
        line("名称", 100, 360, 60),
        line("星辰科技（广州）有限公司", 280, 360, 400),
        line("类型", 100, 440, 60),
        line("有限责任公司成立日期2025年02月06日", 280, 440, 700),
        line("法定代表人林桂", 100, 520, 220),
        line("住所", 790, 520, 60),
        line("广东省广州市天河区", 950, 520, 300),
        line("中山路1号", 950, 560, 200),
    ]
    f = F.extract_licence(lines)
    assert f["subject_name"].value == "星辰科技(广州)有限公司"
    assert f["legal_representative"].value == "林桂"
    assert f["established"].value == "2025-02-06"
    assert f["address"].value == "广东省广州市天河区中山路1号"
    # "O" and "K" are read, O is mapped back to 0 (the alphabet has no O)
    assert f["uscc"].value == "91440106MA5CXXXX0K"


def test_uscc_and_id_number_search() -> None:
    assert F.find_uscc([line("代码 91350100M000100Y43", 0, 0)]).value == "91350100M000100Y43"  # type: ignore[union-attr]
    assert F.find_uscc([line("no code", 0, 0)]) is None
    assert F.find_id_number([line("1101051990010112345", 0, 0)]) is None  # 19 digits
    assert F.find_id_number([line("号码 110105199001011234", 0, 0)]).value == "110105199001011234"  # type: ignore[union-attr]
