"""SMS one-time codes as a phone proof (platform "sms"), for the browser page and any app.

A code goes to the mobile the order names for the person who verifies in the QR's scope:
the person never types a number, so a code cannot be sent elsewhere. Rules: 6 digits, valid
SMS_CODE_TTL_SECONDS (300), single use, SMS_MAX_ATTEMPTS (5) wrong tries per code, one code
per SMS_RESEND_SECONDS (60) per QR token and per mobile, and at most SMS_MOBILE_DAILY_LIMIT /
SMS_ADDRESS_DAILY_LIMIT codes per mobile / client address in any 24 hours. Only keyed hashes
are stored (app.models.sms). Every send, refusal and failed try is an event (``phone_code.*``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import AppContext
from app.core.errors import AppError
from app.documents.validators import mask_mobile
from app.mini.schemas import SmsCodeOut
from app.models.orders import Order, QrToken, new_id, utcnow
from app.models.sms import SmsCode
from app.orders import service
from app.phone_match.sms import (
    AliyunSmsConfig,
    SmsConfig,
    SmsGateway,
    SmsGatewayUnavailable,
    SmsRateLimited,
    SmsThrottled,
    TencentSmsConfig,
    build_gateway,
)
from app.security import crypto

CODE_LENGTH = 6
KEEP = timedelta(days=2)  # rows older than this serve no cap: deleted on the next send
DAY = timedelta(hours=24)


class SmsCodeInvalid(AppError):
    status = 401
    code = "SMS_CODE_INVALID"
    zh = "验证码错误,请核对短信中的6位验证码后重新输入"
    en = "The SMS code is wrong"


class SmsCodeExpired(AppError):
    status = 401
    code = "SMS_CODE_EXPIRED"
    zh = "验证码已失效,请重新获取验证码"
    en = "The SMS code has expired, was used or was tried too often; request a new one"


def sms_config(settings: Any) -> SmsConfig:
    s = settings
    aliyun = tencent = None
    if s.sms_gateway == "aliyun":
        aliyun = AliyunSmsConfig(
            access_key_id=s.aliyun_sms_access_key_id,
            access_key_secret=s.aliyun_sms_access_key_secret,
            sign_name=s.sms_sign_name,
            template_code=s.sms_template_id,
            template_param=s.sms_template_param,
            endpoint=s.aliyun_sms_endpoint,
            region=s.aliyun_sms_region,
            timeout_seconds=s.sms_timeout_seconds,
        )
    if s.sms_gateway == "tencent":
        tencent = TencentSmsConfig(
            secret_id=s.tencent_sms_secret_id,
            secret_key=s.tencent_sms_secret_key,
            sdk_app_id=s.tencent_sms_app_id,
            sign_name=s.sms_sign_name,
            template_id=s.sms_template_id,
            with_minutes=s.sms_template_minutes,
            endpoint=s.tencent_sms_endpoint,
            region=s.tencent_sms_region,
            timeout_seconds=s.sms_timeout_seconds,
        )
    return SmsConfig(gateway=s.sms_gateway, dev_mode=s.dev_mode, aliyun=aliyun, tencent=tencent)


def gateway(ctx: AppContext) -> SmsGateway:
    """The process's gateway, built on first use and kept with the phone resolvers."""
    gw: SmsGateway | None = getattr(ctx.phones, "sms_gateway", None)
    if gw is None:
        gw = build_gateway(sms_config(ctx.settings), ctx.http)
        ctx.phones.sms_gateway = gw
    return gw


def _code_hmac(ctx: AppContext, row_id: str, code: str) -> str:
    key = ctx.settings.signing_key().encode()
    return hmac.new(key, f"sms-code\0{row_id}\0{code}".encode(), hashlib.sha256).hexdigest()


def _rate_limited(retry: float, reason: str) -> SmsRateLimited:
    seconds = max(1, int(retry) + (0 if float(retry).is_integer() else 1))
    zh = {
        "resend": f"验证码已发送,请{seconds}秒后再重新获取",
        "mobile_daily": "该手机号今日获取验证码次数已达上限,请明天再试",
        "address_daily": "当前网络今日获取验证码次数已达上限,请明天再试",
    }.get(reason, "验证码发送过于频繁,请稍后再试")
    return SmsRateLimited(
        zh=zh,
        en=f"Too many codes ({reason}); retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
        extra={"retry_after_seconds": seconds, "reason": reason},
    )


