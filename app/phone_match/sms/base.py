"""What every SMS gateway shares: the protocol, its errors and the config dataclasses.

A gateway sends one text: the 6-digit one-time code of a phone proof, through the vendor's
approved template (signature name + template id). It raises ``SmsThrottled`` when the vendor's
own flow control refuses the number for now, and ``SmsGatewayUnavailable`` for everything else
that is not the person's doing (down, 5xx, a template or signature the vendor refuses, wrong
credentials): those are the operator's to fix, logged with the vendor's code, never the number.
Like the phone-proof adapters, gateways take plain dataclasses, never the settings object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from app.core.errors import AppError


class SmsRateLimited(AppError):
    """Ours (cool-down, daily caps) or the vendor's flow control: wait ``Retry-After``."""

    status = 429
    code = "SMS_RATE_LIMITED"
    zh = "验证码发送过于频繁,请稍后再试"
    en = "Too many codes sent; try again later"


class SmsGatewayUnavailable(AppError):
    status = 503
    code = "SMS_GATEWAY_UNAVAILABLE"
    zh = "短信服务暂时不可用,请稍后重试"
    en = "The SMS gateway could not send the code right now; try again later"


class SmsThrottled(Exception):
    """The vendor's flow control refused the number for now (the vendor's code, no number)."""

    def __init__(self, vendor_code: str, retry_after: int = 60) -> None:
        super().__init__(vendor_code)
        self.vendor_code = vendor_code
        self.retry_after = retry_after


@dataclass(frozen=True)
class SmsReceipt:
    gateway: str
    message_id: str  # the vendor's BizId / SerialNo, for support; never the number


@runtime_checkable
class SmsGateway(Protocol):
    name: str  # "dev" | "aliyun" | "tencent"

    async def send_code(self, mobile: str, code: str, ttl_minutes: int) -> SmsReceipt:
        """Send ``code`` to the 11-digit mainland ``mobile``; raise SmsThrottled or
        SmsGatewayUnavailable when it cannot."""
        ...


@dataclass(frozen=True)
class AliyunSmsConfig:
    access_key_id: str
    access_key_secret: str
    sign_name: str
    template_code: str
    template_param: str = "code"  # the template's variable: TemplateParam {"code": "123456"}
    endpoint: str = "https://dysmsapi.aliyuncs.com"
    region: str = "cn-hangzhou"
    timeout_seconds: float = 5.0

    def __repr__(self) -> str:
        return (
            f"AliyunSmsConfig(access_key_id={self.access_key_id!r}, access_key_secret='***', "
            f"sign_name={self.sign_name!r}, template_code={self.template_code!r}, "
            f"endpoint={self.endpoint!r})"
        )


@dataclass(frozen=True)
class TencentSmsConfig:
    secret_id: str
    secret_key: str
    sdk_app_id: str  # SmsSdkAppId, e.g. 1400006666
    sign_name: str
    template_id: str
    with_minutes: bool = False  # the template has a second variable: the minutes it is valid
    endpoint: str = "https://sms.tencentcloudapi.com"
    region: str = "ap-guangzhou"
    timeout_seconds: float = 5.0

    def __repr__(self) -> str:
        return (
            f"TencentSmsConfig(secret_id={self.secret_id!r}, secret_key='***', "
            f"sdk_app_id={self.sdk_app_id!r}, sign_name={self.sign_name!r}, "
            f"template_id={self.template_id!r}, endpoint={self.endpoint!r})"
        )


@dataclass(frozen=True)
class SmsConfig:
    gateway: str  # "" (none) | "dev" | "aliyun" | "tencent"
    dev_mode: bool
    aliyun: AliyunSmsConfig | None = None
    tencent: TencentSmsConfig | None = None
