"""Webhook endpoint settings, the outbox writer (called by record_event), delivery views."""

from __future__ import annotations

import ipaddress
import json
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import AppError, Conflict, NotFound
from app.models.orders import Event, Order, utcnow
from app.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks import signing
from app.webhooks.schemas import AttemptOut, DeliveryDetail, DeliveryOut

# Every type record_event writes: a provider may subscribe to any of them (tests/webhooks
# checks the record_event calls in app/ against this list).
KNOWN_EVENTS: frozenset[str] = frozenset(
    {
        "order.created",
        "qr.issued",
        "session.opened",
        "scan.refused",
        "capture.accepted",
        "capture.refused",
        "face.replay_detected",
        "part.verified",
        "part.reset",
        "part.reverify_requested",
        "order.status_changed",
        "consent.face_accepted",
        "order.submitted",
        "order.purged",
        "sms.deadline_approaching",
        "sms.expired",
        "sms.done",
        "sms.completed",
        "abuse.limited",
        # The SMS one-time code of the browser page's phone proof (app.mini.sms).
        "phone_code.sent",
        "phone_code.send_failed",
        "phone_code.rate_limited",
        "phone_code.failed",
        "phone_code.verified",
        "notice.acknowledged",
        # The 承诺书 confirmed in a session (app.filing.pledge).
        "pledge.accepted",
    }
)
ACTIVE = ("pending", "failed")
# Keys that could carry personal data: never copied into a payload, at any depth.
PERSONAL_KEYS = frozenset(
    {"name", "names", "mobile", "phone", "doc_number", "document_number", "id_number",
     "number", "extracted", "fields", "client_ip", "ip", "birth_date", "address"}
)  # fmt: skip


class WebhookInvalid(AppError):
    status = 422
    code = "WEBHOOK_INVALID"
    zh = "Webhook 配置有误"
    en = "The webhook configuration is not valid"


class WebhookNotConfigured(NotFound):
    code = "WEBHOOK_NOT_CONFIGURED"
    zh = "尚未配置 Webhook"
    en = "No webhook is configured"


class DeliveryNotFound(NotFound):
    code = "DELIVERY_NOT_FOUND"
    zh = "未找到该推送记录"
    en = "Delivery not found"


class DeliveryInFlight(Conflict):
    code = "DELIVERY_IN_FLIGHT"
    zh = "该推送正在发送中,请稍后重试"
    en = "The delivery is being sent right now; retry shortly"


class CursorInvalid(AppError):
    status = 422
    code = "CURSOR_INVALID"
    zh = "分页参数有误"
    en = "cursor is not valid"


# --------------------------------------------------------------------------------------
# The endpoint


def check_url(url: str, *, dev_mode: bool) -> str:
    """https anywhere public; plain http only to this machine, and only in dev/test mode."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        host, parts = "", None
    if parts is None or not host or parts.username or parts.password:
        raise WebhookInvalid(
            code="WEBHOOK_URL_INVALID", zh="Webhook 地址无效", en="url is not a valid URL"
        )
    local = host in ("localhost", "127.0.0.1", "::1")
    if parts.scheme == "http" and local and dev_mode:
        return url.strip()
    if parts.scheme != "https":
        raise WebhookInvalid(
            code="WEBHOOK_URL_INSECURE",
            zh="Webhook 地址必须使用 https",
            en="url must use https (plain http only to localhost in development)",
        )
    if not dev_mode:
        # A literal private address in production is a probe of our network, not a provider.
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if local or (ip is not None and not ip.is_global):
            raise WebhookInvalid(
                code="WEBHOOK_URL_PRIVATE",
                zh="Webhook 地址不能是内网地址",
                en="url must point to a public host",
            )
    return url.strip()


def check_events(events: list[str]) -> list[str]:
    chosen = sorted(set(events))
    if chosen == ["*"]:
        return chosen
    unknown = [e for e in chosen if e not in KNOWN_EVENTS and e != "*"]
    if unknown or "*" in chosen:
        # Quoted, so that an empty or blank name reads as what it is.
        en = (
            "Unknown event types: " + ", ".join(json.dumps(e) for e in unknown)
            if unknown
            else '"*" subscribes to every event type and must be alone'
        )
        raise WebhookInvalid(
            code="WEBHOOK_EVENTS_INVALID",
            zh="订阅的事件类型有误",
            en=en + ' (known types, or ["*"] alone)',
            extra={"known_events": sorted(KNOWN_EVENTS)},
        )
    return chosen


def mask_secret(secret: str) -> str:
    return secret[:4] + "*" * 8 + secret[-2:]


async def get_endpoint(db: AsyncSession, provider_id: str) -> WebhookEndpoint | None:
    return (
        await db.execute(select(WebhookEndpoint).where(WebhookEndpoint.provider_id == provider_id))
    ).scalar_one_or_none()


def check_secret(secret: str, scheme: str) -> None:
    if scheme == "standard":
        if signing.standard_key(secret) is None:
            raise WebhookInvalid(
                code="WEBHOOK_SECRET_INVALID",
                zh="标准 Webhook 的签名密钥须为 whsec_ 加 Base64(24至64字节)",
                en="a standard-scheme secret is whsec_ followed by base64 of 24 to 64 bytes",
            )
        return
    if len(secret) < 16 or secret != secret.strip():
        raise WebhookInvalid(
            code="WEBHOOK_SECRET_INVALID",
            zh="签名密钥至少16个字符,且首尾不能有空格",
            en="secret must be at least 16 characters, without surrounding spaces",
        )


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, then the replaced one
    while its overlap lasts."""
    out = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_until is not None
        and endpoint.previous_until > now
        and endpoint.previous_secret != endpoint.secret
    ):
        out.append(endpoint.previous_secret)
    return out


