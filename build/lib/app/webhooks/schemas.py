"""Provider-facing webhook schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field


class WebhookIn(BaseModel):
    url: str = Field(max_length=2000, examples=["https://filing.example.com/heyan/webhook"])
    secret: str = Field(min_length=16, max_length=200)
    events: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=50
    )


class WebhookOut(BaseModel):
    url: str
    secret_masked: str
    events: list[str]
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
