"""Mini-program schemas: personal data here is always masked."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.inference.checks import Check
from app.orders.schemas import CheckFields


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    qr_token: str = Field(min_length=1, max_length=4096, pattern=r"\S")
    platform: Literal["wechat", "alipay", "sms", "dev"]
    code: str | None = Field(
        default=None,
        max_length=512,
        description="WeChat getPhoneNumber code; sms: the 6-digit code from POST /m/v1/sms-codes",
    )
    # my.getPhoneNumber's res.response as is (a string), or already parsed (an object): the
    # signature covers the ciphertext inside, so both verify the same.
    response: Annotated[str, Field(max_length=16384)] | dict[str, Any] | None = Field(
        default=None, description="Alipay my.getPhoneNumber response (string or parsed object)"
    )
    mobile: str | None = Field(default=None, max_length=32, description="dev mode only")
    device_id: str | None = Field(
        default=None,
        max_length=128,
        description="an install id the mini-program keeps; the same phone and device may "
        "re-scan and resume, another device gets 409 SESSION_ACTIVE",
    )

    def proof(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in {
                "code": self.code,
                "response": self.response,
                "mobile": self.mobile,
            }.items()
            if v is not None
        }


class StepView(BaseModel):
    step: str
    title: str
    done: bool
    available: bool
    blocked_reason: str | None = None


class PersonView(BaseModel):
    role: str
    name: str
    document_type: str
    document_number: str
    mobile: str


class WebsiteView(BaseModel):
    id: str
    name: str
    domains: list[str]


class OrderView(BaseModel):
    status: str
    status_zh: str
    subject_name: str
    subject_nature: str
    subject_document_type: str
    subject_document_number: str
    person: PersonView
    websites: list[WebsiteView]


class SessionOut(BaseModel):
    """GET /m/v1/session: the session as it stands (the token is the caller's already)."""

    expires_at: datetime
    scope: str
    steps: list[StepView]
    next_step: str | None
    face_consent: ConsentTerms
    order: OrderView


class SessionOpened(SessionOut):
    """POST /m/v1/sessions: the session, with the token to send as Bearer from now on."""

    session_token: str


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(max_length=64)
    text_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    accepted_at: datetime


class ChallengeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent: ConsentIn | None = None


class ConsentTerms(BaseModel):
    version: str
    text: str
    text_sha256: str


class ChallengeStepOut(BaseModel):
    action: str = Field(description="blink, turn_left, turn_right, nod, open_mouth, read_digits")
    prompt_zh: str = Field(description="What to show for this step, as is")
    prompt_en: str
    start_s: float = Field(description="Hint: show this step this long after recording starts")
    duration_s: float = Field(description="Hint: how long the step usually takes")
    digits: str | None = Field(default=None, description="read_digits: the digits to read aloud")


class ChallengeOut(BaseModel):
    challenge_id: str
    nonce: str = Field(description="Single-use; record it with the capture's metadata")
    actions: list[str] = Field(description="The action names in order (same as steps)")
    steps: list[ChallengeStepOut] = Field(description="Show one at a time, in this order")
    total_seconds: float = Field(description="Suggested recording length")
    flash: list[dict[str, Any]] = Field(
        default_factory=list, description="Colour flashes to show full-screen, if enabled"
    )
    expires_at: datetime


class CheckView(CheckFields):
    """A check as the person sees it: no detail (that is for the provider)."""

    @classmethod
    def of(cls, c: Check) -> CheckView:
        """What a phone may see of a check: never the face-match score."""
        # Scores that would tell an attacker how near they came stay with the provider.
        hide = c.code in ("FACE_MISMATCH", "REPLAY_DETECTED", "PORTRAIT_TAMPERED")
        return cls(
            code=c.code,
            passed=c.passed,
            score=None if hide or c.score is None else round(float(c.score), 4),
            threshold=None if hide or c.threshold is None else round(float(c.threshold), 4),
            message_zh=c.message_zh,
            message_en=c.message_en,
        )


class CaptureOut(BaseModel):
    accepted: bool
    step: str
    material_id: str | None
    checks: list[CheckView]
    extracted: dict[str, Any]
    next_step: str | None
    order_status: str


class PrecheckOut(BaseModel):
    accepted: bool
    step: str
    checks: list[CheckView]
    extracted: dict[str, Any]


class SmsCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    qr_token: str = Field(min_length=1, max_length=4096, pattern=r"\S")
    preview: bool = Field(
        default=False,
        description="true: send nothing, only answer the masked number the code would go to "
        "(for the person to confirm) and how long until a code may be asked for",
    )


class SmsCodeOut(BaseModel):
    sent: bool
    mobile_masked: str = Field(description="the order's mobile for this scope, e.g. 138****8000")
    code_length: int
    expires_in_seconds: int
    resend_after_seconds: int = Field(description="wait this long before asking again")
    expires_at: datetime | None = None


class AcknowledgementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notices: list[Literal["no_proxy", "shooting"]] = Field(min_length=1, max_length=2)
    accepted_at: datetime


class AcknowledgementOut(BaseModel):
    recorded: list[str]


class VocabularyOut(BaseModel):
    """The words of the flow, one source for the page, the mini-programs and the API."""

    steps: dict[str, dict[str, str]]
    blocked: dict[str, dict[str, str]]
    statuses: dict[str, dict[str, str]]
    checks: dict[str, dict[str, str]]
    notices: dict[str, dict[str, Any]]
    errors: dict[str, dict[str, str]]
