"""Verify an order's audit chain (app.models.audit): the CLI's `audit verify` and
GET /v1/orders/{order_id}/audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.deps import DbDep, ProviderDep
from app.models import audit
from app.models.orders import Event, Order

_COLUMNS = [getattr(Event, c) for c in (
    *audit.PUBLIC_FIELDS, *audit.PERSONAL_FIELDS, "prev_hash", "hash", "personal_hash",
    "redacted_at",
)]  # fmt: skip


class OrderNotFound(NotFound):
    code = "ORDER_NOT_FOUND"
    zh = "订单不存在"
    en = "Order not found"


async def verify_order(db: AsyncSession, order_id: str) -> dict[str, Any]:
    """The report: events checked, the head, and the first broken link (None: intact)."""
    # Raw column values, never ORM objects: what the database holds now.
    query = select(*_COLUMNS).where(Event.order_id == order_id).order_by(Event.id)
    rows: list[dict[str, Any]] = [dict(r) for r in (await db.execute(query)).mappings()]
    head, purged = (
        await db.execute(select(Order.audit_head, Order.purged_at).where(Order.id == order_id))
    ).one()
    broken = audit.verify(rows, head, purged=purged is not None)
    return {
        "order_id": order_id,
        "ok": broken is None,
        "events": len(rows),
        "head": head,
        "broken": None
        if broken is None
        else {**broken.as_dict(), "message_zh": audit.REASONS_ZH[broken.reason]},
    }


async def verify_all(
    db: AsyncSession, order_id: str | None = None
) -> AsyncIterator[dict[str, Any]]:
    query = select(Order.id).order_by(Order.id)  # ids only: nothing sealed is opened
    if order_id is not None:
        query = query.where(Order.id == order_id)
    ids = list((await db.execute(query)).scalars())
    if order_id is not None and not ids:
        raise OrderNotFound()
    for oid in ids:
        yield await verify_order(db, oid)


# --------------------------------------------------------------------------------------
# The provider's endpoint


class AuditBreak(BaseModel):
    event_id: int | None = Field(description="The event the chain breaks at; null: the head")
    position: int = Field(description="0-based position in id order")
    reason: str = Field(
        description="content_altered, personal_altered, link_broken, unhashed, "
        "head_mismatch or tombstone_without_purge"
    )
    message_zh: str


class AuditReport(BaseModel):
    order_id: str
    ok: bool
    events: int
    head: str | None = Field(description="SHA-256 of the newest event: part of the ETag")
    broken: AuditBreak | None


router = APIRouter(prefix="/v1", tags=["orders"])


@router.get("/orders/{order_id}/audit", response_model=AuditReport)
async def audit_order(order_id: str, db: DbDep, provider_id: ProviderDep) -> AuditReport:
    """Verify the order's event trail: each event's hash covers the previous one and its own
    content; reports the first broken link (an edited, deleted or moved row)."""
    found = (
        await db.execute(
            select(Order.id).where(Order.id == order_id, Order.provider_id == provider_id)
        )
    ).scalar_one_or_none()
    if found is None:
        raise OrderNotFound()
    # The CLI (`audit verify`) prints the same report as JSON lines: built once, as a dict.
    return AuditReport.model_validate(await verify_order(db, found))
