"""Encryption at rest: AES-256-GCM with key ids, and keyed hashes for equality look-ups.

Pure module (no settings import): the app configures one :class:`Keyring` per purpose at
start-up with :func:`configure`. Values are stored as ``hy1:<kid>:<base64(nonce|ct|tag)>``;
the column name is bound in as associated data, so a ciphertext moved to another column
does not decrypt. New writes use the newest key; older rows stay readable until
``python -m app keys rotate`` re-encrypts them.

Purposes: ``fields`` (names, ID numbers, mobiles, OCR results), ``documents`` (document
photos and sheets), ``faces`` (face videos, frames, portraits: kept apart from identity data).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "hy1"
FILE_MAGIC = b"HYE1"


class KeyError_(Exception):
    """A ciphertext names a key id that is not configured, or fails authentication."""


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """``kid:base64key,kid2:base64key`` (32-byte keys); the last one is used for new writes."""
    out = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        kid, _, b64 = item.partition(":")
        key = base64.b64decode(b64)
        if len(key) != 32 or not kid or ":" in kid or len(kid) > 16:
            raise ValueError("each data key must be kid:base64 of 32 bytes")
        out.append((kid, key))
    if not out:
        raise ValueError("no data keys configured")
    return out


def new_key_spec(kid: str | None = None) -> str:
    return f"{kid or 'k' + secrets.token_hex(3)}:{base64.b64encode(os.urandom(32)).decode()}"


def _derive(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=f"heyan/{purpose}".encode()).derive(
        master
    )


@dataclass
class Keyring:
    purpose: str
    keys: list[tuple[str, bytes]]
    _aead: dict[str, AESGCM] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._aead = {kid: AESGCM(_derive(k, self.purpose)) for kid, k in self.keys}

    @property
    def current_kid(self) -> str:
        return self.keys[-1][0]

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(12)
        return self.current_kid, nonce + self._aead[self.current_kid].encrypt(nonce, plaintext, aad)

    def decrypt(self, kid: str, blob: bytes, aad: bytes) -> bytes:
        aead = self._aead.get(kid)
        if aead is None:
            raise KeyError_(f"data key {kid!r} is not configured")
        try:
            return aead.decrypt(blob[:12], blob[12:], aad)
        except Exception as exc:
            raise KeyError_("ciphertext failed authentication") from exc

    # Text values (database columns).
    def seal(self, text: str, context: str) -> str:
        kid, blob = self.encrypt(text.encode(), context.encode())
        return f"{PREFIX}:{kid}:{base64.b64encode(blob).decode()}"

    def open(self, token: str, context: str) -> str:
        prefix, kid, b64 = token.split(":", 2)
        if prefix != PREFIX:
            raise KeyError_("not a Heyan ciphertext")
        return self.decrypt(kid, base64.b64decode(b64), context.encode()).decode()

    # Files.
    def seal_file(self, data: bytes, context: str) -> bytes:
        kid, blob = self.encrypt(data, context.encode())
        k = kid.encode()
        return FILE_MAGIC + bytes([len(k)]) + k + blob

    def open_file(self, data: bytes, context: str) -> bytes:
        if not data.startswith(FILE_MAGIC):
            raise KeyError_("not an encrypted Heyan file")
        n = data[4]
        kid = data[5 : 5 + n].decode()
        return self.decrypt(kid, data[5 + n :], context.encode())

    @staticmethod
    def kid_of(token: str | bytes) -> str | None:
        if isinstance(token, bytes):
            return token[5 : 5 + token[4]].decode() if token.startswith(FILE_MAGIC) else None
        parts = token.split(":", 2)
        return parts[1] if len(parts) == 3 and parts[0] == PREFIX else None


_KEYRINGS: dict[str, Keyring] = {}
_INDEX_KEY: bytes | None = None


def configure(data_keys: str, face_keys: str, index_key: str) -> None:
    """Install the keyrings (idempotent; called at start-up and by the CLI)."""
    global _INDEX_KEY
    fields_keys = parse_keys(data_keys)
    _KEYRINGS["fields"] = Keyring("fields", fields_keys)
    _KEYRINGS["documents"] = Keyring("documents", fields_keys)
    _KEYRINGS["faces"] = Keyring("faces", parse_keys(face_keys))
    _INDEX_KEY = base64.b64decode(index_key)
    if len(_INDEX_KEY) < 32:
        raise ValueError("DATA_INDEX_KEY must be base64 of at least 32 bytes")


def keyring(purpose: str) -> Keyring:
    try:
        return _KEYRINGS[purpose]
    except KeyError:
        raise RuntimeError(
            "encryption keys are not configured (app.security.crypto.configure)"
        ) from None


def is_configured() -> bool:
    return bool(_KEYRINGS)


def blind_index(value: str, purpose: str) -> str:
    """HMAC-SHA256 of a normalised value: equality look-ups without storing the value."""
    if _INDEX_KEY is None:
        raise RuntimeError("encryption keys are not configured (app.security.crypto.configure)")
    return hmac.new(_INDEX_KEY, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()
