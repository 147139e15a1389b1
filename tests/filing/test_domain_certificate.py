"""The 域名证书 and 法人授权书 kinds on labelled-synthetic photos with the real OCR: the fields
read, and the cross-checks with the order (the domain one of the website's, the holder the
subject, not expired; the letter naming the unit and the person, sealed)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from app.documents.analyzer import DocKind, Expectation
from app.documents.fields import extract_domain_certificate
from app.documents.ocr import OcrLine
from tests.filing.render_extra import authorisation_letter, domain_certificate

TODAY = date(2026, 11, 23)
UNIT = "深圳市示例科技有限公司"
EXPECT = Expectation(today=TODAY, subject_name=UNIT, domains=("example.cn", "www.example.cn"),
                     is_unit=True)  # fmt: skip


def _codes(verdict: Any) -> dict[str, bool]:
    return {c.code: c.passed for c in verdict.checks}


def test_fields_from_lines() -> None:
    def ln(text: str, y: float) -> OcrLine:
        return OcrLine(text, 0.99, (100.0, y, 600.0, y + 30))

    got = extract_domain_certificate(
        [
            ln("域名注册证书", 0),
            ln("域名持有者:某某有限公司", 40),
            ln("域名:Example.CN", 80),
            ln("到期时间:2030年5月1日", 120),
        ]
    )
    assert {k: v.value for k, v in got.items()} == {
        "domain": "example.cn", "domains": "example.cn", "holder": "某某有限公司",
        "valid_to": "2030-05-01",
    }  # fmt: skip
    several = extract_domain_certificate(
        [ln("域名注册证书", 0), ln("域名:example.cn、Example.COM", 40), ln("域名:example.net", 80)]
    )
    assert several["domain"].value == "example.cn"
    assert several["domains"].value == "example.cn,example.com,example.net"


@pytest.mark.parametrize(
    ("domain", "holder", "expires", "fails", "mismatch"),
    [
        ("example.cn", UNIT, "2030年05月01日", set(), None),
        ("other-site.cn", UNIT, "2030年05月01日", {"DOMAIN_CERT_MISMATCH"}, ["domain"]),
        ("example.cn", "深圳市别家科技有限公司", "2030年05月01日", {"DOMAIN_CERT_MISMATCH"},
         ["holder"]),
        ("example.cn", UNIT, "2025年01月01日", {"DOMAIN_CERT_EXPIRED"}, None),
    ],
)  # fmt: skip
def test_domain_certificate(
    document_analyzer: Any, domain: str, holder: str, expires: str, fails: set[str],
    mismatch: list[str] | None,
) -> None:  # fmt: skip
    v = document_analyzer.analyze(
        domain_certificate(domain, holder, expires, seed=len(domain)), DocKind.DOMAIN_CERTIFICATE,
        EXPECT,
    )  # fmt: skip
    codes = _codes(v)
    assert v.fields.get("domain") == domain, v.fields
    assert v.fields.get("holder") == holder
    assert "DOMAIN_CERT_MISMATCH" in codes and "DOMAIN_CERT_EXPIRED" in codes
    assert {c for c, ok in codes.items() if not ok} == fails, v.checks
    if mismatch:
        detail = next(c.detail for c in v.checks if c.code == "DOMAIN_CERT_MISMATCH")
        assert detail == {"mismatch": mismatch}


@pytest.mark.parametrize(
    ("person", "seal", "fails"),
    [("李四", True, set()), ("王五", True, {"NAME_MISMATCH"}),
     ("李四", False, {"LETTER_SEAL_MISSING"})],
)  # fmt: skip
def test_authorisation_letter(
    document_analyzer: Any, person: str, seal: bool, fails: set[str]
) -> None:
    v = document_analyzer.analyze(
        authorisation_letter(UNIT, person, seal=seal, seed=3), DocKind.AUTHORISATION_LETTER,
        Expectation(today=TODAY, subject_name=UNIT, person_name="李四", is_unit=True),
    )  # fmt: skip
    codes = _codes(v)
    assert {"SUBJECT_NAME_MISMATCH", "NAME_MISMATCH", "LETTER_SEAL_MISSING"} <= set(codes)
    assert {c for c, ok in codes.items() if not ok} == fails, v.checks
