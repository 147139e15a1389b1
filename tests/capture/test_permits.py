"""The real OCR and checks on LABELLED-SYNTHETIC permits (testkit/documents/render.py): the
travel permits (港澳 / 台湾), the residence permits (both sides) and the permanent residence
card (2023 and 15-character numbers). A clean capture is accepted with every field read
exactly; a wrong person, another number, an expired card, a broken zone, the wrong side or
the resident ID instead of the permit are refused with their codes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.documents.analyzer import MESSAGES, DocumentVerdict
from app.documents.kinds import kind_for
from testkit.documents.cases import Case

Get = Callable[[str, str, int], tuple[Case, DocumentVerdict]]

CLEAN = [
    ("hk_macau_permit", "clean"),
    ("taiwan_permit", "clean"),
    ("hk_macau_residence", "clean"),
    ("hk_macau_residence_back", "clean"),
    ("taiwan_residence", "clean"),
    ("taiwan_residence_back", "clean"),
    ("foreign_permanent_residence", "clean"),
    ("foreign_permanent_residence", "old_number"),
    ("foreign_permanent_residence_back", "clean"),
]


@pytest.mark.parametrize(("family", "variant"), CLEAN)
def test_clean_permit_is_accepted_with_exact_fields(
    case_verdict: Get, family: str, variant: str
) -> None:
    case, v = case_verdict(family, variant, 0)
    assert v.accepted, [c.as_dict() for c in v.checks if not c.passed]
    assert case.truth
    assert {k: v.fields.get(k) for k in case.truth} == case.truth


@pytest.mark.parametrize(
    ("family", "codes"),
    [
        ("hk_macau_permit", {"MRZ_INVALID", "ID_NUMBER_INVALID", "ID_NUMBER_MISMATCH",
                             "NAME_MISMATCH", "DOCUMENT_EXPIRED", "VALIDITY_INVALID",
                             "PORTRAIT_TAMPERED", "OCCLUSION"}),
        ("hk_macau_residence", {"ID_NUMBER_INVALID", "ID_NUMBER_MISMATCH", "NAME_MISMATCH",
                                "BIRTH_SEX_INCONSISTENT", "PORTRAIT_TAMPERED"}),
        ("hk_macau_residence_back", {"VALIDITY_INVALID", "DOCUMENT_EXPIRED", "WRONG_SIDE"}),
        ("foreign_permanent_residence", {"ID_NUMBER_INVALID", "ID_NUMBER_MISMATCH",
                                         "NAME_MISMATCH", "DOCUMENT_EXPIRED",
                                         "BIRTH_SEX_INCONSISTENT", "WRONG_SIDE"}),
    ],
)  # fmt: skip
def test_each_permit_runs_its_checks_and_gives_a_portrait(
    case_verdict: Get, family: str, codes: set[str]
) -> None:
    _, v = case_verdict(family, "clean", 0)
    assert codes <= {c.code for c in v.checks}
    assert (v.portrait is not None) == (not family.endswith("_back"))


DEFECTS = [
    ("hk_macau_permit", "other_person", {"ID_NUMBER_MISMATCH", "NAME_MISMATCH"}),
    ("hk_macau_permit", "bad_mrz", {"MRZ_INVALID"}),
    ("taiwan_permit", "number_mismatch", {"ID_NUMBER_MISMATCH"}),
    ("taiwan_permit", "expired", {"DOCUMENT_EXPIRED"}),
    ("hk_macau_residence", "other_person", {"ID_NUMBER_MISMATCH", "NAME_MISMATCH"}),
    ("hk_macau_residence", "wrong_side", {"WRONG_SIDE"}),
    ("taiwan_residence", "resident_id", {"ID_NUMBER_INVALID"}),
    ("hk_macau_residence_back", "bad_validity", {"VALIDITY_INVALID"}),
    ("taiwan_residence_back", "expired", {"DOCUMENT_EXPIRED"}),
    ("taiwan_residence_back", "resident_id", {"WRONG_DOCUMENT_TYPE"}),
    ("foreign_permanent_residence", "number_mismatch", {"ID_NUMBER_MISMATCH"}),
    ("foreign_permanent_residence", "expired", {"DOCUMENT_EXPIRED"}),
    ("foreign_permanent_residence_back", "wrong_side", {"WRONG_SIDE"}),
]


@pytest.mark.parametrize(("family", "variant", "codes"), DEFECTS)
def test_permit_defect_is_refused_with_its_codes(
    case_verdict: Get, family: str, variant: str, codes: set[str]
) -> None:
    case, v = case_verdict(family, variant, 0)
    assert case.must_fail == codes
    assert set(v.failed()) == codes, [c.as_dict() for c in v.checks if not c.passed]
    for c in v.checks:
        if not c.passed:
            assert c.message_zh == MESSAGES[c.code][0]


@pytest.mark.parametrize(
    ("doc_type", "side", "kind"),
    [
        ("resident_id", "front", "id_front"),
        ("resident_id", "back", "id_back"),
        ("hk_macau_residence", "front", "hk_macau_residence"),
        ("taiwan_residence", "back", "taiwan_residence_back"),
        ("foreign_permanent_residence", "back", "foreign_permanent_residence_back"),
        ("hk_macau_permit", None, "hk_macau_permit"),
    ],
)
def test_order_document_type_and_side_pick_the_kind(
    doc_type: str, side: str | None, kind: str
) -> None:
    assert kind_for(doc_type, side) == kind
