"""Development only: the proof is the plain number itself, so anybody can claim any number.

Refused unless the service runs in development mode (APP_ENV=dev); the registry does not even
build this resolver otherwise, and the resolver checks again in case someone builds it by hand.
"""

from __future__ import annotations

import logging
from typing import Any

from app.documents.validators import mask_mobile, normalize_mobile
from app.phone_match.base import DevProofForbidden, PhoneProofInvalid

logger = logging.getLogger(__name__)


class DevResolver:
    platform = "dev"

    def __init__(self, *, dev_mode: bool) -> None:
        self._dev_mode = dev_mode

    async def resolve(self, proof: dict[str, Any]) -> str:
        if not self._dev_mode:
            raise DevProofForbidden
        raw = proof.get("mobile")
        mobile = normalize_mobile(raw) if isinstance(raw, str) else None
        if mobile is None:
            raise PhoneProofInvalid(en="The dev proof needs a mainland mobile in 'mobile'")
        logger.info("dev phone accepted without proof: %s", mask_mobile(mobile))
        return mobile
