"""Provider-facing webhook schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

SignatureScheme = Literal["heyan", "standard"]


class WebhookIn(BaseModel):
    url: str = Field(max_length=2000, examples=["https://filing.example.com/heyan/webhook"])
    secret: str = Field(
        min_length=16,
        max_length=200,
        description="heyan: at least 16 characters; standard: whsec_ + base64 of 24-64 bytes",
    )
    events: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=50
    )
    signature_scheme: SignatureScheme = Field(
        default="heyan",
        description="heyan: Heyan-Signature (hex HMAC); standard: Standard Webhooks headers "
        "webhook-id, webhook-timestamp, webhook-signature",
    )
    thin_events: bool = Field(
        default=False, description="Send ids and type only; fetch the order for the rest"
    )
    max_payload_bytes: int | None = Field(
        default=None,
        ge=1024,
        description="A larger body is sent thin; at most (and by default) "
        "WEBHOOK_MAX_PAYLOAD_BYTES",
    )


class WebhookOut(BaseModel):
    url: str
    secret_masked: str
    events: list[str]
    signature_scheme: SignatureScheme
    thin_events: bool
    max_payload_bytes: int
    previous_secret_valid_until: datetime | None = Field(
        description="After a secret change: deliveries carry the old secret's signature too "
        "until then (standard scheme)"
    )
    created_at: datetime
    updated_at: datetime


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


DeliveryStatus = Literal["pending", "delivered", "failed", "dead"]


class DeliveryOut(BaseModel):
    id: str
    event_id: str = Field(description="The Heyan-Event-Id header: de-duplicate on it")
    type: str
    order_id: str | None
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryDetail(DeliveryOut):
    body: str
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None
