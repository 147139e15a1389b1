"""Abuse caps per identity (Settings.abuse_caps, counted by app.access.ratelimit).

- ``id_number.verifications``, ``mobile.verifications``, ``device.verifications``,
  ``provider.verifications``: sessions opened (a verification started) per person's ID
  number (its blind index), per scanned mobile, per device id and per provider;
- ``id_number.face_failures``: refused face captures per ID number; at the limit the face
  step is refused until the window ends.

Each refusal is a 429 with Retry-After and a code of its own, an ``abuse.limited`` event on
the order (the cap and its window, never the identity) and heyan_abuse_refusals_total.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.access.ratelimit import ABUSE_REFUSALS, CapHit, IdentityCaps, identity_caps
from app.context import AppContext
from app.core.errors import AppError
from app.models.orders import CaptureSession, Order, Principal
from app.orders import service


class AbuseLimited(AppError):
    status = 429
    code = "IDENTITY_RATE_LIMITED"
    zh = "该身份证件的核验次数过多,请稍后再试"
    en = "Too many verifications for this identity document; retry later"
    keeps_writes = True  # the abuse.limited event is the provider's record of the refusal


# cap -> (code, zh, en)
REFUSALS: dict[str, tuple[str, str, str]] = {
    "id_number.verifications": (
        "IDENTITY_RATE_LIMITED",
        "该身份证件的核验次数过多,请稍后再试",
        "Too many verifications for this identity document; retry later",
    ),
    "id_number.face_failures": (
        "FACE_FAILURES_LIMITED",
        "人脸核验失败次数过多,请稍后再试",
        "Too many failed face verifications for this person; retry later",
    ),
    "mobile.verifications": (
        "MOBILE_RATE_LIMITED",
        "该手机号的核验次数过多,请稍后再试",
        "Too many verifications from this mobile number; retry later",
    ),
    "device.verifications": (
        "DEVICE_RATE_LIMITED",
        "该设备的核验次数过多,请稍后再试",
        "Too many verifications from this device; retry later",
    ),
    "provider.verifications": (
        "PROVIDER_RATE_LIMITED",
        "接入商的核验量已达上限,请稍后再试",
        "The provider's verification volume is at its cap; retry later",
    ),
}


def caps_of(ctx: AppContext) -> IdentityCaps:
    s = ctx.settings
    return identity_caps(s.abuse_cap_table(), s.rate_limit_backend, s.database_url, ctx.engine)


async def _refuse(
    db: AsyncSession, order: Order, hit: CapHit, session: CaptureSession | None
) -> AbuseLimited:
    code, zh, en = REFUSALS[hit.cap]
    detail = {"cap": hit.cap, "limit": hit.limit, "window_seconds": hit.window_seconds,
              "retry_after": hit.retry_after}  # fmt: skip
    # Committed by the request's unit of work: AbuseLimited keeps its writes.
    await service.record_event(db, order, "abuse.limited", session=session, data=detail)
    ABUSE_REFUSALS.labels(hit.cap).inc()
    return AbuseLimited(
        code=code, zh=zh, en=en, headers={"Retry-After": str(hit.retry_after)}, extra=detail
    )


async def verification_started(
    db: AsyncSession, ctx: AppContext, order: Order, principal: Principal, mobile: str,
    device_id: str | None,
) -> None:  # fmt: skip
    """Count a session about to open against the four caps; raise the refusal if over."""
    hit = await caps_of(ctx).hit_all(
        [
            ("id_number.verifications", principal.doc_number_hmac),
            ("mobile.verifications", mobile),
            ("device.verifications", device_id),
            ("provider.verifications", order.provider_id),
        ]
    )
    if hit is not None:
        raise await _refuse(db, order, hit, None)


async def face_gate(
    db: AsyncSession, ctx: AppContext, order: Order, principal: Principal,
    session: CaptureSession,
) -> None:  # fmt: skip
    """Before a face capture is analysed: refuse while the person's failures are at the cap."""
    hit = await caps_of(ctx).hit("id_number.face_failures", principal.doc_number_hmac, n=0)
    if hit is not None:
        raise await _refuse(db, order, hit, session)


async def face_failed(ctx: AppContext, principal: Principal) -> None:
    """Count a refused face capture (the next attempt past the cap is refused)."""
    await caps_of(ctx).hit("id_number.face_failures", principal.doc_number_hmac)
