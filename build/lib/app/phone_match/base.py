"""What every phone-proof adapter shares: the errors, the protocol and the config dataclasses.

A phone proof is whatever a mini-program platform gives the front end when the user agrees to
share the phone number bound to the account (WeChat: a one-time ``code``; Alipay: a signed,
encrypted ``response``). An adapter turns it into the normalised 11-digit mainland mobile, or
raises one of the errors below. Adapters take plain dataclasses, never the settings object, and
import nothing from the web framework, so they can be tested (and reused) on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from app.core.errors import AppError


class PhoneProofInvalid(AppError):
    """The proof is forged, used, expired or does not carry a usable mainland number."""

    status = 401
    code = "PHONE_PROOF_INVALID"
    zh = "手机号验证失败,请重新授权手机号"
    en = "The phone number proof is invalid; authorise the phone number again"


class PhoneProofUnavailable(AppError):
    """The platform's server could not be asked: down, too slow, busy, or answering garbage."""

    status = 502
    code = "PHONE_PROOF_UNAVAILABLE"
    zh = "暂时无法验证手机号,请稍后重试"
    en = "The platform could not verify the phone number right now; try again later"


class DevProofForbidden(AppError):
    status = 403
    code = "DEV_PROOF_FORBIDDEN"
    zh = "当前环境不支持该验证方式"
    en = "A plain phone number is accepted only in development mode"


class PlatformUnsupported(AppError):
    status = 422
    code = "PLATFORM_UNSUPPORTED"
    zh = "不支持该平台,请使用微信或支付宝小程序核验"
    en = "Unsupported platform; use wechat or alipay"


class PlatformNotConfigured(AppError):
    status = 503
    code = "PLATFORM_NOT_CONFIGURED"
    zh = "该平台的核验暂未开通,请使用其他方式核验"
    en = "This platform is not configured on the server"


NON_MAINLAND_ZH = "仅支持中国大陆手机号进行核验,请更换绑定的手机号后重试"
NON_MAINLAND_EN = "Only mainland China mobile numbers can be used for verification"


@runtime_checkable
class PhoneResolver(Protocol):
    platform: str  # "wechat" | "alipay" | "dev"

    async def resolve(self, proof: dict[str, Any]) -> str:
        """Return the normalised 11-digit mainland mobile the proof vouches for."""
        ...


@dataclass(frozen=True)
class WeChatConfig:
    appid: str
    secret: str
    base_url: str = "https://api.weixin.qq.com"
    timeout_seconds: float = 5.0

    def __repr__(self) -> str:
        # Settings get logged at start-up; the secret must not be.
        return (
            f"WeChatConfig(appid={self.appid!r}, secret='***', base_url={self.base_url!r}, "
            f"timeout_seconds={self.timeout_seconds!r})"
        )


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    alipay_public_key_pem: str  # PEM, or the bare base64 key the Alipay console shows
    aes_key_b64: str

    def __repr__(self) -> str:
        return f"AlipayConfig(app_id={self.app_id!r}, alipay_public_key_pem=..., aes_key_b64='***')"


@dataclass(frozen=True)
class PhoneMatchConfig:
    dev_mode: bool
    wechat: WeChatConfig | None = None
    alipay: AlipayConfig | None = None
