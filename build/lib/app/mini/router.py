"""Mini-program API (/m/v1): open a session from a QR scan, read it, get a liveness challenge."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import CaptureSessionDep, CtxDep, DbDep, client_ip
from app.mini import service
from app.mini.schemas import ChallengeIn, ChallengeOut, SessionIn, SessionOpened, SessionOut
from app.orders.service import load_bundle

router = APIRouter(prefix="/m/v1", tags=["mini-program"])
landing = APIRouter(tags=["mini-program"])


@router.post("/sessions", status_code=201, response_model=SessionOpened)
async def open_session(body: SessionIn, db: DbDep, ctx: CtxDep, request: Request) -> dict[str, Any]:
    """Open a capture session from a scanned QR token and a proof of the bound phone."""
    session, token, bundle = await service.open_session(
        db,
        ctx,
        qr_token=body.qr_token,
        platform=body.platform,
        proof=body.proof(),
        client_ip=client_ip(request),
        device_id=body.device_id,
    )
    return {
        "session_token": token,
        **service.session_view(session, bundle, service.consent_terms(ctx)),
    }


@router.get("/session", response_model=SessionOut)
async def read_session(session: CaptureSessionDep, db: DbDep, ctx: CtxDep) -> dict[str, Any]:
    """Read the session: its steps, which are done, which is next, and the masked order data."""
    bundle = await load_bundle(db, session.order_id)
    return service.session_view(session, bundle, service.consent_terms(ctx))


@router.post("/liveness/challenge", status_code=201, response_model=ChallengeOut)
async def challenge(
    session: CaptureSessionDep, db: DbDep, ctx: CtxDep, body: ChallengeIn | None = None
) -> dict[str, Any]:
    """Get a single-use liveness challenge; needs the person's separate face-processing consent."""
    await service.check_face_attempts(db, session)
    consent = body.consent.model_dump(mode="json") if body and body.consent else None
    row = await service.new_challenge(db, ctx, session, consent)
    return service.challenge_view(row)


@landing.get("/m/qr", response_class=HTMLResponse, include_in_schema=False)
async def qr_landing(t: str = "") -> HTMLResponse:
    """What a phone's camera app shows when it opens the QR URL outside the mini-program."""
    del t
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>核验</title>"
        "<p>请使用支付宝或微信中的核验小程序扫描此二维码完成核验。</p>"
    )
