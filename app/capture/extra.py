"""Upload endpoints of the extra documents (POST /m/v1/captures/authorisation_letter,
/m/v1/captures/domain_certificate:{website_id} and /m/v1/captures/pledge_photo): the
streamed multipart body is read here, the checks and the state change are
app/filing/extra.py's. Mounted before the generic /captures/{step} route, which takes the
ID, face and sheet steps."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.capture.router import PHOTO_MULTIPART
from app.capture.upload import read_form
from app.core.openapi import PROBLEM_RESPONSES
from app.deps import CaptureSessionDep, CtxDep, DbDep
from app.filing import extra
from app.mini.schemas import CaptureOut

router = APIRouter(prefix="/m/v1", tags=["mini-program"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {**PROBLEM_RESPONSES[422], "description": "CAPTURE_REJECTED with the checks"}
}


async def _take(request: Request, session: Any, db: Any, ctx: Any, name: str) -> CaptureOut:
    s = ctx.settings
    form = await read_form(
        request.headers.get("content-type", ""),
        request.stream(),
        limits={"file": s.max_image_bytes},
        default_limit=s.max_image_bytes,
        total_limit=2 * s.max_image_bytes,
        content_length=request.headers.get("content-length"),
        idle_timeout=s.upload_idle_timeout_seconds,
        total_timeout=s.upload_timeout_seconds,
    )
    part = form.file("file")
    if part is None:
        raise extra.FileMissing()
    return await extra.take(db, ctx, session, name, bytes(part.data))


@router.post("/captures/authorisation_letter", status_code=201, response_model=CaptureOut,
             openapi_extra=PHOTO_MULTIPART, responses=_RESPONSES)  # fmt: skip
async def authorisation_letter(
    request: Request, session: CaptureSessionDep, db: DbDep, ctx: CtxDep
) -> CaptureOut:
    """Upload the 法人授权书 of a service principal who is not the legal representative."""
    return await _take(request, session, db, ctx, "authorisation_letter")


@router.post("/captures/domain_certificate:{website_id}", status_code=201,
             response_model=CaptureOut, openapi_extra=PHOTO_MULTIPART,
             responses=_RESPONSES)  # fmt: skip
async def domain_certificate(
    website_id: str, request: Request, session: CaptureSessionDep, db: DbDep, ctx: CtxDep
) -> CaptureOut:
    """Upload a website's 域名证书: its domain must be the website's, its holder the subject."""
    return await _take(request, session, db, ctx, f"domain_certificate:{website_id}")


@router.post("/captures/pledge_photo", status_code=201, response_model=CaptureOut,
             openapi_extra=PHOTO_MULTIPART, responses=_RESPONSES)  # fmt: skip
async def pledge_photo(
    request: Request, session: CaptureSessionDep, db: DbDep, ctx: CtxDep
) -> CaptureOut:
    """Upload the photo of the signed 承诺书 (requirements.pledge_photo): its title, the pledge
    text confirmed in the session, a date, the signature and a unit's seal are checked."""
    return await _take(request, session, db, ctx, "pledge_photo")
