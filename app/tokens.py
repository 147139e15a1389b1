"""Signed tokens: QR tokens (what the QR code carries) and capture-session tokens.

HS256 is pinned; issuer and audience are checked. Expiry is checked by us *after* the
signature, so that a forged token is always QR_INVALID and only a genuine one can be
QR_EXPIRED.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from app.errors import AppError

ISSUER = "heyan"
QR_AUDIENCE = "heyan-qr"
SESSION_AUDIENCE = "heyan-session"
ALGORITHM = "HS256"


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

    def read_qr(self, token: str, now: datetime) -> QrClaims:
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
