"""Capture endpoints (/m/v1/captures): thin, the work is in app.capture.service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.capture import service
from app.capture.upload import read_form
from app.deps import CaptureSessionDep, CtxDep, DbDep
from app.mini.schemas import CaptureOut

router = APIRouter(prefix="/m/v1", tags=["mini-program"])

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
                        "challenge_id": {"type": "string",
                                         "description": "face step: from /m/v1/liveness/challenge"},
                    },
                }
            }
        },
    }
}  # fmt: skip


@router.post(
    "/captures/{step}",
    status_code=201,
    response_model=CaptureOut,
    openapi_extra=_MULTIPART,
    responses={422: {"description": "CAPTURE_REJECTED with the checks, or bad input"}},
)
async def capture(
    step: str, request: Request, session: CaptureSessionDep, db: DbDep, ctx: CtxDep
) -> Any:
    """Upload one capture for a step; the answer lists every check and what to do."""
    s = ctx.settings
    form = await read_form(
        request.headers.get("content-type", ""),
        request.stream(),
        limits={"file": s.max_image_bytes, "frames": s.max_image_bytes, "video": s.max_video_bytes},
        default_limit=s.max_image_bytes,
        total_limit=s.max_video_bytes + 2 * s.max_image_bytes,
    )
    status, body = await service.take_capture(db, ctx, session, step, form)
    return JSONResponse(body, status_code=status)
