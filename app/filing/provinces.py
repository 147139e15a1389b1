"""What each province's communications administration asks of the printed verification
sheet (核验单), as one data table: who signs, who seals, where a fingerprint goes, which
handwritten pledge an individual copies out, and where the domains are listed.

Source: the filing systems' published instructions as gathered in the seeds (DESIGN.md):
units seal everywhere; 江西 and 新疆 individuals sign and press a fingerprint; 广东
individuals copy a pledge by hand; 内蒙古/黑龙江/新疆/海南/四川/重庆 list every domain on the
sheet; 江西/甘肃/湖南 put every domain in the domain field; elsewhere a sealed or signed
domain list may be attached. Provinces change these rules: an operator checks the table
against the current notice of each province it files in (README, "Verification sheet").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypedDict


class DomainPlacement(StrEnum):
    SHEET = "sheet"  # every domain written on the sheet itself
    DOMAIN_FIELD = "domain_field"  # every domain in the sheet's domain field
    ATTACHMENT = "attachment"  # the sheet may name the first; a sealed/signed list attached


# The pledge an individual in 广东 copies out by hand under the printed text. The wording is
# the deployment's to confirm with the province (the filing system shows the current one).
GUANGDONG_PLEDGE = "本人承诺所提交的备案信息真实有效,本人已知晓并同意承担相应法律责任。"

# Short name, the full names it is written as, and the first two digits of its ID region code.
PROVINCES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("北京", ("北京市",), "11"),
    ("天津", ("天津市",), "12"),
    ("河北", ("河北省",), "13"),
    ("山西", ("山西省",), "14"),
    ("内蒙古", ("内蒙古自治区",), "15"),
    ("辽宁", ("辽宁省",), "21"),
    ("吉林", ("吉林省",), "22"),
    ("黑龙江", ("黑龙江省",), "23"),
    ("上海", ("上海市",), "31"),
    ("江苏", ("江苏省",), "32"),
    ("浙江", ("浙江省",), "33"),
    ("安徽", ("安徽省",), "34"),
    ("福建", ("福建省",), "35"),
    ("江西", ("江西省",), "36"),
    ("山东", ("山东省",), "37"),
    ("河南", ("河南省",), "41"),
    ("湖北", ("湖北省",), "42"),
    ("湖南", ("湖南省",), "43"),
    ("广东", ("广东省",), "44"),
    ("广西", ("广西壮族自治区",), "45"),
    ("海南", ("海南省",), "46"),
    ("重庆", ("重庆市",), "50"),
    ("四川", ("四川省",), "51"),
    ("贵州", ("贵州省",), "52"),
    ("云南", ("云南省",), "53"),
    ("西藏", ("西藏自治区",), "54"),
    ("陕西", ("陕西省",), "61"),
    ("甘肃", ("甘肃省",), "62"),
    ("青海", ("青海省",), "63"),
    ("宁夏", ("宁夏回族自治区",), "64"),
    ("新疆", ("新疆维吾尔自治区",), "65"),
)

FINGERPRINT_INDIVIDUALS = frozenset({"江西", "新疆"})
HANDWRITTEN_PLEDGE_INDIVIDUALS = {"广东": GUANGDONG_PLEDGE}
DOMAINS_ON_SHEET = frozenset({"内蒙古", "黑龙江", "新疆", "海南", "四川", "重庆"})
DOMAINS_IN_FIELD = frozenset({"江西", "甘肃", "湖南"})


@dataclass(frozen=True)
class SheetRules:
    province: str | None  # the short name, None when the order names none we know
    seal: bool  # the unit's official seal (公章)
    signature: bool  # the principal's handwritten signature
    fingerprint: bool  # the principal's fingerprint beside the signature
    pledge: str | None  # wording to copy out by hand, or None
    domains: DomainPlacement

    def as_dict(self) -> dict[str, object]:
        return {
            "province": self.province,
            "seal": self.seal,
            "signature": self.signature,
            "fingerprint": self.fingerprint,
            "handwritten_pledge": self.pledge,
            "domain_placement": self.domains.value,
        }


def province_of(text: str | None) -> str | None:
    """The short province name an order's free-text province means (None: not recognised)."""
    if not text:
        return None
    t = text.strip()
    for short, full, _code in PROVINCES:
        if t == short or t in full or t.startswith(short):
            return short
    return None


def rules_for(province: str | None, nature: str) -> SheetRules:
    """The sheet rules for an order: its province (free text) and its subject's nature."""
    short = province_of(province)
    individual = nature == "individual"
    if short in DOMAINS_ON_SHEET:
        domains = DomainPlacement.SHEET
    elif short in DOMAINS_IN_FIELD:
        domains = DomainPlacement.DOMAIN_FIELD
    else:
        domains = DomainPlacement.ATTACHMENT
    return SheetRules(
        province=short,
        seal=not individual,
        signature=True,  # the principal signs whatever the subject's nature
        fingerprint=individual and short in FINGERPRINT_INDIVIDUALS,
        pledge=HANDWRITTEN_PLEDGE_INDIVIDUALS.get(short or "") if individual else None,
        domains=domains,
    )


class SheetExpectation(TypedDict):
    domain_placement: str
    fingerprint: bool
    pledge_text: str | None
    signature: bool


def sheet_expectation(province: str | None, nature: str) -> SheetExpectation:
    """What the photographed sheet is checked for, by the province's rules: keyword
    arguments of app.analysis.pipeline.DocumentExpectation (the seal: its ``is_unit``)."""
    r = rules_for(province, nature)
    return {
        "domain_placement": r.domains.value,
        "fingerprint": r.fingerprint,
        "pledge_text": r.pledge,
        "signature": r.signature,
    }
