"""The signed 承诺书 photo and SIGNATURE_MISSING with the real OCR, on labelled-synthetic pages
(tests/filing/render_extra.py): the title, the pledge text confirmed, a date not after
today, the signature right of 承诺人签字 / 负责人签字, a unit's seal. The signature is a drawn
squiggle: these cases show the checks and their wiring, not a recall on real handwriting.
The signature threshold was set on seeds 0-3 of these renders; the seeds here are others."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from app.documents.analyzer import DocKind, Expectation
from app.filing.pledge import terms_for
from app.filing.provinces import sheet_expectation
from tests.filing import render_extra as X

TODAY = date(2026, 11, 23)
UNIT = "深圳市示例科技有限公司"


def _failed(v: Any) -> set[str]:
    return {c.code for c in v.checks if not c.passed}


def _codes(v: Any) -> dict[str, Any]:
    return {c.code: c for c in v.checks}


def _expect(nature: str, province: str = "广东省") -> tuple[str, Expectation]:
    text = terms_for("new_filing", nature, province).text
    unit = nature != "individual"
    return text, Expectation(
        today=TODAY, subject_name=UNIT if unit else "张三", is_unit=unit, signature=True,
        pledge_wording=text.partition("\n")[2],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("nature", "kw", "fails"),
    [
        ("enterprise", {}, set()),
        ("individual", {}, set()),
        ("enterprise", {"sign": False}, {"SIGNATURE_MISSING"}),
        ("enterprise", {"seal": False}, {"PLEDGE_SEAL_MISSING"}),
        ("individual", {"dated": None}, {"PLEDGE_DATE_MISSING"}),
        ("individual", {"dated": "2027年01月05日"}, {"PLEDGE_DATE_MISSING"}),  # after today
        ("individual", {"half": True}, {"PLEDGE_WORDING_MISSING"}),
        ("individual", {"untitled": True}, {"PLEDGE_TITLE_MISSING"}),
    ],
)
def test_pledge_photo(
    document_analyzer: Any, nature: str, kw: dict[str, Any], fails: set[str]
) -> None:
    text, expect = _expect(nature)
    title, _, body = text.partition("\n")
    if kw.pop("half", False):  # only the first part of the pledge printed
        body = body[: len(body) // 3]
    if kw.pop("untitled", False):
        title = "声明"
    seal = kw.pop("seal", True)
    img = X.pledge_photo(
        f"{title}\n{body}", unit=UNIT if nature != "individual" and seal else None, seed=11, **kw
    )
    v = document_analyzer.analyze(img, DocKind.PLEDGE_PHOTO, expect)
    codes = _codes(v)
    want = {"PLEDGE_TITLE_MISSING", "PLEDGE_WORDING_MISSING", "PLEDGE_DATE_MISSING",
            "SIGNATURE_MISSING"} | ({"PLEDGE_SEAL_MISSING"} if nature != "individual" else set())  # fmt: skip
    assert want <= set(codes), v.checks
    assert _failed(v) == fails, v.checks
    if "SIGNATURE_MISSING" in fails:
        assert codes["SIGNATURE_MISSING"].detail == {"label_found": True}
    if not fails:
        assert v.fields["signed_on"] == "2026-11-20" and v.fields["signature_found"] == "true"


@pytest.mark.parametrize(
    ("seal", "nature", "signed"),
    [(True, "enterprise", True), (True, "enterprise", False), (False, "individual", False)],
)
def test_signature_on_the_photographed_sheet(
    document_analyzer: Any, seal: bool, nature: str, signed: bool
) -> None:
    """The province table asks every sheet for the signature (provinces.rules_for); the
    seal across the signing line (a unit's sheet) is not taken for handwriting."""
    rules = sheet_expectation("北京市", nature)
    assert rules["signature"] is True
    render = X.signed_sheet if signed else X.unsigned_sheet
    img = render(UNIT, ["example.cn"], seal=seal, seed=12)
    v = document_analyzer.analyze(
        img, DocKind.VERIFICATION_SHEET,
        Expectation(today=TODAY, subject_name=UNIT, domains=("example.cn",), is_unit=seal,
                    **rules),  # type: ignore[arg-type]
    )  # fmt: skip
    assert _failed(v) == (set() if signed else {"SIGNATURE_MISSING"}), v.checks
    assert v.fields["signature_found"] == ("true" if signed else "false")
