"""Number checks of the personal documents other than the resident ID (pure functions)."""

from __future__ import annotations

from datetime import date

import pytest

from app.documents.validators import (
    foreign_permanent_number_problem,
    hk_macau_permit_number_problem,
    person_number_problem,
    residence_permit_number_problem,
    taiwan_permit_number_problem,
)

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("number", "doc_type"),
    [
        ("810000199001010019", "hk_macau_residence"),
        ("820000198512120022", "hk_macau_residence"),
        ("830000197003030034", "taiwan_residence"),
        (" 8300 0019 7003 0300 34 ", "taiwan_residence"),  # spaces, as typed
    ],
)
def test_residence_permit_numbers_pass(number: str, doc_type: str) -> None:
    assert residence_permit_number_problem(number, doc_type, TODAY) is None
    assert person_number_problem(doc_type, number, TODAY) is None


@pytest.mark.parametrize(
    ("number", "doc_type", "reason"),
    [
        ("810000199001010015", "hk_macau_residence", "check digit mismatch"),  # MOD 11-2
        ("830000197003030034", "hk_macau_residence", "810000/820000"),  # Taiwan's on HK
        ("810000199001010019", "taiwan_residence", "830000"),
        ("11010519491231002X", "hk_macau_residence", "not a residence-permit number"),
        ("810000199013010011", "hk_macau_residence", "invalid birth date"),
    ],
)
def test_residence_permit_numbers_refused(number: str, doc_type: str, reason: str) -> None:
    problem = residence_permit_number_problem(number, doc_type, TODAY)
    assert problem is not None
    assert reason in problem


def test_foreign_permanent_numbers_both_formats() -> None:
    # 2023 card: 9, province 44, nationality 840, birth 1980-11-02, sequence 003, check 7
    assert foreign_permanent_number_problem("944840198011020037", TODAY) is None
    assert foreign_permanent_number_problem("944840198011020031", TODAY) == "check digit mismatch"
    assert "start" in (foreign_permanent_number_problem("144840198011020037", TODAY) or "")
    assert foreign_permanent_number_problem("904840198011020032", TODAY) == (
        "unknown province code of the accepting authority"
    )
    assert foreign_permanent_number_problem("944840198013020031", TODAY) == "invalid birth date"
    # 2004/2017 cards: three letters and twelve digits (shape only: no published check)
    assert foreign_permanent_number_problem("USA440801020012", TODAY) is None
    assert foreign_permanent_number_problem("US4440801020012", TODAY) is not None
    assert foreign_permanent_number_problem("USA44080102001", TODAY) is not None


def test_travel_permit_numbers() -> None:
    assert hk_macau_permit_number_problem("H12345678") is None
    assert hk_macau_permit_number_problem("M1234567801") is None  # before 2013: + renewals
    assert hk_macau_permit_number_problem("C12345678") is not None  # a mainlander's permit
    assert hk_macau_permit_number_problem("H1234567") is not None
    assert taiwan_permit_number_problem("12345678") is None
    assert taiwan_permit_number_problem("1234567801") is None
    assert taiwan_permit_number_problem("123456789") is not None
    assert taiwan_permit_number_problem("１２３４５６７８") is None  # full-width digits: NFKC
    assert taiwan_permit_number_problem("١٢٣٤٥٦٧٨") == "digits must be ASCII 0-9"


def test_person_number_problem_dispatches_by_type() -> None:
    assert person_number_problem("resident_id", "11010519491231002X", TODAY) is None
    assert person_number_problem("resident_id", "110105194912310021", TODAY) is not None
    assert person_number_problem("hk_macau_permit", "12345678", TODAY) is not None
    assert person_number_problem("taiwan_permit", "12345678", TODAY) is None
    assert person_number_problem("passport", "anything", TODAY) is None  # the MRZ checks it
