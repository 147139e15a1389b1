"""The registry of phone-proof adapters: which platforms this process can verify with.

The adapters import base.py for the errors and configs; this module imports the adapters, so
the dependency runs one way (base ← adapters ← registry).
"""

from __future__ import annotations

from typing import Any

import httpx

from app.phone_match.alipay import AlipayResolver
from app.phone_match.base import (
    DevProofForbidden,
    PhoneMatchConfig,
    PhoneResolver,
    PlatformNotConfigured,
    PlatformUnsupported,
)
from app.phone_match.dev import DevResolver
from app.phone_match.wechat import WeChatResolver


class PhoneResolvers:
    """The resolvers this process can use, built once at start-up from the config.

    Building the Alipay resolver parses its keys, so a broken key stops the start-up instead of
    failing the first user. The http client is shared and owned by the caller (the lifespan).
    """

    def __init__(self, config: PhoneMatchConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self._resolvers: dict[str, PhoneResolver] = {}
        if config.wechat is not None:
            self._resolvers["wechat"] = WeChatResolver(config.wechat, http)
        if config.alipay is not None:
            self._resolvers["alipay"] = AlipayResolver(config.alipay)
        if config.dev_mode:
            self._resolvers["dev"] = DevResolver(dev_mode=True)

    @property
    def available(self) -> list[str]:
        """Platforms a mini-program can use here, e.g. for a health or config endpoint."""
        return sorted(self._resolvers)

    def get(self, platform: str) -> PhoneResolver:
        resolver = self._resolvers.get(platform)
        if resolver is not None:
            return resolver
        if platform == "dev":
            raise DevProofForbidden
        if platform in ("wechat", "alipay"):
            raise PlatformNotConfigured(en=f"Platform {platform} is not configured on the server")
        raise PlatformUnsupported

    async def resolve(self, platform: str, proof: dict[str, Any]) -> str:
        """Shortcut for ``get(platform).resolve(proof)``."""
        return await self.get(platform).resolve(proof)