async def _refuse(
    db: AsyncSession, order: Order, mobile: str, client_ip: str | None, type_: str,
    data: dict[str, Any],
) -> None:  # fmt: skip
    await service.record_event(
        db, order, type_, client_ip=client_ip, platform="sms",
        phone_masked=mask_mobile(mobile), data=data,
    )  # fmt: skip
    await db.commit()


def _active() -> Any:
    return SmsCode.status.in_(("sending", "sent", "replaced"))


async def send_code(
    db: AsyncSession,
    ctx: AppContext,
    *,
    qr: QrToken,
    order: Order,
    mobile: str,
    client_ip: str | None,
    preview: bool = False,
) -> SmsCodeOut:
    """Send a new code to ``mobile`` (the order's, for the QR's scope); or, with ``preview``,
    only say where it would go and when a code may be asked for."""
    s = ctx.settings
    gw = gateway(ctx)  # PLATFORM_NOT_CONFIGURED before anything else when SMS is off
    now = utcnow()
    mobile_hmac = crypto.blind_index(mobile, "sms-mobile")
    address_hmac = crypto.blind_index(client_ip, "sms-address") if client_ip else None
    view = SmsCodeOut(
        mobile_masked=mask_mobile(mobile),
        code_length=CODE_LENGTH,
        expires_in_seconds=s.sms_code_ttl_seconds,
        resend_after_seconds=s.sms_resend_seconds,
        sent=False,
    )
    if not preview:
        # Serialise the sends of one QR token: the cool-down below is then exact for it.
        await db.execute(update(QrToken).where(QrToken.id == qr.id).values(version=QrToken.version))
    last = (
        await db.execute(
            select(func.max(SmsCode.created_at)).where(
                (SmsCode.qr_token_id == qr.id) | (SmsCode.mobile_hmac == mobile_hmac),
                _active(),
                SmsCode.created_at > now - timedelta(seconds=s.sms_resend_seconds),
            )
        )
    ).scalar()
    wait = (last + timedelta(seconds=s.sms_resend_seconds) - now).total_seconds() if last else 0
    if preview:
        await db.rollback()
        return view.model_copy(update={"resend_after_seconds": max(0, int(wait + 0.999))})
    if last is not None:
        await _refuse(db, order, mobile, client_ip, "phone_code.rate_limited",
                      {"reason": "resend", "retry_after_seconds": int(wait + 0.999)})  # fmt: skip
        raise _rate_limited(wait, "resend")
    for reason, column, value, limit in (
        ("mobile_daily", SmsCode.mobile_hmac, mobile_hmac, s.sms_mobile_daily_limit),
        ("address_daily", SmsCode.address_hmac, address_hmac, s.sms_address_daily_limit),
    ):
        if value is None:
            continue
        count, oldest = (
            await db.execute(
                select(func.count(), func.min(SmsCode.created_at)).where(
                    column == value, _active(), SmsCode.created_at > now - DAY
                )
            )
        ).one()
        if count >= limit:
            wait = (oldest + DAY - now).total_seconds()
            await _refuse(db, order, mobile, client_ip, "phone_code.rate_limited",
                          {"reason": reason, "retry_after_seconds": int(wait + 0.999)})  # fmt: skip
            raise _rate_limited(wait, reason)

    code = f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"
    row = SmsCode(
        id=new_id(),
        order_id=order.id,
        qr_token_id=qr.id,
        mobile_hmac=mobile_hmac,
        address_hmac=address_hmac,
        gateway=gw.name,
        status="sending",
        attempts=0,
        created_at=now,
        expires_at=now + timedelta(seconds=s.sms_code_ttl_seconds),
    )
    row.code_hmac = _code_hmac(ctx, row.id, code)
    db.add(row)
    await db.execute(delete(SmsCode).where(SmsCode.created_at < now - KEEP))
    await db.commit()  # the cool-down holds for concurrent requests while the text goes out

    try:
        receipt = await gw.send_code(mobile, code, max(1, s.sms_code_ttl_seconds // 60))
    except (SmsThrottled, SmsGatewayUnavailable) as exc:
        vendor = exc.vendor_code if isinstance(exc, SmsThrottled) else exc.en
        await db.execute(update(SmsCode).where(SmsCode.id == row.id).values(status="failed"))
        await _refuse(db, order, mobile, client_ip, "phone_code.send_failed",
                      {"gateway": gw.name, "code_id": row.id, "reason": vendor[:120]})  # fmt: skip
        if isinstance(exc, SmsThrottled):
            raise _rate_limited(exc.retry_after, "gateway") from None
        exc.headers.setdefault("Retry-After", "30")
        raise
    # Only the newest code of a QR token opens a session.
    await db.execute(
        update(SmsCode)
        .where(SmsCode.qr_token_id == qr.id, SmsCode.id != row.id, SmsCode.status == "sent")
        .values(status="replaced")
    )
    await db.execute(
        update(SmsCode)
        .where(SmsCode.id == row.id)
        .values(status="sent", message_id=receipt.message_id[:64] or None)
    )
    await service.record_event(
        db, order, "phone_code.sent", client_ip=client_ip, platform="sms",
        phone_masked=mask_mobile(mobile),
        data={"gateway": gw.name, "code_id": row.id, "scope": qr.scope},
    )  # fmt: skip
    await db.commit()
    return view.model_copy(update={"sent": True, "expires_at": row.expires_at})


async def verify_code(
    db: AsyncSession,
    ctx: AppContext,
    *,
    qr: QrToken,
    order: Order,
    mobile: str,
    proof: dict[str, Any],
    client_ip: str | None,
) -> None:
    """Check the code against the QR token's newest one and use it up (in the caller's
    transaction: the session that opens commits it). Wrong tries and dead codes commit their
    event and raise."""
    s = ctx.settings
    gateway(ctx)
    now = utcnow()
    code = proof.get("code")
    row = (
        await db.execute(
            select(SmsCode)
            .where(SmsCode.qr_token_id == qr.id, SmsCode.status == "sent")
            .order_by(SmsCode.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()

    async def fail(reason: str, exc: AppError, **data: Any) -> AppError:
        await _refuse(db, order, mobile, client_ip, "phone_code.failed",
                      {"reason": reason, "code_id": row.id if row else None, **data})  # fmt: skip
        return exc

    if row is None:
        raise await fail(
            "NO_CODE", SmsCodeExpired(zh="请先获取短信验证码", en="No SMS code was sent")
        )
    if row.used_at is not None:
        raise await fail("USED", SmsCodeExpired())
    if row.expires_at <= now:
        raise await fail("EXPIRED", SmsCodeExpired(zh="验证码已过期,请重新获取验证码"))
    if row.attempts >= s.sms_max_attempts:
        raise await fail("TOO_MANY_TRIES", SmsCodeExpired(zh="验证码错误次数过多,请重新获取验证码"))
    given = code.strip() if isinstance(code, str) else ""
    if not (len(given) == CODE_LENGTH and given.isdigit()) or not hmac.compare_digest(
        _code_hmac(ctx, row.id, given), row.code_hmac
    ):
        left = s.sms_max_attempts - row.attempts - 1
        counted = await db.execute(
            update(SmsCode)
            .where(SmsCode.id == row.id, SmsCode.attempts < s.sms_max_attempts)
            .values(attempts=SmsCode.attempts + 1)
        )
        if counted.rowcount == 0:  # type: ignore[attr-defined]
            raise await fail(
                "TOO_MANY_TRIES", SmsCodeExpired(zh="验证码错误次数过多,请重新获取验证码")
            )
        zh = SmsCodeInvalid.zh + (f"(还可尝试{left}次)" if left else "(请重新获取验证码)")
        raise await fail(
            "WRONG_CODE",
            SmsCodeInvalid(zh=zh, extra={"attempts_left": left}),
            attempts_left=left,
        )
    used = await db.execute(
        update(SmsCode)
        .where(
            SmsCode.id == row.id, SmsCode.used_at.is_(None), SmsCode.attempts < s.sms_max_attempts
        )
        .values(used_at=now)
    )
    if used.rowcount == 0:  # type: ignore[attr-defined]
        raise await fail("USED", SmsCodeExpired())
    await service.record_event(
        db, order, "phone_code.verified", client_ip=client_ip, platform="sms",
        phone_masked=mask_mobile(mobile), data={"code_id": row.id, "scope": qr.scope},
    )  # fmt: skip
