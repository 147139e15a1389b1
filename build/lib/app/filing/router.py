"""Provider endpoints of the filing step, and the public check of a verification sheet."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from app.deps import CtxDep, DbDep, ProviderDep
from app.filing import package as packaging
from app.filing import service
from app.models.orders import Event
from app.orders import method, state
from app.orders.materials import _safe, current_materials
from app.orders.service import check_dict, checks_for, load_bundle

router = APIRouter(prefix="/v1", tags=["filing"])
public_router = APIRouter(prefix="/v1", tags=["public"])


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


@router.get(
    "/orders/{order_id}/verification-sheet.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def verification_sheet(
    order_id: str, db: DbDep, ctx: CtxDep, provider_id: ProviderDep
) -> Response:
    """Download the electronic verification sheet (电子版用户真实性核验单) as PDF."""
    bundle = await load_bundle(db, order_id, provider_id)
    sheet, row = await service.issue_sheet(
        db, bundle, ctx.storage, ctx.settings.signing_key(), run=ctx.pipeline.run
    )
    name = quote(f"核验单-{bundle.order.external_id}.pdf")
    return Response(
        sheet.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
            "ETag": f'"{sheet.sha256}"',
            "Heyan-Sheet-Code": row.code,
        },
    )


@public_router.get("/verify-sheet/{code}", response_model=SheetCheckOut)
async def verify_sheet(code: str, db: DbDep) -> dict[str, Any]:
    """Confirm a printed verification sheet by its code (public: no API key, no personal data)."""
    return await service.verify_sheet(db, code)


@router.post("/orders/{order_id}/submitted", response_model=SmsOut)
async def submitted(
    order_id: str, db: DbDep, provider_id: ProviderDep, response: Response
) -> dict[str, Any]:
    """Mark the order submitted to the authority and start the 24-hour SMS check; idempotent."""
    bundle = await load_bundle(db, order_id, provider_id)
    if await service.submit(db, bundle):
        response.status_code = 201
    return await service.sms_view(db, bundle)


@router.get("/orders/{order_id}/sms", response_model=SmsOut)
async def sms_view(order_id: str, db: DbDep, provider_id: ProviderDep) -> dict[str, Any]:
    """Show who must finish the SMS check (短信核验), by when, and who has."""
    bundle = await load_bundle(db, order_id, provider_id)
    return await service.sms_view(db, bundle)


@router.post("/orders/{order_id}/sms-done", response_model=SmsOut)
async def sms_done(
    order_id: str, body: SmsDoneIn, db: DbDep, provider_id: ProviderDep
) -> dict[str, Any]:
    """Record that a person finished the SMS check; idempotent."""
    bundle = await load_bundle(db, order_id, provider_id)
    await service.sms_done(db, bundle, body.person_id, body.done_at)
    return await service.sms_view(db, bundle)


# The materials downloads: under the provider tag with the other order endpoints, mounted
# before them so /materials/id-composite is not read as a material id.
materials_router = APIRouter(prefix="/v1", tags=["provider"])


@materials_router.get(
    "/orders/{order_id}/materials/id-composite",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def id_composite(
    order_id: str, db: DbDep, ctx: CtxDep, provider_id: ProviderDep,
    person: str = Query(
        "subject_principal", min_length=1, description="subject_principal or website:<id>"
    ),
) -> Response:  # fmt: skip
    """Download the ID composite (人像面 left, 国徽面 right, one JPEG at 300 dpi, ≤ 2 MB)."""
    bundle = await load_bundle(db, order_id, provider_id)
    data = await ctx.pipeline.run(packaging.id_composite, bundle, ctx.storage, person)
    return Response(
        data,
        media_type="image/jpeg",
        headers={"Content-Disposition": "attachment; filename=id-composite.jpg"},
    )


@materials_router.get(
    "/orders/{order_id}/package.zip",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
async def package(
    order_id: str, db: DbDep, ctx: CtxDep, provider_id: ProviderDep
) -> StreamingResponse:
    """Download every accepted material, the ID composites and a manifest, as one zip."""
    bundle = await load_bundle(db, order_id, provider_id)
    current = current_materials(bundle)
    ids = {m.id for m in current} | set(method.current_uploads(bundle.materials))
    rows = await checks_for(db, sorted(ids))
    checks = {mid: [check_dict(r) for r in rs] for mid, rs in rows.items()}
    how = method.derive(bundle.materials, rows)
    events = list(
        (
            await db.execute(select(Event).where(Event.order_id == order_id).order_by(Event.id))
        ).scalars()
    )
    extra: list[tuple[str, bytes]] = []
    people = [("subject_principal", bundle.shape.subject_principal)] + [
        (f"website:{w.id}", w.principal) for w in bundle.shape.websites
    ]
    seen: set[str] = set()
    for key, p in people:
        if p.id in seen or p.doc_type not in state.TWO_SIDED_DOCUMENTS:
            continue
        seen.add(p.id)
        if bundle.current(p.id, "id_front") and bundle.current(p.id, "id_back"):
            data = await ctx.pipeline.run(packaging.id_composite, bundle, ctx.storage, key)
            name = bundle.principals[p.id].name
            extra.append((f"证件合成图-{_safe(name)}.jpg", data))
    # The electronic verification sheet (电子版用户真实性核验单), with its code recorded.
    extra.append(await service.sheet_file(db, bundle, ctx.storage, ctx.settings.signing_key()))
    filename = f"heyan-{bundle.order.external_id}.zip"
    return StreamingResponse(
        packaging.package_zip(bundle, ctx.storage, checks, events, extra, how),
        media_type="application/zip",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )
