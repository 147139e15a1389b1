"""Signed tokens: QR tokens (what the QR code carries) and capture-session tokens.

QR codes carry a short opaque token, ``hq_`` + base64url(16-byte token id + a 96-bit
HMAC-SHA256 tag under SECRET_KEY): 41 characters, so that a QR URL fits QR version 6 at
error correction M. Its order, scope, expiry and revocation live in the ``qr_tokens`` row
the id names (resolved server-side). The JWT QR tokens issued before (claims inside) are
still accepted until they expire.

HS256 is pinned; issuer and audience are checked. Expiry is checked by us *after* the
signature, so that a forged token is always QR_INVALID and only a genuine one can be
QR_EXPIRED.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from app.core.errors import AppError

ISSUER = "heyan"
QR_AUDIENCE = "heyan-qr"
SESSION_AUDIENCE = "heyan-session"
ALGORITHM = "HS256"
SHORT_QR_PREFIX = "hq_"
_SHORT_TAG_BYTES = 12


class QrInvalid(AppError):
    status = 401
    code = "QR_INVALID"
    zh = "二维码无效,请在备案系统中刷新二维码后重新扫码"
    en = "The QR code is not valid"


class QrExpired(AppError):
    status = 410
    code = "QR_EXPIRED"
    zh = "二维码已过期,请在备案系统中刷新二维码后重新扫码"
    en = "The QR code has expired"


class SessionInvalid(AppError):
    status = 401
    code = "SESSION_INVALID"
    zh = "核验会话无效或已过期,请重新扫码"
    en = "The capture session is invalid or has expired"


@dataclass(frozen=True, slots=True)
class QrClaims:
    token_id: str
    order_id: str
    scope: str
    version: int
    expires_at: datetime


def key_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


class TokenCodec:
    """Signs with the current secret (its id in the JWT header ``kid``) and verifies with
    the current or any previous secret, so SECRET_KEY can rotate without breaking the QR
    codes and sessions already handed out."""

    def __init__(self, key: str, previous: list[str] | None = None) -> None:
        self._key = key
        self._kid = key_id(key)
        self._keys = {key_id(k): k for k in [*(previous or []), key]}

    def _encode(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            {"iss": ISSUER, **claims}, self._key, algorithm=ALGORITHM, headers={"kid": self._kid}
        )

    def _decode(self, token: str, audience: str) -> dict[str, Any]:
        kid = jwt.get_unverified_header(token).get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise jwt.InvalidKeyError("unknown key id")
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            options={"verify_exp": False, "require": ["exp", "iss", "aud", "jti"]},
        )
        return claims

    def qr_token(self, claims: QrClaims) -> str:
        return self._encode(
            {
                "aud": QR_AUDIENCE,
                "jti": claims.token_id,
                "sub": claims.order_id,
                "scope": claims.scope,
                "ver": claims.version,
                "exp": int(claims.expires_at.timestamp()),
            }
        )

    def _short_tag(self, key: str, token_id: bytes) -> bytes:
        mac = hmac.new(key.encode(), b"heyan-qr-short|" + token_id, hashlib.sha256)
        return mac.digest()[:_SHORT_TAG_BYTES]

    def short_qr_token(self, token_id: str) -> str:
        """The QR code's opaque token for a ``qr_tokens`` row id (32 hex characters)."""
        raw = bytes.fromhex(token_id)
        body = raw + self._short_tag(self._key, raw)
        return SHORT_QR_PREFIX + base64.urlsafe_b64encode(body).decode().rstrip("=")

    @staticmethod
    def is_short_qr(token: str) -> bool:
        return token.startswith(SHORT_QR_PREFIX)

    def read_short_qr(self, token: str) -> str:
        """The row id a short token names, if its tag verifies under a current or previous
        key (expiry, scope and revocation are the row's: the caller checks them)."""
        b64 = token.removeprefix(SHORT_QR_PREFIX)
        try:
            if len(b64) != 38 or not b64.isascii():
                raise ValueError(b64)
            body = base64.urlsafe_b64decode(b64 + "==")
        except (binascii.Error, ValueError) as exc:
            raise QrInvalid() from exc
        raw, tag = body[:16], body[16:]
        if not any(hmac.compare_digest(tag, self._short_tag(k, raw)) for k in self._keys.values()):
            raise QrInvalid()
        return raw.hex()

    def read_qr(self, token: str, now: datetime) -> QrClaims:
        """A JWT QR token (the format issued before the short one): claims, signature, expiry."""
        try:
            c = self._decode(token, QR_AUDIENCE)
            claims = QrClaims(
                token_id=str(c["jti"]),
                order_id=str(c["sub"]),
                scope=str(c["scope"]),
                version=int(c["ver"]),
                expires_at=datetime.fromtimestamp(int(c["exp"]), UTC),
            )
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise QrInvalid() from exc
        if claims.expires_at <= now:
            raise QrExpired()
        return claims

    def session_token(self, session_id: str, expires_at: datetime) -> str:
        return self._encode(
            {"aud": SESSION_AUDIENCE, "jti": session_id, "exp": int(expires_at.timestamp())}
        )

    def read_session(self, token: str, now: datetime) -> str:
        try:
            c = self._decode(token, SESSION_AUDIENCE)
            if int(c["exp"]) <= now.timestamp():
                raise SessionInvalid()
            return str(c["jti"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise SessionInvalid() from exc