async def put_endpoint(
    db: AsyncSession, provider_id: str, url: str, secret: str, events: list[str], *,
    dev_mode: bool, scheme: str = "heyan", thin_events: bool = False,
    max_payload_bytes: int = 64 * 1024, overlap_seconds: int = 0,
) -> WebhookEndpoint:  # fmt: skip
    """Set the endpoint. A new secret under the same scheme keeps the old one valid for
    ``overlap_seconds`` (deliveries carry both signatures meanwhile)."""
    url = check_url(url, dev_mode=dev_mode)
    check_secret(secret, scheme)
    chosen = check_events(events)
    for _ in range(2):  # two first PUTs racing: the loser updates the winner's row
        now = utcnow()
        row = await get_endpoint(db, provider_id)
        if row is None:
            row = WebhookEndpoint(provider_id=provider_id, created_at=now)
            db.add(row)
        elif row.secret != secret:
            if row.signature_scheme == scheme and overlap_seconds > 0:
                row.previous_secret = row.secret
                row.previous_until = now + timedelta(seconds=overlap_seconds)
            else:  # another scheme: the old secret could not sign in this one
                row.previous_secret, row.previous_until = None, None
        row.url, row.secret, row.events, row.updated_at = url, secret, chosen, now
        row.signature_scheme, row.thin_events = scheme, thin_events
        row.max_payload_bytes = max_payload_bytes
        try:
            await db.flush()  # committed by the request's unit of work (app.deps.get_db)
        except IntegrityError:  # the other PUT inserted first: nothing else was written yet
            await db.rollback()
            continue
        return row
    raise Conflict(zh="Webhook 配置正在被修改,请重试", en="The webhook changed; retry")


async def delete_endpoint(db: AsyncSession, provider_id: str) -> None:
    """Remove the endpoint; deliveries still waiting are marked dead (nowhere to send them)."""
    row = await get_endpoint(db, provider_id)
    if row is None:
        raise WebhookNotConfigured()
    await db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.provider_id == provider_id, WebhookDelivery.status.in_(ACTIVE))
        .values(status="dead", last_error="webhook removed", locked_by=None, locked_until=None)
    )
    await db.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == row.id))


# --------------------------------------------------------------------------------------
# The outbox


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def event_payload(order: Order, event: Event) -> dict[str, Any]:
    """What a provider receives: ids, type, part and event data; never names, numbers, mobiles."""
    data = _scrub(dict(event.data or {}))
    if event.platform:
        data["platform"] = event.platform
    if event.phone_masked:
        data["phone_masked"] = event.phone_masked
    return {
        "id": str(event.id),
        "type": event.type,
        "created_at": _iso(event.created_at),
        "order_id": order.id,
        "external_id": order.external_id,
        "part": event.part,
        "data": data,
        # The event's link in the order's audit chain (app.models.audit): kept by the
        # receiver, it shows later whether the trail was rewritten.
        "audit_hash": event.hash,
    }


def thin_payload(full: dict[str, Any], reason: str) -> dict[str, Any]:
    """Ids and type only: the receiver fetches the order (GET /v1/orders/{order_id})."""
    keep = ("id", "type", "created_at", "order_id", "external_id", "part", "audit_hash")
    out = {k: full[k] for k in keep}
    out["thin"] = True
    out["thin_reason"] = reason  # "endpoint" (asked for) or "size" (over the cap)
    return out


def delivery_body(endpoint: WebhookEndpoint, payload: dict[str, Any]) -> str:
    """The body to send: full, or thin when the endpoint asks or the full one is too big."""
    if endpoint.thin_events:
        return dumps(thin_payload(payload, "endpoint"))
    body = dumps(payload)
    if len(body.encode()) > endpoint.max_payload_bytes:
        return dumps(thin_payload(payload, "size"))
    return body


