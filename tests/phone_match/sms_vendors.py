"""Real HTTP servers on 127.0.0.1 that answer as Aliyun SMS (SendSms, RPC signature v1.0)
and Tencent Cloud SMS (SendSms, TC3-HMAC-SHA256) do, and check every request's signature
with the vendor's documented algorithm, written here from the documentation on its own
(not app.phone_match.sms's code). Scripts per test: success, throttling, invalid template,
5xx. Shared by the adapter tests and the API/browser tests (SMS_GATEWAY=aliyun|tencent)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

ALIYUN_ID, ALIYUN_SECRET = "LTAI5tTestAccessKeyId", "aliyun-test-secret-0123456789"
TENCENT_ID, TENCENT_KEY = "AKIDtestSecretId0123456789", "tencent-test-secret-key-0123456789"
TENCENT_APP = "1400006666"


def aliyun_expected_signature(method: str, params: dict[str, str], secret: str) -> str:
    """Alibaba Cloud "RPC 风格请求签名": RFC 3986 percent-encoding of UTF-8 (%20, %2A, ~)."""

    def pe(v: str) -> str:
        return quote(v.encode("utf-8"), safe="~-._")

    query = "&".join(f"{pe(k)}={pe(params[k])}" for k in sorted(params) if k != "Signature")
    string_to_sign = method + "&" + pe("/") + "&" + pe(query)
    mac = hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def tencent_expected_authorization(
    headers: dict[str, str], body: bytes, secret_id: str, secret_key: str, service: str = "sms"
) -> str:
    """Tencent Cloud "签名方法 v3" (TC3-HMAC-SHA256) over content-type and host."""
    ts = int(headers["x-tc-timestamp"])
    date = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
    canonical = (
        f"POST\n/\n\ncontent-type:{headers['content-type']}\nhost:{headers['host']}\n\n"
        f"content-type;host\n{hashlib.sha256(body).hexdigest()}"
    )
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{ts}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"

    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = h(h(h(("TC3" + secret_key).encode(), date), service), "tc3_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={sig}"
    )


@dataclass
class Seen:
    vendor: str
    params: dict[str, Any]  # Aliyun: the form; Tencent: the JSON body
    headers: dict[str, str]
    signature_ok: bool


@dataclass
class VendorState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: list[Seen] = field(default_factory=list)
    # What the next answers are: "ok", "throttle", "template", "5xx" (then "ok" again).
    script: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)  # the codes sent, in order

    def next(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else "ok"


class _Handler(BaseHTTPRequestHandler):
    server: _VendorServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.server.vendor == "aliyun":
            self._aliyun(body, headers)
        else:
            self._tencent(body, headers)

    def _aliyun(self, body: bytes, headers: dict[str, str]) -> None:
        st = self.server.state
        params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
        ok = params.get("Signature") == aliyun_expected_signature("POST", params, ALIYUN_SECRET)
        fresh = (
            abs(
                datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ")
                .replace(tzinfo=UTC)
                .timestamp()
                - time.time()
            )
            < 900
            if params.get("Timestamp")
            else False
        )
        st.seen.append(Seen("aliyun", params, headers, ok and fresh))
        rid = "D9CB3933-5E22-4B8A-9E4F-TEST"
        if not ok or params.get("AccessKeyId") != ALIYUN_ID:
            return self._send(400, {"Code": "SignatureDoesNotMatch", "RequestId": rid,
                                    "Message": "Specified signature is not matched"})  # fmt: skip
        kind = st.next()
        if kind == "5xx":
            return self._send(503, "<html>Service Unavailable</html>")
        if kind == "throttle":
            return self._send(200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "RequestId": rid,
                                    "Message": "触发分钟级流控Permits:1"})  # fmt: skip
        if kind == "template":
            return self._send(200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "RequestId": rid,
                                    "Message": "该账号下找不到对应模板"})  # fmt: skip
        st.codes.append(json.loads(params["TemplateParam"])["code"])
        self._send(200, {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0",
                         "RequestId": rid})  # fmt: skip

    def _tencent(self, body: bytes, headers: dict[str, str]) -> None:
        st = self.server.state
        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        expected = tencent_expected_authorization(headers, body, TENCENT_ID, TENCENT_KEY)
        fresh = abs(int(headers.get("x-tc-timestamp", "0")) - time.time()) < 300
        ok = headers.get("authorization") == expected and fresh
        st.seen.append(Seen("tencent", data, headers, ok))
        rid = "a0aabda6-cf91-4f3e-a2b0-TEST"
        if not ok:
            return self._send(200, {"Response": {"Error": {
                "Code": "AuthFailure.SignatureFailure",
                "Message": "The provided credentials could not be validated."},
                "RequestId": rid}})  # fmt: skip
        kind = st.next()
        if kind == "5xx":
            return self._send(502, "<html>Bad Gateway</html>")
        phone = (data.get("PhoneNumberSet") or ["?"])[0]
        if kind == "throttle":
            status = {"Code": "LimitExceeded.PhoneNumberThirtySecondLimit",
                      "Message": "单个手机号30秒内下发短信条数超过设定的上限", "PhoneNumber": phone,
                      "SerialNo": "", "Fee": 0, "SessionContext": "", "IsoCode": "CN"}  # fmt: skip
        elif kind == "template":
            status = {"Code": "FailedOperation.TemplateIncorrectOrUnapproved",
                      "Message": "template is not approved or request content does not match",
                      "PhoneNumber": phone, "SerialNo": "", "Fee": 0, "SessionContext": "",
                      "IsoCode": "CN"}  # fmt: skip
        else:
            st.codes.append(data["TemplateParamSet"][0])
            status = {"Code": "Ok", "Message": "send success", "PhoneNumber": phone,
                      "SerialNo": "2019:538884*********", "Fee": 1, "SessionContext": "",
                      "IsoCode": "CN"}  # fmt: skip
        self._send(200, {"Response": {"SendStatusSet": [status], "RequestId": rid}})

    def _send(self, status: int, payload: Any) -> None:
        raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(payload, str)
                         else "text/html")  # fmt: skip
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class _VendorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, vendor: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.vendor = vendor
        self.state = VendorState()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def vendor_server(vendor: str) -> Iterator[_VendorServer]:
    server = _VendorServer(vendor)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
