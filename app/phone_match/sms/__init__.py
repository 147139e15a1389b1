"""SMS one-time codes as a phone proof: the gateways (Aliyun, Tencent Cloud, dev) behind one
protocol, chosen by ``SmsConfig.gateway`` (SMS_GATEWAY). The codes themselves (hashing,
expiry, tries, caps) are app.mini.sms's; a gateway only sends a text."""

from __future__ import annotations

import httpx

from app.phone_match.base import PlatformNotConfigured
from app.phone_match.sms.aliyun import AliyunSmsGateway
from app.phone_match.sms.base import (
    AliyunSmsConfig,
    SmsConfig,
    SmsGateway,
    SmsGatewayUnavailable,
    SmsRateLimited,
    SmsReceipt,
    SmsThrottled,
    TencentSmsConfig,
)
from app.phone_match.sms.dev import DevSmsGateway
from app.phone_match.sms.tencent import TencentSmsGateway


def build_gateway(config: SmsConfig, http: httpx.AsyncClient) -> SmsGateway:
    """The configured gateway; PLATFORM_NOT_CONFIGURED when SMS is off here."""
    if config.gateway == "aliyun" and config.aliyun is not None:
        return AliyunSmsGateway(config.aliyun, http)
    if config.gateway == "tencent" and config.tencent is not None:
        return TencentSmsGateway(config.tencent, http)
    if config.gateway == "dev" or (config.gateway == "" and config.dev_mode):
        return DevSmsGateway(dev_mode=config.dev_mode)
    raise PlatformNotConfigured(en="SMS codes are not configured on the server (SMS_GATEWAY)")


__all__ = [
    "AliyunSmsConfig",
    "AliyunSmsGateway",
    "DevSmsGateway",
    "SmsConfig",
    "SmsGateway",
    "SmsGatewayUnavailable",
    "SmsRateLimited",
    "SmsReceipt",
    "SmsThrottled",
    "TencentSmsConfig",
    "TencentSmsGateway",
    "build_gateway",
]