def subscribed(endpoint: WebhookEndpoint, type_: str) -> bool:
    return "*" in endpoint.events or type_ in endpoint.events


async def enqueue_for_event(db: AsyncSession, order: Order, event: Event) -> None:
    """Write the outbox row for an event, in the caller's transaction (record_event calls it)."""
    endpoint = await get_endpoint(db, order.provider_id)
    if endpoint is None or not subscribed(endpoint, event.type):
        return
    # Delivery order is id order. Take the order's row lock (record_event's UPDATE of the
    # order takes the same one a moment later) before the id is drawn, so two transactions
    # on one order number their deliveries in commit order. FOR NO KEY UPDATE: no conflict
    # with the key-share locks of foreign-key checks. SQLite serialises writers anyway.
    await db.execute(select(Order.id).where(Order.id == order.id).with_for_update(key_share=True))
    db.add(
        WebhookDelivery(
            provider_id=order.provider_id,
            event_key=str(event.id),
            event_id=event.id,
            order_id=order.id,
            type=event.type,
            body=delivery_body(endpoint, event_payload(order, event)),
            status="pending",
            attempts=0,
            next_attempt_at=event.created_at,
            retry_since=event.created_at,
            created_at=event.created_at,
        )
    )
    await db.flush()


async def enqueue_ping(db: AsyncSession, provider_id: str) -> WebhookDelivery:
    if await get_endpoint(db, provider_id) is None:
        raise WebhookNotConfigured()
    now = utcnow()
    key = "ping_" + secrets.token_hex(8)
    payload: dict[str, Any] = {"id": key, "type": "ping", "created_at": _iso(now), "order_id": None,
               "external_id": None, "part": None, "data": {}}  # fmt: skip
    row = WebhookDelivery(
        provider_id=provider_id, event_key=key, event_id=None, order_id=None, type="ping",
        body=dumps(payload), status="pending", attempts=0, next_attempt_at=now,
        retry_since=now, created_at=now,
    )  # fmt: skip
    db.add(row)
    await db.flush()
    return row


# --------------------------------------------------------------------------------------
# Views


def delivery_view(d: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=str(d.id),
        event_id=d.event_key,
        type=d.type,
        order_id=d.order_id,
        status=d.status,
        attempts=d.attempts,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        last_attempt_at=d.last_attempt_at,
        next_attempt_at=d.next_attempt_at if d.status in ACTIVE else None,
        delivered_at=d.delivered_at,
        created_at=d.created_at,
    )


def delivery_detail(d: WebhookDelivery, attempts: list[WebhookAttempt]) -> DeliveryDetail:
    """One delivery: the body sent and every attempt."""
    return DeliveryDetail(
        **dict(delivery_view(d)),
        body=d.body,
        attempt_log=[
            AttemptOut(
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in attempts
        ],
    )


_MAX_ID = 2**63 - 1


async def list_deliveries(
    db: AsyncSession, provider_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[WebhookDelivery], str | None]:
    """Newest first; ``cursor`` is the last id of the previous page."""
    query = select(WebhookDelivery).where(WebhookDelivery.provider_id == provider_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    if cursor:
        try:
            before = int(cursor)
        except ValueError:
            raise CursorInvalid() from None
        if not 0 < before <= _MAX_ID + 1:  # ids are BIGINT: anything else is not a cursor
            raise CursorInvalid()
        query = query.where(WebhookDelivery.id < before)
    rows = list(
        (await db.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1))).scalars()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if more and rows else None)


async def get_delivery(db: AsyncSession, provider_id: str, delivery_id: str) -> WebhookDelivery:
    try:
        did = int(delivery_id)
    except ValueError:
        raise DeliveryNotFound() from None
    if not 0 < did <= _MAX_ID:  # never hand a value past BIGINT to the database
        raise DeliveryNotFound()
    row = (
        await db.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.id == did, WebhookDelivery.provider_id == provider_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        raise DeliveryNotFound()
    return row


async def attempt_log(db: AsyncSession, delivery_id: int) -> list[WebhookAttempt]:
    return list(
        (
            await db.execute(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.id)
            )
        ).scalars()
    )


async def redeliver(db: AsyncSession, provider_id: str, delivery_id: str) -> WebhookDelivery:
    """Send again now (same Heyan-Event-Id), with a fresh retry window."""
    row = await get_delivery(db, provider_id, delivery_id)
    if await get_endpoint(db, provider_id) is None:
        raise WebhookNotConfigured()
    now = utcnow()
    result = await db.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == row.id,
            (WebhookDelivery.locked_until.is_(None)) | (WebhookDelivery.locked_until < now),
        )
        .values(
            status="pending",
            next_attempt_at=now,
            retry_since=now,
            locked_by=None,
            locked_until=None,
            delivered_at=None,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise DeliveryInFlight()
    return await get_delivery(db, provider_id, delivery_id)
