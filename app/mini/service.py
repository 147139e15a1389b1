"""Mini-program sessions: scan a QR token, prove the phone, see the steps."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import AppContext
from app.core.errors import AppError, Conflict
from app.documents.validators import mask_id_number, mask_mobile, mask_name
from app.liveness.challenge import ChallengeSpec, make_challenge
from app.liveness.flash import flash_to_json, make_flash_sequence
from app.mini import sms
from app.mini.schemas import (
    ChallengeOut,
    ChallengeStepOut,
    ConsentTerms,
    OrderView,
    PersonView,
    SessionOut,
    SmsCodeOut,
    StepView,
    WebsiteView,
)
from app.models.orders import CaptureSession, Challenge, Material, Order, QrToken, new_id, utcnow
from app.orders import abuse, service, state
from app.orders.service import Bundle
from app.orders.vocabulary import BLOCKED_ZH, PHONE_MISMATCH_ZH, step_title
from app.security import crypto
from app.security.tokens import QrExpired, QrInvalid


class QrRevoked(AppError):
    status = 410
    code = "QR_REVOKED"
    zh = "二维码已失效(已生成新的二维码),请扫描最新的二维码"
    en = "The QR code was revoked by a newer one"


class PhoneMismatch(Conflict):
    code = "PHONE_MISMATCH"
    keeps_writes = True  # the refused attempt is an event the provider sees


class QrLocked(AppError):
    status = 423
    code = "QR_LOCKED"
    zh = "手机号码不一致次数过多,该二维码已锁定,请联系接入商重新生成二维码"
    en = "Too many phone mismatches: this QR code is locked"


class SessionActive(Conflict):
    code = "SESSION_ACTIVE"
    zh = "该二维码正在另一台手机上核验,请在原手机上继续或稍后重试"
    en = "Another phone holds an active session for this QR code"


class ConsentRequired(AppError):
    status = 428
    code = "CONSENT_REQUIRED"
    zh = "请先阅读并同意《人脸信息处理授权书》后再进行人脸核验"
    en = "Separate consent to face processing is required first"


MAX_PHONE_MISMATCHES = 5


async def resolve_qr(db: AsyncSession, ctx: AppContext, qr_token: str, now: datetime) -> QrToken:
    """The QR token's row, if it may still be scanned (QR_INVALID, _EXPIRED, _REVOKED, _LOCKED)."""
    if ctx.codec.is_short_qr(qr_token):
        # The short token names its row; order, scope and expiry are the row's.
        row = await db.get(QrToken, ctx.codec.read_short_qr(qr_token))
        if row is None:
            raise QrInvalid()
        if row.expires_at <= now:
            raise QrExpired()
    else:
        # A JWT QR token issued before the short format: accepted until it expires.
        claims = ctx.codec.read_qr(qr_token, now)
        row = await db.get(QrToken, claims.token_id)
        if row is None or row.order_id != claims.order_id or row.scope != claims.scope:
            raise QrInvalid()
    if row.revoked_at is not None:
        raise QrRevoked()
    if row.mismatch_count >= MAX_PHONE_MISMATCHES:
        raise QrLocked()
    return row


async def scope_target(db: AsyncSession, row: QrToken) -> tuple[Bundle, Any, str]:
    """The order, the person who verifies in the QR's scope, and their role."""
    bundle = await service.load_bundle(db, row.order_id)
    try:
        person, role = state.scope_person(bundle.shape, row.scope)
    except state.ScopeNeedsSplit:
        raise service.ScopeNeedsSplit() from None
    return bundle, person, role


async def send_sms_code(
    db: AsyncSession, ctx: AppContext, *, qr_token: str, client_ip: str | None, preview: bool
) -> SmsCodeOut:
    """POST /m/v1/sms-codes: a code to the mobile of the person of the QR's scope."""
    row = await resolve_qr(db, ctx, qr_token, utcnow())
    bundle, person, _role = await scope_target(db, row)
    mobile = bundle.principals[person.id].mobile
    return await sms.send_code(
        db, ctx, qr=row, order=bundle.order, mobile=mobile, client_ip=client_ip, preview=preview
    )


