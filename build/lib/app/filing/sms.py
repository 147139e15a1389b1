"""Who must finish the MIIT SMS check (短信核验) after submission: one data table.

Source: the authority's rules for the SMS check of the ICP filing system (工信部信管函
[2016]485号 and the pilot FAQ the provincial bureaus published): 新增备案 → 主体负责人和网站
负责人; 新增网站 → 网站负责人; 新增接入 → 网站负责人; 备案变更 → the principal the change
concerns; and "同人" (the same mobile number) receives one SMS and verifies once. Cancellations
and algorithm filings (a different system) have no SMS check.

Decision: 新增网站 asks only the website principals, as the authority's table says; the
subject principal already verified when the subject was first filed.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.orders.schemas import BusinessType

DEADLINE_HOURS = 24
APPROACHING_HOURS = 20

SUBJECT = "subject_principal"
WEBSITE = "website_principal"


@dataclass(frozen=True, slots=True)
class SmsRule:
    subject_principal: bool
    website_principals: bool
    zh: str


# The one table: business type → who must finish the SMS check.
SMS_RULES: dict[BusinessType, SmsRule] = {
    BusinessType.new_filing: SmsRule(True, True, "新增备案:主体负责人和网站负责人"),
    BusinessType.new_website: SmsRule(False, True, "新增网站:网站负责人"),
    BusinessType.new_access: SmsRule(False, True, "新增接入:网站负责人"),
    BusinessType.change_subject: SmsRule(True, False, "变更主体:主体负责人"),
    BusinessType.change_website: SmsRule(False, True, "变更网站:网站负责人"),
    BusinessType.change_access: SmsRule(False, True, "变更接入:网站负责人"),
    BusinessType.cancel_subject: SmsRule(False, False, "注销主体:无需短信核验"),
    BusinessType.cancel_website: SmsRule(False, False, "注销网站:无需短信核验"),
    BusinessType.cancel_access: SmsRule(False, False, "取消接入:无需短信核验"),
    BusinessType.algorithm_filing: SmsRule(False, False, "算法备案:无需短信核验"),
}


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    mobile: str


@dataclass(frozen=True, slots=True)
class Required:
    person_id: str
    roles: tuple[str, ...]


def required_people(
    business_type: str, subject_principal: Person, website_principals: list[Person]
) -> list[Required]:
    """The people who must finish the SMS check, one per mobile number (同人 verifies once)."""
    rule = SMS_RULES[BusinessType(business_type)]
    wanted: list[tuple[Person, str]] = []
    if rule.subject_principal:
        wanted.append((subject_principal, SUBJECT))
    if rule.website_principals:
        wanted += [(p, WEBSITE) for p in website_principals]
    by_mobile: dict[str, tuple[str, list[str]]] = {}
    for p, role in wanted:
        _, roles = by_mobile.setdefault(p.mobile, (p.id, []))
        if role not in roles:
            roles.append(role)
    return [Required(pid, tuple(roles)) for pid, roles in by_mobile.values()]
