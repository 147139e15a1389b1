"""Provider endpoints of the filing step, and the public check of a verification sheet."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from app.context import AppContext
from app.deps import CaptureSessionDep, CtxDep, DbDep, ProviderDep
from app.filing import package as packaging
from app.filing import pledge, service, template
from app.filing.composite import Fitted
from app.filing.profiles import PROFILES, Profile, get_profile, provider_default
from app.filing.schemas import (
    PledgeAccepted,
    PledgeIn,
    PledgeOut,
    SheetCheckOut,
    SmsDoneIn,
    SmsOut,
)
from app.models.orders import Event
from app.orders import method, vocabulary
from app.orders.materials import _safe, current_materials
from app.orders.service import checks_for, load_bundle
from app.orders.views import check_dict

router = APIRouter(prefix="/v1", tags=["filing"])
public_router = APIRouter(prefix="/v1", tags=["public"])
# The 承诺书 step of a capture session: here, beside the province table its text comes from.
mini_router = APIRouter(prefix="/m/v1", tags=["mini-program"])


@mini_router.get("/pledge", response_model=PledgeOut)
async def read_pledge(session: CaptureSessionDep, db: DbDep) -> PledgeOut:
    """Read the 备案真实性承诺书 this order's person confirms: text, version and its SHA-256."""
    return pledge.view(await load_bundle(db, session.order_id), session)


@mini_router.post(
    "/pledge",
    status_code=201,
    response_model=PledgeAccepted,
    responses={200: {"description": "already confirmed", "model": PledgeAccepted}},
)
async def accept_pledge(
    body: PledgeIn, session: CaptureSessionDep, db: DbDep, ctx: CtxDep, response: Response
) -> PledgeAccepted:
    """Confirm the pledge, echoing the SHA-256 of the text shown (idempotent: 200 when done)."""
    status, out = await pledge.accept(
        db, ctx, session, version=body.version, text_sha256=body.text_sha256,
        client_accepted_at=body.accepted_at.isoformat() if body.accepted_at else None,
    )  # fmt: skip
    response.status_code = status
    return out


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


@router.get(
    "/orders/{order_id}/verification-sheet-template.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def verification_sheet_template(
    order_id: str, db: DbDep, ctx: CtxDep, provider_id: ProviderDep
) -> Response:
    """Download the printable sheet template (下载核验单模板), pre-filled with the order and
    laid out by its province's rules (signature, seal, fingerprint, pledge, domains)."""
    bundle = await load_bundle(db, order_id, provider_id)
    pdf = await ctx.pipeline.run(template.render_template, bundle)
    rules = template.template_rules(bundle)
    name = quote(f"核验单模板-{bundle.order.external_id}.pdf")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
            "Heyan-Sheet-Province": quote(rules.province or ""),
        },
    )


@public_router.get("/verify-sheet/{code}", response_model=SheetCheckOut)
async def verify_sheet(code: str, db: DbDep) -> SheetCheckOut:
    """Confirm a printed verification sheet by its code (public: no API key, no personal data)."""
    return await service.verify_sheet(db, code)


@router.post("/orders/{order_id}/submitted", response_model=SmsOut)
async def submitted(
    order_id: str, db: DbDep, provider_id: ProviderDep, response: Response
) -> SmsOut:
    """Mark the order submitted to the authority and start the 24-hour SMS check; idempotent."""
    bundle = await load_bundle(db, order_id, provider_id)
    if await service.submit(db, bundle):
        response.status_code = 201
    return await service.sms_view(db, bundle)


@router.get("/orders/{order_id}/sms", response_model=SmsOut)
async def sms_view(order_id: str, db: DbDep, provider_id: ProviderDep) -> SmsOut:
    """Show who must finish the SMS check (短信核验), by when, and who has."""
    bundle = await load_bundle(db, order_id, provider_id)
    return await service.sms_view(db, bundle)


