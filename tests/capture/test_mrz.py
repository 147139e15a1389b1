from datetime import date

import pytest

from app.documents.mrz import (
    check_digit,
    clean_mrz_text,
    find_td3,
    parse_td3,
    td3_lines,
    verify_td1_like,
)

# ICAO 9303 part 4, appendix A: the Utopia specimen.
L1 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
L2 = "L898902C36UTO7408122F1204159ZE184226B<<<<<10"


@pytest.mark.parametrize(
    ("field", "digit"),
    [
        ("L898902C3", "6"),
        ("740812", "2"),
        ("120415", "9"),
        ("ZE184226B<<<<<", "1"),
        ("D23145890", "7"),
    ],
)
def test_check_digits_match_icao_examples(field: str, digit: str) -> None:
    assert check_digit(field) == digit


def test_td3_builder_reproduces_the_icao_specimen() -> None:
    l1, l2 = td3_lines(
        "UTO",
        "ERIKSSON",
        "ANNA MARIA",
        "L898902C3",
        "UTO",
        date(1974, 8, 12),
        "F",
        date(2012, 4, 15),
        "ZE184226B",
    )
    assert (l1, l2) == (L1, L2)


def test_specimen_parses_valid() -> None:
    r = parse_td3(L1, L2, date(2010, 1, 1))
    assert r.valid, r.problems
    assert (r.document_number, r.surname, r.given_names) == ("L898902C3", "ERIKSSON", "ANNA MARIA")
    assert r.birth_date == date(1974, 8, 12)
    assert r.expiry == date(2012, 4, 15)
    assert r.sex == "F"


@pytest.mark.parametrize(
    ("pos", "problem"),
    [
        (9, "document number check digit"),
        (19, "birth date check digit"),
        (27, "expiry date check digit"),
        (43, "composite check digit"),
    ],
)
def test_each_wrong_check_digit_is_caught(pos: int, problem: str) -> None:
    bad = L2[:pos] + str((int(L2[pos]) + 1) % 10) + L2[pos + 1 :]
    r = parse_td3(L1, bad, date(2010, 1, 1))
    assert not r.valid
    assert problem in r.problems


def test_changed_data_with_old_digits_fails() -> None:
    bad = L2.replace("740812", "740813")
    assert not parse_td3(L1, bad, date(2010, 1, 1)).valid


def test_filler_runs_miscounted_by_ocr_are_repaired_but_still_verified() -> None:
    short = L2.replace("<<<<<", "<<<")
    assert parse_td3(L1[:-4], short, date(2010, 1, 1)).valid
    assert clean_mrz_text("P«UTO ERIKSSON") == "P<<UTOERIKSSON"


def test_find_td3_picks_the_two_lines() -> None:
    assert find_td3(["PASSPORT", "姓名", L1, L2]) == (L1, L2)
    assert find_td3(["no mrz here"]) is None


def test_td1_zone() -> None:
    num = "H12345678"
    l1 = ("CS" + "CHN" + num + check_digit(num)).ljust(30, "<")
    l2 = ("900101" + check_digit("900101") + "M" + "300101" + check_digit("300101")).ljust(30, "<")
    assert verify_td1_like([l1, l2, "ZHANG<<SAN".ljust(30, "<")]) == (True, [])
    broken = l1[:14] + str((int(l1[14]) + 1) % 10) + l1[15:]
    assert verify_td1_like([broken, l2])[0] is False
    assert verify_td1_like(["short"]) is None