async def open_session(
    db: AsyncSession,
    ctx: AppContext,
    *,
    qr_token: str,
    platform: str,
    proof: dict[str, Any],
    client_ip: str | None,
    device_id: str | None = None,
) -> tuple[CaptureSession, str, Bundle]:
    now = utcnow()

    row = await resolve_qr(db, ctx, qr_token, now)
    bundle, person, role = await scope_target(db, row)
    principal = bundle.principals[person.id]
    if platform == "sms":
        # The code went to the order's own number for this scope: it proves that number.
        await sms.verify_code(
            db, ctx, qr=row, order=bundle.order, mobile=principal.mobile, proof=proof,
            client_ip=client_ip,
        )  # fmt: skip
        mobile = principal.mobile
    else:
        mobile = await ctx.phones.get(platform).resolve(proof)
    await abuse.verification_started(db, ctx, bundle.order, principal, mobile, device_id)
    if mobile != principal.mobile:
        await db.execute(
            update(QrToken)
            .where(QrToken.id == row.id)
            .values(mismatch_count=QrToken.mismatch_count + 1)
        )
        await service.record_event(
            db,
            bundle.order,
            "scan.refused",
            part=None,
            client_ip=client_ip,
            platform=platform,
            phone_masked=mask_mobile(mobile),
            data={"reason": "PHONE_MISMATCH", "scope": row.scope, "role": role},
        )
        raise PhoneMismatch(
            zh=PHONE_MISMATCH_ZH[role],
            en=f"The phone bound to the mini-program is not the {role.replace('_', ' ')}'s",
        )
    phone_hmac = crypto.blind_index(f"{platform}:{device_id or ''}:{mobile}", "device")
    active = list(
        (
            await db.execute(
                select(CaptureSession).where(
                    CaptureSession.qr_token_id == row.id, CaptureSession.expires_at > now
                )
            )
        ).scalars()
    )
    if any(a.phone_hmac != phone_hmac for a in active):
        raise SessionActive()
    for a in active:  # the same phone and device scanning again: its older session ends
        a.expires_at = now
    session = CaptureSession(
        id=new_id(),
        order_id=bundle.order.id,
        qr_token_id=row.id,
        scope=row.scope,
        person_id=person.id,
        platform=platform,
        phone_masked=mask_mobile(mobile),
        phone_hmac=phone_hmac,
        client_ip=client_ip,
        created_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.session_ttl_seconds),
    )
    db.add(session)
    await db.flush()
    await service.record_event(
        db, bundle.order, "session.opened", session=session, data={"scope": row.scope}
    )
    token = ctx.codec.session_token(session.id, session.expires_at)
    return session, token, bundle


def session_view(session: CaptureSession, bundle: Bundle, consent: dict[str, str]) -> SessionOut:
    shape = bundle.shape
    evidence = bundle.evidence
    steps = state.scope_steps(shape, session.scope)
    nxt = state.next_step(shape, steps, evidence)
    o = bundle.order
    person = bundle.principals[session.person_id]
    _, role = state.scope_person(shape, session.scope)
    status = state.derive_status(shape, evidence)
    websites = bundle.websites
    if session.scope.startswith("website:"):
        websites = [w for w in websites if f"website:{w.id}" == session.scope]
    individual = o.subject_nature == "individual"
    return SessionOut(
        expires_at=session.expires_at,
        scope=session.scope,
        steps=[
            StepView(
                step=s.name,
                title=step_title(s.name),
                done=state.step_done(s, evidence),
                available=state.blocker(shape, s, evidence) is None,
                blocked_reason=BLOCKED_ZH.get(state.blocker(shape, s, evidence) or ""),
            )
            for s in steps
        ],
        next_step=nxt.name if nxt else None,
        face_consent=ConsentTerms(**consent),
        order=OrderView(
            status=status.value,
            status_zh=state.STATUS_ZH[status],
            # An individual's subject name is a person's name: masked like any name.
            subject_name=mask_name(o.subject_name) if individual else o.subject_name,
            subject_nature=o.subject_nature,
            subject_document_type=o.subject_doc_type,
            subject_document_number=mask_id_number(o.subject_doc_number),
            person=PersonView(
                role=role,
                name=mask_name(person.name),
                document_type=person.doc_type,
                document_number=mask_id_number(person.doc_number),
                mobile=mask_mobile(person.mobile),
            ),
            websites=[WebsiteView(id=w.id, name=w.name, domains=w.domains) for w in websites],
        ),
    )


