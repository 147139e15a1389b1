"""Aliyun SMS (Dysmsapi 2017-05-25) ``SendSms`` with the documented RPC request signature.

Docs: 短信服务 API 参考 "SendSms" and "RPC 风格请求签名" (signature version 1.0). The request is
a POST to https://dysmsapi.aliyuncs.com/ with every parameter form-encoded in the body:

    StringToSign = "POST" + "&" + pe("/") + "&" + pe(canonicalised query)
    canonicalised query = "&".join(pe(k) + "=" + pe(v) for k, v sorted by k, Signature left out)
    Signature = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))

``pe`` is RFC 3986 percent-encoding of the UTF-8 bytes: every byte but A-Z a-z 0-9 - _ . ~
becomes %XX with upper-case hex (so a space is %20, ``*`` is %2A and ``~`` stays). The
answer is JSON: ``{"Code": "OK", "Message": "OK", "BizId": "...", "RequestId": "..."}``, or
another ``Code`` at HTTP 200 (isv.BUSINESS_LIMIT_CONTROL: the number's flow control;
isv.SMS_TEMPLATE_ILLEGAL, isv.SMS_SIGNATURE_ILLEGAL: the operator's set-up) or 4xx
(SignatureDoesNotMatch, InvalidAccessKeyId.NotFound).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from app.phone_match.sms.base import (
    AliyunSmsConfig,
    SmsGatewayUnavailable,
    SmsReceipt,
    SmsThrottled,
)

logger = logging.getLogger(__name__)

API_VERSION = "2017-05-25"
# Flow control of the number (per minute / hour / day) and of the account's calls.
THROTTLED = {
    "isv.BUSINESS_LIMIT_CONTROL": 60,
    "isv.DAY_LIMIT_CONTROL": 3600,
    "Throttling.User": 60,
    "Throttling": 60,
}


def percent_encode(value: str) -> str:
    """RFC 3986 of the UTF-8 bytes, as Aliyun's RPC signature wants it."""
    return quote(value, safe="-_.~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    query = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}"
        for k, v in sorted(params.items())
        if k != "Signature"
    )
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(query)}"


def rpc_signature(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    digest = hmac.new(
        (access_key_secret + "&").encode(), string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


class AliyunSmsGateway:
    name = "aliyun"

    def __init__(
        self,
        config: AliyunSmsConfig,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], datetime] | None = None,
        nonce: Callable[[], str] | None = None,
    ) -> None:
        self._config = config
        self._http = http
        self._clock = clock or (lambda: datetime.now(UTC))
        self._nonce = nonce or (lambda: str(uuid.uuid4()))
        self._url = config.endpoint.rstrip("/") + "/"

    def signed_params(self, mobile: str, code: str) -> dict[str, str]:
        c = self._config
        params = {
            "AccessKeyId": c.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": mobile,
            "RegionId": c.region,
            "SignName": c.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "TemplateCode": c.template_code,
            "TemplateParam": json.dumps({c.template_param: code}, separators=(",", ":")),
            "Timestamp": self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
        }
        params["Signature"] = rpc_signature("POST", params, c.access_key_secret)
        return params

    async def send_code(self, mobile: str, code: str, ttl_minutes: int) -> SmsReceipt:
        del ttl_minutes  # an Aliyun template has the validity written in it
        params = self.signed_params(mobile, code)
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        try:
            async with asyncio.timeout(self._config.timeout_seconds):
                response = await self._http.post(
                    self._url,
                    content=body.encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                    timeout=self._config.timeout_seconds,
                )
        except (httpx.HTTPError, TimeoutError) as exc:
            logger.warning("aliyun SendSms unreachable: %s", type(exc).__name__)
            raise SmsGatewayUnavailable(en="Aliyun SMS unreachable") from None
        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            logger.warning("aliyun SendSms answered HTTP %d without JSON", response.status_code)
            raise SmsGatewayUnavailable(en=f"Aliyun SMS answered HTTP {response.status_code}")
        vendor_code = str(data.get("Code", ""))
        if response.status_code == 200 and vendor_code == "OK":
            logger.info("aliyun SMS sent: BizId=%s", data.get("BizId", "-"))
            return SmsReceipt(gateway=self.name, message_id=str(data.get("BizId", "")))
        if vendor_code in THROTTLED:
            logger.info("aliyun SMS throttled: %s", vendor_code)
            raise SmsThrottled(vendor_code, THROTTLED[vendor_code])
        # Template, signature, credentials, arrears, 5xx: the operator's to fix.
        logger.error(
            "aliyun SendSms refused: HTTP %d Code=%s Message=%s RequestId=%s",
            response.status_code,
            vendor_code or "?",
            str(data.get("Message", ""))[:200],
            data.get("RequestId", "-"),
        )
        raise SmsGatewayUnavailable(en=f"Aliyun SMS refused the request ({vendor_code or '?'})")
