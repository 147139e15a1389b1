"""Provider endpoints of the filing step, and the public check of a verification sheet."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from app.deps import CtxDep, DbDep, ProviderDep
from app.filing import service
from app.orders.service import load_bundle

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