@router.post("/orders/{order_id}/sms-done", response_model=SmsOut)
async def sms_done(order_id: str, body: SmsDoneIn, db: DbDep, provider_id: ProviderDep) -> SmsOut:
    """Record that a person finished the SMS check; idempotent."""
    bundle = await load_bundle(db, order_id, provider_id)
    await service.sms_done(db, bundle, body.person_id, body.done_at)
    return await service.sms_view(db, bundle)


# The materials downloads: under the provider tag with the other order endpoints, mounted
# before them so /materials/id-composite is not read as a material id.
materials_router = APIRouter(prefix="/v1", tags=["provider"])

PROFILE_DESCRIPTION = (
    "Output profile: what the filing system accepts (format, dpi, size limits, composite "
    f"layout). One of: {', '.join(PROFILES)}; unknown → 422 PROFILE_UNKNOWN. Default: the "
    "provider's (OUTPUT_PROFILES), else original"
)


def _profile_query() -> Any:
    return Query(None, min_length=1, description=PROFILE_DESCRIPTION)


def _chosen(profile: str | None, ctx: AppContext, provider_id: str) -> Profile:
    return get_profile(profile or provider_default(ctx.settings.output_profiles, provider_id))


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
    profile: str | None = _profile_query(),
) -> Response:  # fmt: skip
    """Download the ID composite: 人像面 and 国徽面 on one JPEG, laid out and limited by the
    profile (default: side by side, 300 dpi, ≤ 2 MB)."""
    chosen = _chosen(profile, ctx, provider_id)
    bundle = await load_bundle(db, order_id, provider_id)
    out = await ctx.pipeline.run(packaging.composite_for, bundle, ctx.storage, person, chosen)
    return Response(
        out.data,
        media_type=out.content_type,
        headers={
            "Content-Disposition": "attachment; filename=id-composite.jpg",
            "Heyan-Profile": chosen.name,
        },
    )


@materials_router.get(
    "/orders/{order_id}/package.zip",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
async def package(
    order_id: str, db: DbDep, ctx: CtxDep, provider_id: ProviderDep,
    profile: str | None = _profile_query(),
) -> StreamingResponse:  # fmt: skip
    """Download every accepted material, the ID composites and a manifest, as one zip, each
    image fitted to the profile's limits (the manifest records what was changed)."""
    chosen = _chosen(profile, ctx, provider_id)
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
    extra: list[tuple[str, bytes, Fitted | None]] = []
    people = [("subject_principal", bundle.shape.subject_principal)] + [
        (f"website:{w.id}", w.principal) for w in bundle.shape.websites
    ]
    seen: set[str] = set()
    for key, p in people:
        if p.id in seen or p.doc_type not in vocabulary.TWO_SIDED_DOCUMENTS:
            continue
        seen.add(p.id)
        if bundle.current(p.id, "id_front") and bundle.current(p.id, "id_back"):
            out = await ctx.pipeline.run(packaging.composite_for, bundle, ctx.storage, key, chosen)
            name = bundle.principals[p.id].name
            extra.append((f"证件合成图-{_safe(name)}.jpg", out.data, out))
    # The 法人授权书 and 域名证书 stitched with the ID or the licence ("拼成一张图片").
    for name, fitted in await ctx.pipeline.run(
        packaging.extra_composites, bundle, ctx.storage, chosen
    ):
        extra.append((name, fitted.data, fitted))
    # The electronic verification sheet (电子版用户真实性核验单), with its code recorded.
    sheet_name, sheet_pdf = await service.sheet_file(
        db, bundle, ctx.storage, ctx.settings.signing_key()
    )
    extra.append((sheet_name, sheet_pdf, None))
    filename = f"heyan-{bundle.order.external_id}.zip"
    return StreamingResponse(
        packaging.package_zip(bundle, ctx.storage, checks, events, extra, how, chosen),
        media_type="application/zip",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "Heyan-Profile": chosen.name,
        },
    )