def consent_terms(ctx: AppContext) -> dict[str, str]:
    text = ctx.settings.face_consent_text
    return {
        "version": ctx.settings.face_consent_version,
        "text": text,
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


async def new_challenge(
    db: AsyncSession,
    ctx: AppContext,
    session: CaptureSession,
    consent: dict[str, Any] | None,
) -> Challenge:
    """A challenge needs the person's separate consent to face processing (PIPL Art. 29)."""
    terms = consent_terms(ctx)
    if (
        not consent
        or consent.get("version") != terms["version"]
        or consent.get("text_sha256") != terms["text_sha256"]
    ):
        raise ConsentRequired(extra={"consent": terms})
    spec = make_challenge(
        ctx.settings.liveness_action_pool(),
        ctx.settings.liveness_challenge_length,
        digits=ctx.settings.liveness_digits,
    )
    if ctx.settings.liveness_flash:
        spec = replace(spec, flash=flash_to_json(make_flash_sequence(secrets.SystemRandom())))
    now = utcnow()
    row = Challenge(
        id=new_id(),
        session_id=session.id,
        actions=spec.actions,
        spec=spec.to_json(),
        created_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.challenge_ttl_seconds),
    )
    db.add(row)
    await db.flush()
    bundle_order = await db.get(Order, session.order_id)
    assert bundle_order is not None
    await service.record_event(
        db,
        bundle_order,
        "consent.face_accepted",
        session=session,
        data={
            "version": terms["version"],
            "text_sha256": terms["text_sha256"],
            "accepted_at": str(consent.get("accepted_at", "")),
            "challenge_id": row.id,
        },
    )
    return row


def challenge_view(row: Challenge) -> ChallengeOut:
    """What the phone shows: one step at a time, with its prompt and a timing hint."""
    spec = ChallengeSpec.from_json(row.spec, row.actions)
    steps = []
    for st in spec.steps:
        zh, en = st.prompt()
        steps.append(
            ChallengeStepOut(
                action=st.action,
                prompt_zh=zh,
                prompt_en=en,
                start_s=st.start_s,
                duration_s=st.duration_s,
                digits=st.digits,
            )
        )
    return ChallengeOut(
        challenge_id=row.id,
        nonce=spec.nonce,
        actions=list(row.actions),
        steps=steps,
        total_seconds=round(spec.total_s, 2),
        flash=spec.flash,
        expires_at=row.expires_at,
    )


FACE_MAX_FAILURES = 5
FACE_FAILURE_WINDOW = timedelta(minutes=3)
FACE_LOCKOUT = timedelta(minutes=30)


class FaceAttemptsExceeded(AppError):
    status = 429
    code = "FACE_ATTEMPTS_EXCEEDED"
    zh = "人脸核验失败次数过多,请30分钟后再试"
    en = "Too many failed face captures; try again in 30 minutes"


async def check_face_attempts(db: AsyncSession, session: CaptureSession) -> None:
    """At most 5 failed face captures within 3 minutes, then a 30-minute lock-out."""
    now = utcnow()
    failures = list(
        (
            await db.execute(
                select(Material.created_at)
                .where(
                    Material.session_id == session.id,
                    Material.step == "face",
                    Material.kind == "upload",
                    Material.accepted.is_(False),
                    Material.created_at > now - FACE_LOCKOUT - FACE_FAILURE_WINDOW,
                )
                .order_by(Material.created_at)
            )
        ).scalars()
    )
    # Find any 5 failures within a 3-minute window whose lock-out has not yet run out.
    for i in range(len(failures) - FACE_MAX_FAILURES + 1):
        window = failures[i : i + FACE_MAX_FAILURES]
        if window[-1] - window[0] <= FACE_FAILURE_WINDOW:
            until = window[-1] + FACE_LOCKOUT
            if until > now:
                retry = int((until - now).total_seconds()) + 1
                raise FaceAttemptsExceeded(
                    headers={"Retry-After": str(retry)}, extra={"retry_after_seconds": retry}
                )
