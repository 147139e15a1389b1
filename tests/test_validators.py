from __future__ import annotations

from datetime import date

import pytest

from app.documents import validators as v


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("11010519491231002X", True),  # the GB 11643 standard's own example
        ("440524198001010013", True),
        ("440524188001010014", False),  # born before 1900: not a living filer
        ("11010519491231002x", True),  # lower-case x normalised
        ("１１０１０５１９４９１２３１００２Ｘ", True),  # full-width (OCR output)
        ("110105194912310021", False),  # check digit
        ("990105194912310023", False),  # region
        ("110105194913310029", False),  # month 13
        ("11010519491231002", False),
    ],
)
def test_id_numbers(number: str, ok: bool) -> None:
    assert v.is_valid_id_number(number, today=date(2026, 1, 1)) is ok


def test_id_birth_and_sex() -> None:
    assert v.id_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert v.id_sex("11010519491231002X") == "F"
    assert v.id_sex("440524198001010013") == "M"


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("91350100M000100Y43", True),
        ("91110000600037341L", True),
        ("91350100M000100Y44", False),
        ("91350100M000100Y4", False),
        ("91350100M0001O0Y43", False),  # O is not in the alphabet
    ],
)
def test_uscc(code: str, ok: bool) -> None:
    assert v.is_valid_uscc(code) is ok


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("12800138000", None),
        ("1380013800", None),
    ],
)
def test_mobile(raw: str, norm: str | None) -> None:
    assert v.normalize_mobile(raw) == norm


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("Example.CN", "example.cn"),
        ("例子.中国", "xn--fsqu00a.xn--fiqs8s"),
        ("www.example.com.", "www.example.com"),
        ("http://example.cn", None),
        ("example", None),
        ("-bad.cn", None),
        ("1.2.3.4", None),
    ],
)
def test_domain(raw: str, norm: str | None) -> None:
    assert v.normalize_domain(raw) == norm


def test_masks() -> None:
    assert v.mask_id_number("441201199003074071") == "4412**********4071"
    assert v.mask_mobile("13800138000") == "138****8000"
    assert v.mask_name("欧阳娜娜") == "欧***"
