"""Provider API (/v1): thin endpoints over app.orders.service."""

from __future__ import annotations

import asyncio
import io
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import bindparam, select

from app.context import AppContext
from app.core.db import Rows
from app.core.errors import NotFound
from app.deps import CtxDep, DbDep, ProviderDep
from app.models.orders import Event, Material, Order, QrToken, utcnow
from app.orders import materials, service, state, transitions, views
from app.orders.schemas import (
    EventPage,
    MaterialListItem,
    OrderIn,
    OrderOut,
    OrderPage,
    QrIn,
    QrOut,
    ReverifyIn,
)

router = APIRouter(prefix="/v1", tags=["provider"])


@router.post("/orders", status_code=201, response_model=OrderOut)
async def create_order(
    body: OrderIn, db: DbDep, provider_id: ProviderDep, response: Response
) -> OrderOut:
    """Create a filing order; idempotent on external_id."""
    order_id, created = await service.create_order(db, provider_id, body)
    if not created:
        response.status_code = 200
    bundle = await service.load_bundle(db, order_id, provider_id)
    return await views.order_view(db, bundle)


def _page(*columns: Any) -> Any:
    return (
        select(*columns)
        .where(
            Order.provider_id == bindparam("provider_id"),
            Order.last_event_id > bindparam("after"),
        )
        .order_by(Order.last_event_id)
        .limit(bindparam("n"))
    )


_PAGE = Rows(
    _page(
        Order.id,
        Order.external_id,
        Order.updated_at,
        Order.last_event_id,
        Order.version,
        Order.subject_nature,
        Order.subject_principal_id,
        Order.requirements,
    )
)
_PAGE_IDS = _page(Order.id)


