"""Provider webhook API: the endpoint, a test ping, the delivery log, redelivery."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.deps import CtxDep, DbDep, ProviderDep
from app.models.orders import utcnow
from app.webhooks import service
from app.webhooks.schemas import (
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    WebhookIn,
    WebhookOut,
)

router = APIRouter(prefix="/v1/webhook", tags=["webhooks"])


def _endpoint_view(row: Any) -> WebhookOut:
    return WebhookOut(
        url=row.url,
        secret_masked=service.mask_secret(row.secret),
        events=row.events,
        signature_scheme=row.signature_scheme,
        thin_events=row.thin_events,
        max_payload_bytes=row.max_payload_bytes,
        previous_secret_valid_until=(
            row.previous_until if service.signing_secrets(row, utcnow())[1:] else None
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.put("", response_model=WebhookOut)
async def put_webhook(
    body: WebhookIn, provider_id: ProviderDep, db: DbDep, ctx: CtxDep
) -> WebhookOut:
    """Set (or replace) the provider's webhook: URL, secret, scheme, events, payload cap.

    A new secret under the same scheme leaves the old one valid for
    WEBHOOK_SECRET_OVERLAP_SECONDS: deliveries carry both signatures meanwhile.
    """
    settings = ctx.settings
    cap = settings.webhook_max_payload_bytes
    if body.max_payload_bytes is not None and body.max_payload_bytes > cap:
        raise service.WebhookInvalid(
            code="WEBHOOK_PAYLOAD_CAP_INVALID",
            zh=f"推送内容大小上限不能超过 {cap} 字节",
            en=f"max_payload_bytes is at most {cap}",
        )
    row = await service.put_endpoint(
        db, provider_id, body.url, body.secret, body.events, dev_mode=settings.dev_mode,
        scheme=body.signature_scheme, thin_events=body.thin_events,
        max_payload_bytes=body.max_payload_bytes or cap,
        overlap_seconds=settings.webhook_secret_overlap_seconds,
    )  # fmt: skip
    return _endpoint_view(row)


@router.get("", response_model=WebhookOut)
async def get_webhook(provider_id: ProviderDep, db: DbDep) -> WebhookOut:
    """Show the provider's webhook, with the secret masked."""
    row = await service.get_endpoint(db, provider_id)
    if row is None:
        raise service.WebhookNotConfigured()
    return _endpoint_view(row)


@router.delete("", status_code=204)
async def delete_webhook(provider_id: ProviderDep, db: DbDep) -> Response:
    """Remove the webhook; deliveries still waiting are marked dead."""
    await service.delete_endpoint(db, provider_id)
    return Response(status_code=204)


@router.post("/test", response_model=DeliveryOut, status_code=202)
async def test_webhook(provider_id: ProviderDep, db: DbDep) -> DeliveryOut:
    """Queue a signed `ping` delivery to the webhook."""
    row = await service.enqueue_ping(db, provider_id)
    return service.delivery_view(row)


@router.get("/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    provider_id: ProviderDep,
    db: DbDep,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = Query(None, min_length=1, description="next_cursor of a previous page"),
) -> DeliveryPage:
    """List deliveries, newest first, with attempts and the last response code."""
    rows, nxt = await service.list_deliveries(db, provider_id, status, limit, cursor)
    return DeliveryPage(items=[service.delivery_view(r) for r in rows], next_cursor=nxt)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail)
async def get_delivery(delivery_id: str, provider_id: ProviderDep, db: DbDep) -> DeliveryDetail:
    """Show one delivery: the body sent and every attempt."""
    row = await service.get_delivery(db, provider_id, delivery_id)
    attempts = await service.attempt_log(db, row.id)
    return service.delivery_detail(row, attempts)


@router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut, status_code=202)
async def redeliver(delivery_id: str, provider_id: ProviderDep, db: DbDep) -> DeliveryOut:
    """Send a delivery again now (same Heyan-Event-Id), with a fresh 24-hour retry window."""
    row = await service.redeliver(db, provider_id, delivery_id)
    return service.delivery_view(row)
