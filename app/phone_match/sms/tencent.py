"""Tencent Cloud SMS (API 2021-01-11) ``SendSms`` signed with TC3-HMAC-SHA256.

Docs: 短信 API 文档 "发送短信 SendSms" and "签名方法 v3". A POST of a JSON body to
https://sms.tencentcloudapi.com/ with the headers X-TC-Action, X-TC-Version, X-TC-Timestamp,
X-TC-Region and

    CanonicalRequest = "POST\\n/\\n\\n" + "content-type:" + ct + "\\nhost:" + host + "\\n\\n"
                       + "content-type;host\\n" + hex(sha256(body))
    StringToSign = "TC3-HMAC-SHA256\\n" + timestamp + "\\n" + date + "/sms/tc3_request\\n"
                   + hex(sha256(CanonicalRequest))
    key = HMAC("TC3" + SecretKey, date) → HMAC(·, "sms") → HMAC(·, "tc3_request")
    Authorization = "TC3-HMAC-SHA256 Credential=" + SecretId + "/" + date
                    + "/sms/tc3_request, SignedHeaders=content-type;host, Signature="
                    + hex(HMAC-SHA256(key, StringToSign))

``date`` is the UTC date of the timestamp (YYYY-MM-DD). The answer is always HTTP 200 JSON:
``{"Response": {"SendStatusSet": [{"Code": "Ok", "SerialNo": ...}], "RequestId": ...}}``, or
``{"Response": {"Error": {"Code": ..., "Message": ...}}}`` for the whole call. A number's own
failure is in its SendStatusSet entry (LimitExceeded.PhoneNumberDailyLimit, ...).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from app.phone_match.sms.base import (
    SmsGatewayUnavailable,
    SmsReceipt,
    SmsThrottled,
    TencentSmsConfig,
)

logger = logging.getLogger(__name__)

SERVICE = "sms"
API_VERSION = "2021-01-11"
CONTENT_TYPE = "application/json; charset=utf-8"
# The number's flow control (30 s, 1 h, 1 day) and the account's call-rate limit.
THROTTLED = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600,
    "LimitExceeded.PhoneNumberDailyLimit": 3600,
    "LimitExceeded.PhoneNumberSameContentDailyLimit": 3600,
    "LimitExceeded.DeliveryFrequencyLimit": 60,
    "RequestLimitExceeded": 60,
}


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_signature(
    secret_key: str, *, host: str, body: bytes, timestamp: int, service: str = SERVICE,
    content_type: str = CONTENT_TYPE, method: str = "POST", query: str = "",
) -> str:  # fmt: skip
    """The hex signature of a request, by the documented v3 algorithm."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            method,
            "/",
            query,
            f"content-type:{content_type}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            f"{date}/{service}/tc3_request",
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class TencentSmsGateway:
    name = "tencent"

    def __init__(
        self,
        config: TencentSmsConfig,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._config = config
        self._http = http
        self._clock = clock or time.time
        self._url = config.endpoint.rstrip("/") + "/"
        self._host = urlsplit(self._url).netloc

    def signed_request(
        self, mobile: str, code: str, ttl_minutes: int
    ) -> tuple[bytes, dict[str, str]]:
        c = self._config
        params = [code, str(ttl_minutes)] if c.with_minutes else [code]
        body = json.dumps(
            {
                "PhoneNumberSet": ["+86" + mobile],
                "SmsSdkAppId": c.sdk_app_id,
                "SignName": c.sign_name,
                "TemplateId": c.template_id,
                "TemplateParamSet": params,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        timestamp = int(self._clock())
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        signature = tc3_signature(c.secret_key, host=self._host, body=body, timestamp=timestamp)
        headers = {
            "Content-Type": CONTENT_TYPE,
            "Host": self._host,
            "X-TC-Action": "SendSms",
            "X-TC-Version": API_VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": c.region,
            "Authorization": (
                f"TC3-HMAC-SHA256 Credential={c.secret_id}/{date}/{SERVICE}/tc3_request, "
                f"SignedHeaders=content-type;host, Signature={signature}"
            ),
        }
        return body, headers

    async def send_code(self, mobile: str, code: str, ttl_minutes: int) -> SmsReceipt:
        body, headers = self.signed_request(mobile, code, ttl_minutes)
        try:
            async with asyncio.timeout(self._config.timeout_seconds):
                response = await self._http.post(
                    self._url, content=body, headers=headers, timeout=self._config.timeout_seconds
                )
        except (httpx.HTTPError, TimeoutError) as exc:
            logger.warning("tencent SendSms unreachable: %s", type(exc).__name__)
            raise SmsGatewayUnavailable(en="Tencent Cloud SMS unreachable") from None
        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
        answer = data.get("Response") if isinstance(data, dict) else None
        if response.status_code != 200 or not isinstance(answer, dict):
            logger.warning("tencent SendSms answered HTTP %d", response.status_code)
            raise SmsGatewayUnavailable(en=f"Tencent SMS answered HTTP {response.status_code}")
        request_id = answer.get("RequestId", "-")
        error = answer.get("Error")
        if isinstance(error, dict):
            self._refused(str(error.get("Code", "")), str(error.get("Message", "")), request_id)
        statuses = answer.get("SendStatusSet")
        status = statuses[0] if isinstance(statuses, list) and statuses else None
        if not isinstance(status, dict):
            logger.warning("tencent SendSms answered without SendStatusSet")
            raise SmsGatewayUnavailable(en="Tencent SMS answered without a send status")
        vendor_code = str(status.get("Code", ""))
        if vendor_code == "Ok":
            logger.info("tencent SMS sent: SerialNo=%s", status.get("SerialNo", "-"))
            return SmsReceipt(gateway=self.name, message_id=str(status.get("SerialNo", "")))
        self._refused(vendor_code, str(status.get("Message", "")), request_id)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _refused(vendor_code: str, message: str, request_id: object) -> None:
        if vendor_code in THROTTLED:
            logger.info("tencent SMS throttled: %s", vendor_code)
            raise SmsThrottled(vendor_code, THROTTLED[vendor_code])
        # Template, signature, credentials (AuthFailure.*), balance, internal errors.
        logger.error(
            "tencent SendSms refused: Code=%s Message=%s RequestId=%s",
            vendor_code or "?",
            message[:200],
            request_id,
        )
        raise SmsGatewayUnavailable(en=f"Tencent SMS refused the request ({vendor_code or '?'})")
