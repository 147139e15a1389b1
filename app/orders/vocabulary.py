"""The flow's words, once: the document types an order names (and which are two-sided,
personal or a unit's), the kinds a pre-check takes, step titles, why a step is blocked,
the phone-mismatch messages. The provider schemas, the state machine, the mini-program
API and the capture answers all read these; nothing here imports anything of the app.
"""

from __future__ import annotations

from enum import StrEnum


class DocType(StrEnum):
    resident_id = "resident_id"
    passport = "passport"
    hk_macau_permit = "hk_macau_permit"
    taiwan_permit = "taiwan_permit"
    hk_macau_residence = "hk_macau_residence"
    taiwan_residence = "taiwan_residence"
    foreign_permanent_residence = "foreign_permanent_residence"
    business_licence = "business_licence"
    institution_certificate = "institution_certificate"
    social_org_certificate = "social_org_certificate"
    other = "other"


TWO_SIDED_DOCUMENTS = frozenset(
    {"resident_id", "hk_macau_residence", "taiwan_residence", "foreign_permanent_residence"}
)
PERSON_DOCUMENTS = frozenset(
    TWO_SIDED_DOCUMENTS | {"passport", "hk_macau_permit", "taiwan_permit", "other"}
)
UNIT_DOCUMENTS = frozenset(
    {"business_licence", "institution_certificate", "social_org_certificate", "other"}
)

# What a pre-check (预检) takes: each card side, every one-page document, the sheet, the
# extra documents of a filing (the letter, a domain certificate, the signed pledge photo).
PRECHECK_KINDS = (
    "id_front",
    "id_back",
    *(d.value for d in DocType if d is not DocType.resident_id),
    "verification_sheet",
    "authorisation_letter",
    "domain_certificate",
    "pledge_photo",
)

PHONE_MISMATCH_ZH = {
    "website_principal": "小程序绑定手机号码与网站负责人手机号码不一致,请重新核验",
    "subject_principal": "小程序绑定手机号码与主体负责人手机号码不一致,请重新核验",
}

STEP_TITLES = {
    "subject_document": "主办单位证件",
    "subject_principal_id_front": "主体负责人身份证人像面",
    "subject_principal_id_back": "主体负责人身份证国徽面",
    "subject_principal_document": "主体负责人证件",
    "website_principal_id_front": "网站负责人身份证人像面",
    "website_principal_id_back": "网站负责人身份证国徽面",
    "website_principal_document": "网站负责人证件",
    "face": "人脸核验",
    "verification_sheet": "真实性核验单",
}

# Steps taken by a JSON request, not an upload (GET/POST /m/v1/pledge): kept out of
# STEP_TITLES, which names what POST /m/v1/captures/{step} takes.
JSON_STEP_TITLES = {
    "pledge": "备案真实性承诺书确认",
}
# The extra documents (uploads to POST /m/v1/captures/{step} too, taken by
# app/capture/extra.py); ``domain_certificate:<website id>`` is titled by its prefix.
EXTRA_STEP_TITLES = {
    "authorisation_letter": "法人授权书",
    "domain_certificate": "域名证书",
    "pledge_photo": "签字承诺书照片",
}


def step_title(name: str) -> str:
    """Any step's Chinese title (the API name; a website's step by its prefix)."""
    base = name.split(":", 1)[0]
    return STEP_TITLES.get(name) or JSON_STEP_TITLES.get(name) or EXTRA_STEP_TITLES.get(base, name)


BLOCKED_ZH = {
    "id_first": "请先完成本人证件拍摄",
    "parts_first": "请先完成主体和网站的核验",
    "pledge_first": "请先阅读并确认《备案真实性承诺书》",
    "pledge_photo_first": "请先上传签字(盖章)后的承诺书照片",
}
