"""Webhook tables: the provider's endpoint, the outbox of deliveries, and each attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.orders import BigIntPK, EncryptedText, TZDateTime, new_id, utcnow


class WebhookEndpoint(Base):
    """One endpoint per provider (PUT replaces it)."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider_id: Mapped[str] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), unique=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    # We need it in clear to sign, so it is encrypted (AES-256-GCM, DATA_KEYS), not hashed:
    # a stolen database cannot forge deliveries. The provider rotates it with PUT.
    secret: Mapped[str] = mapped_column(EncryptedText("webhook_endpoints.secret"))
    events: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class WebhookDelivery(Base):
    """The outbox: one row per (provider, event), written in the event's transaction.

    status: pending (not tried yet, or redelivery asked), failed (last attempt failed, a
    retry is scheduled), delivered, dead. A claim is a lease (locked_by/locked_until), not a
    status, so a delivery held by a killed process is taken again once the lease expires.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("provider_id", "event_key"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_order_seq", "order_id", "id"),
        Index("ix_webhook_deliveries_provider_seq", "provider_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    # The Heyan-Event-Id: the event id as a string, or "ping_<hex>".
    event_key: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    order_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    type: Mapped[str] = mapped_column(String(64))
    # The exact body that is signed and sent (kept byte-for-byte for redeliveries).
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    # Retries stop (dead) once an attempt fails more than max age after this instant.
    retry_since: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str] = mapped_column(String(80))
