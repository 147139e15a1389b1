"""A real HTTP server on 127.0.0.1 that answers like WeChat's server API, and an Alipay "server"
that builds signed and encrypted my.getPhoneNumber responses with keys made in the test.

Self-contained on purpose: nothing here depends on tests/conftest.py or the database.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

APPID = "wx0123456789abcdef"
SECRET = "s3cr3t-0123456789abcdef0123456789"
PHONE = "13800138000"


@dataclass(frozen=True)
class Scripted:
    """How the fake getuserphonenumber answers one code: status, body, delay before answering."""

    status: int
    body: Any  # dict/list -> JSON; str -> sent as is
    delay: float = 0.0


@dataclass
class WeChatState:
    """What the fake WeChat server has seen and how it will answer; reset for every test."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    phone_requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    # token -> errcode it now earns (40001 revoked, 42001 expired, 40014 malformed)
    rejected: dict[str, int] = field(default_factory=dict)
    reject_every_token_with: int | None = None
    expires_in: int = 7200
    token_delay: float = 0.0
    token_answer: Any = None  # JSON-able or str; replaces the normal issuance
    token_status: int = 200
    scripted: dict[str, Scripted] = field(default_factory=dict)  # code -> answer; else success
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def token_calls(self) -> int:
        return len(self.token_requests)

    @property
    def phone_calls(self) -> int:
        return len(self.phone_requests)

    def reject_current_token(self, errcode: int) -> None:
        with self.lock:
            self.rejected[self.issued[-1]] = errcode


class _Handler(BaseHTTPRequestHandler):
    server: _WeChatServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def log_message(self, *_args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._send(404, {"errcode": 404, "errmsg": "not found"})

    def do_POST(self) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = {}
        if url.path == "/cgi-bin/stable_token":
            self._stable_token(state, body)
        elif url.path == "/wxa/business/getuserphonenumber":
            token = parse_qs(url.query).get("access_token", [""])[0]
            self._phone_number(state, token, body)
        else:
            self._send(404, {"errcode": 404, "errmsg": "not found"})

    def _stable_token(self, state: WeChatState, body: dict[str, Any]) -> None:
        with state.lock:
            state.token_requests.append(body)
            n = len(state.token_requests)
        if state.token_delay:
            state.release.wait(state.token_delay)
        if state.token_answer is not None:
            self._send(state.token_status, state.token_answer)
            return
        if body.get("appid") != APPID or body.get("secret") != SECRET:
            self._send(200, {"errcode": 40125, "errmsg": "invalid appsecret rid: 1-2-3"})
            return
        token = f"ACCESS-TOKEN-{n}-{'x' * 40}"
        with state.lock:
            state.issued.append(token)
        self._send(200, {"access_token": token, "expires_in": state.expires_in})

    def _phone_number(self, state: WeChatState, token: str, body: dict[str, Any]) -> None:
        with state.lock:
            state.phone_requests.append((token, body))
            issued = token in state.issued
            rejected = state.rejected.get(token) or state.reject_every_token_with
        if not issued:
            errmsg = "invalid credential, access_token is invalid or not latest"
            self._send(200, {"errcode": 40001, "errmsg": errmsg})
            return
        if rejected:
            self._send(200, {"errcode": rejected, "errmsg": f"token rejected {rejected}"})
            return
        answer = state.scripted.get(str(body.get("code")))
        if answer is None:
            self._send(200, phone_answer(PHONE))
            return
        if answer.delay:
            state.release.wait(answer.delay)
        self._send(answer.status, answer.body)

    def _send(self, status: int, payload: Any) -> None:
        raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            # WeChat really labels some JSON answers text/plain.
            self.send_header("Content-Type", "text/plain" if status == 200 else "text/html")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)


def phone_answer(pure: str, country: str = "86") -> dict[str, Any]:
    shown = pure if country == "86" else f"+{country}{pure}"
    return {
        "errcode": 0,
        "errmsg": "ok",
        "phone_info": {
            "phoneNumber": shown,
            "purePhoneNumber": pure,
            "countryCode": country,
            "watermark": {"timestamp": 1637744274, "appid": APPID},
        },
    }


class _WeChatServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops connections under a burst
    state: WeChatState

    def handle_error(self, *_args: Any) -> None:
        pass


@dataclass
class FakeWeChat:
    base_url: str
    state: WeChatState
    appid: str = APPID
    secret: str = SECRET
    phone: str = PHONE

    def script(self, code: str, status: int, body: Any, delay: float = 0.0) -> None:
        self.state.scripted[code] = Scripted(status, body, delay)

    @staticmethod
    def phone_answer(pure: str, country: str = "86") -> dict[str, Any]:
        return phone_answer(pure, country)


@pytest.fixture(scope="session")
def _wechat_server() -> Iterator[_WeChatServer]:
    server = _WeChatServer(("127.0.0.1", 0), _Handler)
    server.state = WeChatState()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield server
    server.state.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def wechat_server(_wechat_server: _WeChatServer) -> Iterator[FakeWeChat]:
    state = WeChatState()
    _wechat_server.state = state
    host, port = _wechat_server.server_address[:2]
    yield FakeWeChat(base_url=f"http://{host!s}:{port}", state=state)
    state.release.set()  # let a slow handler finish at once


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


# -- Alipay ------------------------------------------------------------------------------------


@dataclass
class FakeAlipay:
    """Signs like Alipay's server (its private key) and encrypts with the app's AES key."""

    private_key: rsa.RSAPrivateKey
    aes_key: bytes

    @property
    def public_key_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @property
    def public_key_bare_b64(self) -> str:
        """The form the Alipay console shows: base64 DER, no PEM armour."""
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    @property
    def aes_key_b64(self) -> str:
        return base64.b64encode(self.aes_key).decode()

    def encrypt(self, plaintext: bytes) -> str:
        padder = padding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(algorithms.AES(self.aes_key), modes.CBC(bytes(16))).encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()

    def sign(self, content: str, *, quoted: bool = True) -> str:
        signed = f'"{content}"' if quoted else content
        signature = self.private_key.sign(signed.encode(), asym_padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def response(
        self,
        plain: dict[str, Any] | None = None,
        *,
        quoted: bool = True,
        signer: FakeAlipay | None = None,
        **envelope_overrides: Any,
    ) -> str:
        """The string my.getPhoneNumber hands the front end as ``res.response``."""
        if plain is None:
            plain = {"code": "10000", "msg": "Success", "mobile": PHONE}
        content = self.encrypt(json.dumps(plain).encode())
        envelope: dict[str, Any] = {
            "response": content,
            "sign": (signer or self).sign(content, quoted=quoted),
            "sign_type": "RSA2",
            "encrypt_type": "AES",
            "charset": "UTF-8",
        }
        envelope.update(envelope_overrides)
        return json.dumps({k: v for k, v in envelope.items() if v is not None})


@pytest.fixture(scope="session")
def _rsa_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    # Key generation is the slow part; two keys serve every test.
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture
def alipay(_rsa_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> FakeAlipay:
    return FakeAlipay(private_key=_rsa_keys[0], aes_key=bytes(range(16)))


@pytest.fixture
def impostor(_rsa_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> FakeAlipay:
    """Same AES key, but signs with a key that is not Alipay's."""
    return FakeAlipay(private_key=_rsa_keys[1], aes_key=bytes(range(16)))
