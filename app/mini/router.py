"""Mini-program API (/m/v1): open a session from a QR scan, read it, get a liveness challenge."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from app.core.errors import NotFound
from app.deps import CaptureSessionDep, CtxDep, DbDep, client_ip
from app.mini import service
from app.mini.schemas import (
    AcknowledgementIn,
    AcknowledgementOut,
    ChallengeIn,
    ChallengeOut,
    SessionIn,
    SessionOpened,
    SessionOut,
    SmsCodeIn,
    SmsCodeOut,
    VocabularyOut,
)
from app.mini.vocabulary import NOTICES, vocabulary
from app.models.orders import Order
from app.orders.service import load_bundle, record_event

PAGE = Path(__file__).resolve().parents[1] / "static" / "m"
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "heyan-client.js": "text/javascript; charset=utf-8",
}

router = APIRouter(prefix="/m/v1", tags=["mini-program"])
landing = APIRouter(tags=["mini-program"])


@router.post("/sessions", status_code=201, response_model=SessionOpened)
async def open_session(body: SessionIn, db: DbDep, ctx: CtxDep, request: Request) -> SessionOpened:
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
    view = service.session_view(session, bundle, service.consent_terms(ctx))
    return SessionOpened(**dict(view), session_token=token)


@router.get("/session", response_model=SessionOut)
async def read_session(session: CaptureSessionDep, db: DbDep, ctx: CtxDep) -> SessionOut:
    """Read the session: its steps, which are done, which is next, and the masked order data."""
    bundle = await load_bundle(db, session.order_id)
    return service.session_view(session, bundle, service.consent_terms(ctx))


@router.post("/liveness/challenge", status_code=201, response_model=ChallengeOut)
async def challenge(
    session: CaptureSessionDep, db: DbDep, ctx: CtxDep, body: ChallengeIn | None = None
) -> ChallengeOut:
    """Get a single-use liveness challenge; needs the person's separate face-processing consent."""
    await service.check_face_attempts(db, session)
    consent = body.consent.model_dump(mode="json") if body and body.consent else None
    row = await service.new_challenge(db, ctx, session, consent)
    return service.challenge_view(row)


@router.post("/sms-codes", status_code=200, response_model=SmsCodeOut)
async def sms_codes(body: SmsCodeIn, db: DbDep, ctx: CtxDep, request: Request) -> SmsCodeOut:
    """Send a 6-digit code to the mobile of the person who verifies in this QR's scope (the
    order's number, never one typed in); `preview` only shows it masked. Then open the session
    with platform "sms" and the code. 429 SMS_RATE_LIMITED (Retry-After) on the 60-second
    cool-down and the daily caps, 503 SMS_GATEWAY_UNAVAILABLE when no text could be sent."""
    return await service.send_sms_code(
        db, ctx, qr_token=body.qr_token, client_ip=client_ip(request), preview=body.preview
    )


@router.post("/acknowledgements", status_code=201, response_model=AcknowledgementOut)
async def acknowledge(
    body: AcknowledgementIn, session: CaptureSessionDep, db: DbDep
) -> AcknowledgementOut:
    """Record that the person read the notices ("请勿帮他人核验", the shooting instructions)."""
    order = await db.get(Order, session.order_id)
    assert order is not None
    recorded = sorted(set(body.notices))
    await record_event(
        db, order, "notice.acknowledged", session=session,
        data={
            "notices": {n: NOTICES[n]["version"] for n in recorded},
            "accepted_at": body.accepted_at.isoformat(),
        },
    )  # fmt: skip
    return AcknowledgementOut(recorded=recorded)


@router.get("/vocabulary", response_model=VocabularyOut)
async def read_vocabulary() -> VocabularyOut:
    """Step titles, blocked reasons, statuses, every check's message, the notices and the
    flow's errors in Chinese and English: the same tables the API answers from."""
    return vocabulary()


@landing.get("/m/qr", response_class=HTMLResponse, include_in_schema=False)
async def qr_landing(t: str = "") -> FileResponse:
    """The QR URL opened in any phone browser: the capture web app (app/static/m), which
    walks through this same API with the SMS code as the phone proof."""
    del t  # read by the page itself, from its own address
    return FileResponse(
        PAGE / "index.html",
        media_type="text/html; charset=utf-8",
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",  # the QR token is in the address
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                "style-src 'self'; script-src 'self'; connect-src 'self'; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
            ),
            "Permissions-Policy": "camera=(self), microphone=(self)",
        },
    )


@landing.get("/m/app/{name}", include_in_schema=False)
async def page_asset(name: str) -> FileResponse:
    """The page's own script, style and client library (no CDN, no web fonts)."""
    if name not in ASSETS:
        raise NotFound()
    return FileResponse(PAGE / name, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})
