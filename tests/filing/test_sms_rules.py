"""The SMS-check table: one test per business type, and the 同人 rule."""

from __future__ import annotations

import pytest

from app.filing.sms import SMS_RULES, SUBJECT, WEBSITE, Person, Required, required_people
from app.orders.schemas import BusinessType

SP = Person("sp", "13800138000")
WP1 = Person("wp1", "13900139000")
WP2 = Person("wp2", "13700137000")

BOTH = [Required("sp", (SUBJECT,)), Required("wp1", (WEBSITE,)), Required("wp2", (WEBSITE,))]
WEBSITES = [Required("wp1", (WEBSITE,)), Required("wp2", (WEBSITE,))]
SUBJECT_ONLY = [Required("sp", (SUBJECT,))]

CASES = {
    BusinessType.new_filing: BOTH,
    BusinessType.new_website: WEBSITES,
    BusinessType.new_access: WEBSITES,
    BusinessType.change_subject: SUBJECT_ONLY,
    BusinessType.change_website: WEBSITES,
    BusinessType.change_access: WEBSITES,
    BusinessType.cancel_subject: [],
    BusinessType.cancel_website: [],
    BusinessType.cancel_access: [],
    BusinessType.algorithm_filing: [],
}


def test_every_business_type_has_a_rule_and_a_case() -> None:
    assert set(SMS_RULES) == set(BusinessType) == set(CASES)


@pytest.mark.parametrize("business_type", list(BusinessType))
def test_rule_row(business_type: BusinessType) -> None:
    assert required_people(business_type.value, SP, [WP1, WP2]) == CASES[business_type]


def test_same_mobile_verifies_once() -> None:
    same = Person("wp1", SP.mobile)
    assert required_people("new_filing", SP, [same, WP2]) == [
        Required("sp", (SUBJECT, WEBSITE)),
        Required("wp2", (WEBSITE,)),
    ]
    # The subject principal who is also the only website principal: one person, two roles.
    assert required_people("new_filing", SP, [SP]) == [Required("sp", (SUBJECT, WEBSITE))]
