"""Provider-facing schemas. Mini-program schemas live apart (app/mini/schemas.py) so that
internal fields never leak to a phone."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.orders.vocabulary import DocType


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


class ServiceKind(StrEnum):
    """What an order files (websites since ever; APPs, mini-programs and quick apps since
    工信部信管〔2023〕105号). Each service is one part, verified and tracked like a website."""

    website = "website"
    app = "app"
    mini_program = "mini_program"
    quick_app = "quick_app"


class ServiceIn(Strict):
    kind: ServiceKind
    name: str = Field(min_length=1, pattern=NONBLANK, max_length=200)
    principal: PrincipalIn
    # website
    domains: list[str] = Field(default_factory=list, max_length=20)
    # app: the platforms it ships on, its package name (Android, HarmonyOS) or bundle id
    # (iOS), and the SHA-256 (or SHA-1) fingerprint of its signing certificate
    platforms: list[Literal["android", "ios", "harmonyos"]] = Field(
        default_factory=list, max_length=3
    )
    package_name: str | None = Field(default=None, max_length=255)
    bundle_id: str | None = Field(default=None, max_length=255)
    signing_cert_sha256: str | None = Field(default=None, max_length=128)
    # mini-program / quick app: the platform and the id it gives (e.g. a WeChat appid)
    platform: str | None = Field(default=None, max_length=40)
    platform_id: str | None = Field(default=None, max_length=128)


class RequirementsIn(Strict):
    """What the order asks of the person beyond the documents and the face."""

    pledge: bool = Field(
        default=False,
        description="the 承诺书 step (备案真实性承诺书确认): the person reads the pledge text "
        "(GET /m/v1/pledge) and confirms it (POST /m/v1/pledge) before the sheet; the order "
        "is not 核验完成 without it",
    )
    authorisation_letter: bool = Field(
        default=False,
        description="units: the 法人授权书 (or 授权委托书) of each service principal who is not "
        "the legal representative, step authorisation_letter of that service's part",
    )
    domain_certificate: bool = Field(
        default=False,
        description="the 域名证书 of each website, step domain_certificate:<website id>: its "
        "domain must be one of the website's and its holder the subject",
    )
    domain_certificate_per_domain: bool = Field(
        default=False,
        description="one 域名证书 per registered domain of each website (www.example.cn and "
        "example.cn are one), step domain_certificate:<website id>:<domain>, instead of one "
        "per website; a certificate that lists several of the website's domains covers each",
    )
    pledge_photo: bool = Field(
        default=False,
        description="the signed 承诺书 photographed, step pledge_photo of the sheet part "
        "(POST /m/v1/captures/pledge_photo): checked like the sheet (title 承诺书, the pledge "
        "text, a date, the signature, a unit's seal); the sheet waits for it",
    )


class OrderIn(Strict):
    external_id: str = Field(min_length=1, pattern=NONBLANK, max_length=128)
    business_type: BusinessType
    subject: SubjectIn
    # Websites as before; `services` adds APPs, mini-programs and quick apps (and may hold
    # websites too). At least one service in all, at most 50.
    websites: list[WebsiteIn] = Field(default_factory=list, max_length=50)
    services: list[ServiceIn] = Field(default_factory=list, max_length=50)
    requirements: RequirementsIn | None = None


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


class ServiceOut(BaseModel):
    """Every service of the order, websites included; its part is ``website:<id>``."""

    id: str
    kind: str
    name: str
    domains: list[str]
    attrs: dict[str, Any]
    principal: PrincipalOut


class CheckFields(BaseModel):
    """What every view of a check shows (the mini-program's CheckView, the provider's CheckOut)."""

    code: str
    passed: bool
    score: float | None
    threshold: float | None
    message_zh: str
    message_en: str


class CheckOut(CheckFields):
    """A check as the provider sees it: with its detail and the model that ran it."""

    detail: dict[str, Any] | None = None
    model: dict[str, Any] | None = None


class PledgeRecord(BaseModel):
    """The recorded acceptance of the 承诺书: exactly what happened, nothing inferred."""

    version: str
    kind: str = Field(description="unit or individual")
    text_sha256: str = Field(description="SHA-256 of the UTF-8 text shown and accepted")
    accepted_by: str = Field(description="the principal id of the session's person")
    role: str = Field(description="subject_principal or website_principal")
    session_id: str | None
    accepted_at: datetime = Field(description="when the server recorded the acceptance")
    client_accepted_at: str | None = Field(description="the time the phone reported")


class StepOut(BaseModel):
    step: str
    person_id: str | None
    done: bool
    material_id: str | None
    checks: list[CheckOut]
    pledge: PledgeRecord | None = Field(default=None, description="the pledge step's record")


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
    websites: list[WebsiteOut]  # the services of kind website (as before)
    services: list[ServiceOut]
    requirements: dict[str, bool] = Field(
        default_factory=dict, description='e.g. {"pledge": true}; empty: nothing more'
    )
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


class ProviderPrecheckOut(BaseModel):
    """A provider's pre-check of a document photo: every check with its detail, and the
    fields read, unmasked (the provider's own PC page, not the person's phone)."""

    accepted: bool
    checks: list[CheckOut]
    extracted: dict[str, Any]
