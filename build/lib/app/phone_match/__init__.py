"""Phone-proof adapters: turn a mini-program platform's proof into the bound mainland mobile.

Build one ``PhoneResolvers`` at start-up and call ``get(platform).resolve(proof)`` per request.
"""

from app.phone_match.alipay import AlipayResolver
from app.phone_match.base import (
    AlipayConfig,
    DevProofForbidden,
    PhoneMatchConfig,
    PhoneProofInvalid,
    PhoneProofUnavailable,
    PhoneResolver,
    PlatformNotConfigured,
    PlatformUnsupported,
    WeChatConfig,
)
from app.phone_match.dev import DevResolver
from app.phone_match.registry import PhoneResolvers
from app.phone_match.wechat import WeChatResolver

__all__ = [
    "AlipayConfig",
    "AlipayResolver",
    "DevProofForbidden",
    "DevResolver",
    "PhoneMatchConfig",
    "PhoneProofInvalid",
    "PhoneProofUnavailable",
    "PhoneResolver",
    "PhoneResolvers",
    "PlatformNotConfigured",
    "PlatformUnsupported",
    "WeChatConfig",
    "WeChatResolver",
]