@router.get("/orders", response_model=OrderPage)
async def list_orders(
    request: Request,
    provider_id: ProviderDep,
    # Cursors are BIGINT ids: a larger number would overflow in the database (a 500).
    changed_since: int = Query(
        0, ge=0, le=2**63 - 1, description="cursor from a previous page or order"
    ),
    limit: int = Query(100, ge=1, le=500),
) -> OrderPage:
    """List this provider's orders changed after a cursor, oldest change first."""
    ctx: AppContext = request.app.state.ctx  # not CtxDep: one dependency less to solve
    # A Core read of the columns the page shows and its statuses need, sent as asyncpg's
    # own prepared statement (app.core.db.Rows): no ORM objects, nothing decrypted (a page
    # of 50 used to decrypt every name and ID number in it).
    params = {"provider_id": provider_id, "after": changed_since, "n": limit + 1}
    rows = await _PAGE.all(ctx.reader, params)
    has_more = len(rows) > limit
    rows = rows[:limit]
    # Statuses by version (app/core/cache.py): a page of orders that did not change since
    # this process last listed them is this one read.
    status: dict[str, state.Status] = {}
    missing = []
    for o in rows:
        known = ctx.statuses.get(o.id, (o.version, o.last_event_id, o.updated_at))
        if known is None:
            missing.append(o)
        else:
            status[o.id] = state.Status(known)
    if missing:
        async with ctx.reader.connect() as conn:
            fresh = await service.statuses(conn, missing, _PAGE_IDS, params)
        for o in missing:
            ctx.statuses.put(o.id, (o.version, o.last_event_id, o.updated_at), fresh[o.id])
        status.update(fresh)
    next_cursor = rows[-1].last_event_id if rows else changed_since
    # The hot page: validated from plain dicts in one pydantic-core call (50 OrderSummary(...)
    # calls measured ≈45 % slower), then returned as the model: FastAPI takes the instance
    # as is and dumps it to JSON bytes in one pass, as the prebuilt Response did.
    return OrderPage.model_validate(
        {
            "items": [
                {
                    "id": o.id,
                    "external_id": o.external_id,
                    "status": status[o.id].value,
                    "updated_at": o.updated_at,
                    "cursor": o.last_event_id,
                }
                for o in rows
            ],
            "next_cursor": next_cursor,
            "has_more": has_more,
        }
    )


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    responses={304: {"description": "Not modified (If-None-Match matched the ETag)"}},
)
async def get_order(order_id: str, provider_id: ProviderDep, request: Request) -> Response:
    """Read an order: status, parts with their steps and checks, materials; ETag for polling.

    Send the last ETag in If-None-Match: an unchanged order answers 304 from one row.
    """
    # A prebuilt Response, not the model (the hot poll): 304 from one row, or the view's JSON
    # bytes rendered once per ETag and served again from the cache; the model is OrderOut.
    ctx: AppContext = request.app.state.ctx  # not CtxDep: one dependency less to solve
    etag = await service.current_etag(ctx.reader, order_id, provider_id)
    inm = request.headers.get("if-none-match", "")
    if inm and (etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"):
        return Response(status_code=304, headers={"ETag": etag})
    # The same ETag is the same view: answered again as rendered (app/core/cache.py).
    body = ctx.views.get(order_id, etag)
    if body is None:
        # Reads only, each its own statement (READ COMMITTED gives each one its own
        # snapshot anyway): on the autocommit pool, without a BEGIN before, a ROLLBACK after.
        async with ctx.sessionmaker(bind=ctx.reader) as db:
            bundle = await service.load_bundle(db, order_id, provider_id)
            view = await views.order_view(db, bundle)
        # From the row the view was built from: if the order changed in between, the next
        # poll sees a different ETag and fetches again.
        etag = service.order_etag(bundle.order)
        body = view.model_dump_json().encode()
        ctx.views.put(order_id, etag, body)
    return Response(
        content=body,
        media_type="application/json",
        headers={"ETag": etag, "Cache-Control": "no-cache"},
    )


@router.post("/orders/{order_id}/qr", status_code=201, response_model=QrOut)
async def issue_qr(
    order_id: str, body: QrIn, db: DbDep, ctx: CtxDep, provider_id: ProviderDep
) -> QrOut:
    """Issue a QR token for a scope; older tokens of the same scope are revoked."""
    bundle = await service.load_bundle(db, order_id, provider_id)
    token, row = await service.issue_qr(
        db, ctx.codec, bundle, body.scope, ctx.settings.qr_ttl_seconds
    )
    return QrOut(
        token=token,
        url=qr_url(ctx.settings.public_base_url, token),
        scope=row.scope,
        expires_at=row.expires_at,
    )


def qr_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/m/qr?t={token}"


async def current_qr_url(
    order_id: str,
    db: DbDep,
    ctx: CtxDep,
    provider_id: ProviderDep,
    scope: str = Query("order", min_length=1, max_length=80),
) -> str:
    """The URL of a scope's current QR token (issues one if none is valid): what the images
    below encode."""
    bundle = await service.load_bundle(db, order_id, provider_id)
    scope = service.check_scope(bundle, scope)
    row = (
        (
            await db.execute(
                select(QrToken)
                .where(
                    QrToken.order_id == order_id,
                    QrToken.scope == scope,
                    QrToken.revoked_at.is_(None),
                    QrToken.expires_at > utcnow(),
                )
                .order_by(QrToken.version.desc())
            )
        )
        .scalars()
        .first()
    )
    if row is None:
        token, row = await service.issue_qr(
            db, ctx.codec, bundle, scope, ctx.settings.qr_ttl_seconds
        )
    else:
        token = ctx.codec.short_qr_token(row.id)
    return qr_url(ctx.settings.public_base_url, token)


QrUrlDep = Annotated[str, Depends(current_qr_url)]


def qr_code(url: str) -> Any:
    """A regular QR code (never Micro QR) at error correction M or better."""
    return segno.make_qr(url, error="m")


def qr_image(url: str, kind: str, media_type: str, **options: Any) -> Response:
    """The QR code of ``url`` as an image, with a quiet zone of 4 modules (ISO/IEC 18004)."""
    buf = io.BytesIO()
    qr_code(url).save(buf, kind=kind, scale=8, border=4, **options)
    return Response(buf.getvalue(), media_type=media_type)


@router.get(
    "/orders/{order_id}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def qr_png(url: QrUrlDep) -> Response:
    """Render the current QR code of a scope as PNG (issues one if none is valid)."""
    return qr_image(url, "png", "image/png")


@router.get(
    "/orders/{order_id}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def qr_svg(url: QrUrlDep) -> Response:
    """Render the current QR code of a scope as SVG (issues one if none is valid)."""
    # A standalone SVG document (XML declaration, SVG namespace) that <img> and browsers
    # accept, not an inline fragment for HTML.
    return qr_image(url, "svg", "image/svg+xml", title="Heyan QR")


@router.post("/orders/{order_id}/reverify", response_model=OrderOut)
async def reverify(
    order_id: str, body: ReverifyIn, db: DbDep, provider_id: ProviderDep
) -> OrderOut:
    """Reset the subject part or one website part (重核主体 / 重核网站)."""
    bundle = await service.load_bundle(db, order_id, provider_id)
    await transitions.reverify(db, bundle, body.part)
    bundle = await service.load_bundle(db, order_id, provider_id)
    return await views.order_view(db, bundle)


@router.get("/orders/{order_id}/events", response_model=EventPage)
async def events(
    order_id: str,
    db: DbDep,
    provider_id: ProviderDep,
    after: int = Query(0, ge=0, le=2**63 - 1),
    limit: int = Query(100, ge=1, le=500),
) -> EventPage:
    """Read the order's append-only event trail."""
    await service.load_bundle(db, order_id, provider_id)
    rows = list(
        (
            await db.execute(
                select(Event)
                .where(Event.order_id == order_id, Event.id > after)
                .order_by(Event.id)
                .limit(limit + 1)
            )
        ).scalars()
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    return EventPage(
        items=[views.event_out(e) for e in rows],
        next_cursor=rows[-1].id if rows else after,
        has_more=has_more,
    )


@router.get("/orders/{order_id}/materials", response_model=list[MaterialListItem])
async def list_materials(
    order_id: str, db: DbDep, provider_id: ProviderDep
) -> list[MaterialListItem]:
    """List the order's materials with their checks and extracted fields."""
    bundle = await service.load_bundle(db, order_id, provider_id)
    return await views.material_list(db, bundle)


@router.get(
    "/orders/{order_id}/materials/{material_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "video/mp4": {}}}},
)
async def download_material(
    order_id: str, material_id: str, db: DbDep, ctx: CtxDep, provider_id: ProviderDep
) -> StreamingResponse:
    """Download one stored material."""
    await service.load_bundle(db, order_id, provider_id)
    m = await db.get(Material, material_id)
    if m is None or m.order_id != order_id or m.storage_key is None:
        raise NotFound(code="MATERIAL_NOT_FOUND", zh="材料不存在", en="Material not found")
    try:
        # Streamed from the store, decrypted chunk by chunk: never the whole file in memory
        # (whole-file GCM files, the small ones, are checked whole before the first byte).
        chunks = await asyncio.to_thread(ctx.storage.open_stream, m.storage_key)
    except FileNotFoundError:  # purged between the row read and the file read
        raise NotFound(
            code="MATERIAL_NOT_FOUND", zh="材料不存在", en="Material not found"
        ) from None
    ext = materials.EXT.get(m.content_type, "bin")
    return StreamingResponse(
        chunks,
        media_type=m.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{m.step}-{m.id}.{ext}"',
            "ETag": f'"{m.sha256}"',
            "Content-Length": str(m.size),
        },
    )
