"""Heyan-Signature: ``t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``.

``verify`` is the same logic README shows providers (constant-time compare, 5-minute window).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time

TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, t: int) -> str:
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(
    secret: str, body: bytes, header: str, *, now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:  # fmt: skip
    """True if ``header`` signs ``body`` with ``secret`` and is at most ``tolerance`` s old."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --------------------------------------------------------------------------------------
# Standard Webhooks (https://www.standardwebhooks.com): an endpoint's ``signature_scheme``
# "standard". Headers webhook-id, webhook-timestamp and
# ``webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``, where the
# key is the base64 after the ``whsec_`` prefix of the secret. Several signatures,
# space-separated, while a rotated secret's overlap lasts: the receiver accepts any.

STANDARD_PREFIX = "whsec_"
STANDARD_MIN_KEY_BYTES = 24
STANDARD_MAX_KEY_BYTES = 64


def standard_key(secret: str) -> bytes | None:
    """The HMAC key of a ``whsec_`` secret, or None if it is not one (24–64 bytes)."""
    if not secret.startswith(STANDARD_PREFIX):
        return None
    try:
        key = base64.b64decode(secret[len(STANDARD_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if STANDARD_MIN_KEY_BYTES <= len(key) <= STANDARD_MAX_KEY_BYTES else None


def new_standard_secret() -> str:
    return STANDARD_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def standard_signature(secret: str, msg_id: str, t: int, body: bytes) -> str:
    key = standard_key(secret)
    if key is None:
        raise ValueError("not a whsec_ secret")
    mac = hmac.new(key, f"{msg_id}.{t}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def standard_headers(secrets_: list[str], msg_id: str, t: int, body: bytes) -> dict[str, str]:
    """The three headers; one signature per secret (the newest first)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(t),
        "webhook-signature": " ".join(standard_signature(s, msg_id, t, body) for s in secrets_),
    }
