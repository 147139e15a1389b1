"""Provider-facing schemas. Mini-program schemas live apart (app/mini/schemas.py) so that
internal fields never leak to a phone."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class BusinessType(StrEnum):
    """The filing's business type (备案类型)."""

    new_filing = "new_filing"  # 新增备案 (首次备案)
    new_website = "new_website"  # 新增网站
    new_access = "new_access"  # 新增接入
    change_subject = "change_subject"  # 变更主体
    change_website = "change_website"  # 变更网站
    change_access = "change_access"  # 变更接入
    cancel_subject = "cancel_subject"  # 注销主体
    cancel_website = "cancel_website"  # 注销网站
    cancel_access = "cancel_access"  # 取消接入
    algorithm_filing = "algorithm_filing"  # 算法备案


# Strings are stripped before validation: the document says a blank string is refused too.
NONBLANK = r"\S"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DocumentIn(Strict):
    type: DocType
    number: str = Field(min_length=1, pattern=NONBLANK, max_length=64)


class PrincipalIn(Strict):
    name: str = Field(min_length=1, pattern=NONBLANK, max_length=100)
    document: DocumentIn
    mobile: str = Field(min_length=1, pattern=NONBLANK, max_length=32)


class SubjectIn(Strict):
    nature: str = Field(
        min_length=1, pattern=NONBLANK, max_length=32, examples=["enterprise", "individual"]
    )
    name: str = Field(min_length=1, pattern=NONBLANK, max_length=200)
    document: DocumentIn
    province: str | None = Field(default=None, max_length=40)
    principal: PrincipalIn


class WebsiteIn(Strict):
    name: str = Field(min_length=1, pattern=NONBLANK, max_length=200)
    domains: list[str] = Field(min_length=1, max_length=20)
    principal: PrincipalIn


class OrderIn(Strict):
    external_id: str = Field(min_length=1, pattern=NONBLANK, max_length=128)
    business_type: BusinessType
    subject: SubjectIn
    websites: list[WebsiteIn] = Field(min_length=1, max_length=50)


class QrIn(Strict):
    scope: str = Field(
        min_length=1,
        max_length=80,
        pattern=NONBLANK,
        examples=["order", "subject", "website:0f3c..."],
    )


class QrOut(BaseModel):
    token: str
    url: str
    scope: str
    expires_at: datetime


class ReverifyIn(Strict):
    part: str = Field(
        min_length=1, max_length=80, pattern=NONBLANK, examples=["subject", "website:0f3c..."]
    )


class DocumentOut(BaseModel):
    type: str
    number: str


class PrincipalOut(BaseModel):
    id: str
    name: str
    document: DocumentOut
    mobile: str


class SubjectOut(BaseModel):
    nature: str
    name: str
    document: DocumentOut
    province: str | None
    principal: PrincipalOut


class WebsiteOut(BaseModel):
    id: str
    name: str
    domains: list[str]
    principal: PrincipalOut


class CheckOut(BaseModel):
    code: str
    passed: bool
    score: float | None
    threshold: float | None
    message_zh: str
    message_en: str
    detail: dict[str, Any] | None = None
    model: dict[str, Any] | None = None


class StepOut(BaseModel):
    step: str
    person_id: str | None
    done: bool
    material_id: str | None
    checks: list[CheckOut]


class PartOut(BaseModel):
    part: str
    done: bool
    steps: list[StepOut]


class MaterialOut(BaseModel):
    id: str
    step: str
    kind: str
    person_id: str | None
    accepted: bool
    cleared: bool
    sha256: str
    size: int
    content_type: str
    captured_at: datetime


class MaterialListItem(MaterialOut):
    label: str
    original_sha256: str | None
    extracted: dict[str, Any]
    checks: list[CheckOut]


class MethodOut(BaseModel):
    """What the checks recorded on the current materials show was done (核验方式)."""

    checks: Literal["none", "full", "intake_only"] = Field(
        description="intake_only: some capture was only intake-checked (CAPTURE_CHECKS=intake)"
    )
    done: list[str] = Field(description="what ran on every capture of its kind (Chinese)")
    not_run: list[str] = Field(description="checks that did not run on a capture taken")
    zh: str = Field(description="the method as the verification sheet states it")
    documents: int
    documents_recognised: int
    faces: int
    liveness: int
    face_matched: int


class OrderOut(BaseModel):
    id: str
    external_id: str
    business_type: str
    status: str
    status_zh: str
    subject: SubjectOut
    websites: list[WebsiteOut]
    parts: list[PartOut]
    verification_method: MethodOut
    materials: list[MaterialOut]
    created_at: datetime
    updated_at: datetime
    cursor: int


class OrderSummary(BaseModel):
    id: str
    external_id: str
    status: str
    updated_at: datetime
    cursor: int


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_cursor: int
    has_more: bool


class EventOut(BaseModel):
    id: int
    type: str
    part: str | None
    session_id: str | None
    platform: str | None
    phone_masked: str | None
    client_ip: str | None
    data: dict[str, Any]
    created_at: datetime


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: int
    has_more: bool
