"""Token rules: algorithm pinned, issuer/audience checked, key ids for SECRET_KEY rotation."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from app.models.orders import utcnow
from app.security.tokens import QrClaims, QrInvalid, SessionInvalid, TokenCodec


def _claims() -> QrClaims:
    return QrClaims("t1", "o1", "order", 1, utcnow() + timedelta(minutes=5))


def test_rotation_keeps_old_tokens_valid() -> None:
    old = TokenCodec("old-secret-" + "x" * 30)
    token = old.qr_token(_claims())
    new = TokenCodec("new-secret-" + "y" * 30, previous=["old-secret-" + "x" * 30])
    assert new.read_qr(token, utcnow()).order_id == "o1"
    assert (
        jwt.get_unverified_header(new.qr_token(_claims()))["kid"]
        != jwt.get_unverified_header(token)["kid"]
    )
    dropped = TokenCodec("new-secret-" + "y" * 30)
    with pytest.raises(QrInvalid):
        dropped.read_qr(token, utcnow())


def test_algorithm_and_audience_are_pinned() -> None:
    codec = TokenCodec("s" * 40)
    unsigned = jwt.encode({"iss": "heyan", "aud": "heyan-qr", "jti": "t", "sub": "o", "scope": "order",
                           "ver": 1, "exp": 9999999999}, key=None, algorithm="none")  # fmt: skip
    with pytest.raises(QrInvalid):
        codec.read_qr(unsigned, utcnow())
    session = codec.session_token("s1", utcnow() + timedelta(minutes=5))
    with pytest.raises(QrInvalid):
        codec.read_qr(session, utcnow())  # a session token is not a QR token
    qr = codec.qr_token(_claims())
    with pytest.raises(SessionInvalid):
        codec.read_session(qr, utcnow())
