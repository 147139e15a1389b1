"""Filing schemas: the pledge (a mini-program step), the SMS check and the public sheet
check (provider and public). Built where the views are built (app/filing/pledge.py,
app/filing/service.py); the endpoints (app/filing/router.py) return them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PledgeOut(BaseModel):
    version: str
    kind: Literal["unit", "individual"]
    title: str
    text: str = Field(description="show as is; lines are separated by \\n")
    text_sha256: str = Field(description="echo it back with POST /m/v1/pledge")
    handwritten_pledge: str | None = Field(
        description="the province's wording to copy by hand onto the paper sheet (广东 individuals)"
    )
    province: str | None
    required: bool = Field(description="the order cannot be 核验完成 without it")
    in_scope: bool = Field(description="false: this session's scope cannot confirm it")
    accepted: bool
    accepted_at: datetime | None


class PledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=64)
    text_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    accepted_at: datetime | None = Field(default=None, description="the phone's clock")


class PledgeAccepted(BaseModel):
    accepted: bool
    created: bool = Field(description="false: it was already confirmed (nothing new recorded)")
    material_id: str
    version: str
    text_sha256: str
    accepted_at: datetime = Field(description="when the server recorded it")
    order_status: str


class SmsDoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: str
    # When the person finished (defaults to now); the provider may report it late.
    done_at: datetime | None = None


class SmsPersonOut(BaseModel):
    person_id: str
    roles: list[str]
    name: str
    mobile: str
    state: str
    done_at: datetime | None


class SmsOut(BaseModel):
    state: str
    rule: str
    submitted_at: datetime | None
    deadline_at: datetime | None
    people: list[SmsPersonOut]


class SheetCheckOut(BaseModel):
    code: str
    external_id: str
    subject_name: str
    sheet_status: str
    sheet_checks: Literal["full", "intake_only"] = Field(
        description="intake_only: the sheet's captures were only intake-checked"
    )
    sheet_complete: bool
    order_status: str
    current: bool
    issued_at: datetime
    pdf_sha256: str
