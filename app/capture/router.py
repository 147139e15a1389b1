"""Capture endpoints (/m/v1/captures): thin, the work is in app.capture.service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from app.capture import service
from app.capture.upload import read_form
from app.core.openapi import PROBLEM_RESPONSES
from app.deps import CaptureSessionDep, CtxDep, DbDep, ProviderDep
from app.mini.schemas import CaptureOut, PrecheckOut
from app.orders.schemas import ProviderPrecheckOut

router = APIRouter(prefix="/m/v1", tags=["mini-program"])
provider_router = APIRouter(prefix="/v1", tags=["provider"])

_MULTIPART = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": "document photo (jpg/png/gif, at most 4 MB)"},
                        "video": {"type": "string", "format": "binary",
                                  "description": "face step: mp4/mov/webm, at most 20 MB, 15 s"},
                        "frames": {"type": "array",
                                   "items": {"type": "string", "format": "binary"},
                                   "description": "face step: at least 10 JPEG frames"},
                        "timestamps": {"type": "string",
                                       "description": "face step with frames: ms per frame, "
                                                      "JSON list or comma-separated"},
                        "captured_at": {"type": "string",
                                        "description": "face step with frames, optional: "
                                                       "epoch ms of the first frame"},
                        "challenge_id": {"type": "string",
                                         "description": "face step: from /m/v1/liveness/challenge"},
                        "mirrored": {"type": "string", "enum": ["true", "false"],
                                     "description": "face step: true when the frames are the "
                                                    "mirrored front-camera preview (turns flip)"},
                    },
                }
            }
        },
    }
}  # fmt: skip


# The pre-checks take one document photo, nothing else.
# One photo (a document step, the precheck; app/capture/extra.py uses it too).
PHOTO_MULTIPART = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": "document photo (jpg/png/gif, at most 4 MB)"},
                    },
                    "required": ["file"],
                }
            }
        },
    }
}  # fmt: skip


async def _form(request: Request, ctx: CtxDep) -> Any:
    s = ctx.settings
    return await read_form(
        request.headers.get("content-type", ""),
        request.stream(),
        limits={"file": s.max_image_bytes, "frames": s.max_image_bytes, "video": s.max_video_bytes},
        default_limit=s.max_image_bytes,
        total_limit=s.max_video_bytes + 2 * s.max_image_bytes,
        content_length=request.headers.get("content-length"),
        idle_timeout=s.upload_idle_timeout_seconds,
        total_timeout=s.upload_timeout_seconds,
    )


@router.post(
    "/captures/{step}",
    status_code=201,
    response_model=CaptureOut,
    openapi_extra=_MULTIPART,
    responses={
        422: {
            **PROBLEM_RESPONSES[422],
            "description": "CAPTURE_REJECTED with the checks, or bad input",
        }
    },
)
async def capture(
    step: str,
    request: Request,
    session: CaptureSessionDep,
    db: DbDep,
    ctx: CtxDep,
) -> CaptureOut:
    """Upload one capture for a step; the answer lists every check and what to do."""
    form = await _form(request, ctx)
    return await service.take_capture(db, ctx, session, step, form)  # 201: stored


@router.post("/precheck", response_model=PrecheckOut, openapi_extra=PHOTO_MULTIPART)
async def precheck(
    request: Request,
    session: CaptureSessionDep,
    db: DbDep,
    ctx: CtxDep,
    step: str = Query(
        description="a document step of this session, e.g. subject_principal_id_front"
    ),
) -> PrecheckOut:
    """Pre-check a document photo (预检): the same checks, nothing stored, no state change."""
    form = await _form(request, ctx)
    return await service.precheck_step(db, ctx, session, step, form)


@provider_router.post(
    "/precheck", response_model=ProviderPrecheckOut, openapi_extra=PHOTO_MULTIPART
)
async def provider_precheck(
    request: Request,
    db: DbDep,
    ctx: CtxDep,
    provider_id: ProviderDep,
    kind: str = Query("id_front", description="document kind, e.g. id_front, business_licence"),
    order_id: str | None = Query(None, description="cross-check with this order"),
    step: str | None = Query(None, description="with order_id: the step, e.g. subject_document"),
) -> ProviderPrecheckOut:
    """Pre-check a document photo uploaded on the provider's PC (unmasked fields)."""
    form = await _form(request, ctx)
    return await service.precheck_provider(db, ctx, provider_id, kind, form, order_id, step)
