"""The TD1 zone (ICAO 9303 part 5) of the travel permits: builder, parser, finder."""

from __future__ import annotations

from datetime import date

import pytest

from app.documents.mrz import PERMIT_DOCUMENT_CODES, find_td1, parse_td1, td1_lines

TODAY = date(2026, 11, 23)
# ICAO 9303 part 5, appendix: the Utopia TD1 specimen.
SPECIMEN = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)


def test_builder_reproduces_the_icao_td1_specimen() -> None:
    lines = td1_lines(
        "I", "UTO", "D23145890", date(1974, 8, 12), "F", date(2012, 4, 15), "UTO",
        "ERIKSSON", "ANNA MARIA",
    )  # fmt: skip
    assert lines == SPECIMEN


def test_parser_reads_the_specimen() -> None:
    r = parse_td1(*SPECIMEN, date(2010, 1, 1))
    assert r.valid, r.problems
    assert (r.document_code, r.issuer, r.document_number) == ("I", "UTO", "D23145890")
    assert (r.birth_date, r.expiry, r.sex) == (date(1974, 8, 12), date(2012, 4, 15), "F")
    assert (r.surname, r.given_names) == ("ERIKSSON", "ANNA MARIA")


@pytest.mark.parametrize(
    ("line", "pos", "problem"),
    [
        (0, 14, "document number check digit"),
        (1, 6, "birth date check digit"),
        (1, 14, "expiry date check digit"),
        (1, 29, "composite check digit"),
    ],
)
def test_every_check_digit_is_verified(line: int, pos: int, problem: str) -> None:
    lines = list(SPECIMEN)
    text = lines[line]
    lines[line] = text[:pos] + str((int(text[pos]) + 1) % 10) + text[pos + 1 :]
    r = parse_td1(lines[0], lines[1], lines[2], date(2010, 1, 1))
    assert not r.valid
    assert problem in r.problems


def test_optional_data_enters_the_composite_digit() -> None:
    """A changed renewal count (line 1 optional data) breaks only the composite digit."""
    l1, l2, l3 = td1_lines(
        PERMIT_DOCUMENT_CODES["hk_macau_permit"], "CHN", "H12345678", date(1990, 1, 2), "M",
        date(2031, 3, 4), "CHN", "CHAN", "TAI MAN", optional1="01",
    )  # fmt: skip
    assert l1.startswith("CRCHNH12345678")
    assert parse_td1(l1, l2, l3, TODAY).optional == "01"
    tampered = l1.replace("01<", "02<", 1)
    assert parse_td1(tampered, l2, l3, TODAY).problems == ("composite check digit",)


def test_finder_repairs_ocr_and_skips_other_lines() -> None:
    l1, l2, l3 = td1_lines(
        "CT", "CHN", "12345678", date(1985, 6, 7), "F", date(2029, 1, 1), "CHN",
        "LIN", "MEI", optional1="03",
    )  # fmt: skip
    ocr = ["台湾居民来往大陆通行证", "12345678", l1[:-3], l2.replace("<<", "«", 1), l3]
    zone = find_td1(ocr)
    assert zone is not None
    r = parse_td1(zone[0], zone[1], zone[2], TODAY)
    assert r.valid, r.problems
    assert (r.document_code, r.document_number, r.optional) == ("CT", "12345678", "03")
    assert find_td1(["姓名 林美", "12345678"]) is None
