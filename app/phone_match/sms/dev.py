"""Development only: the code goes to the log (and to ``outbox``), no text is sent.

Refused unless the service runs in development mode: settings refuse SMS_GATEWAY=dev with
APP_ENV=prod at start, and the gateway checks again in case someone builds it by hand.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque

from app.documents.validators import mask_mobile
from app.phone_match.base import DevProofForbidden
from app.phone_match.sms.base import SmsReceipt

logger = logging.getLogger(__name__)


class DevSmsGateway:
    name = "dev"

    def __init__(self, *, dev_mode: bool) -> None:
        if not dev_mode:
            raise DevProofForbidden(en="The dev SMS gateway is refused outside development")
        self._dev_mode = dev_mode
        # (masked mobile, code) of the last texts, for a test in the same process.
        self.outbox: deque[tuple[str, str]] = deque(maxlen=100)

    async def send_code(self, mobile: str, code: str, ttl_minutes: int) -> SmsReceipt:
        if not self._dev_mode:
            raise DevProofForbidden
        masked = mask_mobile(mobile)
        self.outbox.append((masked, code))
        # The one place a code is logged: the dev gateway's whole purpose.
        logger.warning("dev SMS to %s: code %s (valid %d min)", masked, code, ttl_minutes)
        return SmsReceipt(gateway=self.name, message_id="dev-" + secrets.token_hex(6))
