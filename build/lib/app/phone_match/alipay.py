"""Alipay: verify and decrypt the ``response`` of ``my.getPhoneNumber``.

Docs: https://opendocs.alipay.com/mini/api/getphonenumber and the "敏感信息加解密" /
"接口内容加密方式" pages. No network call: the front end hands us Alipay's signed and encrypted
envelope, a JSON string

    {"response": "<base64 AES-CBC ciphertext>", "sign": "<base64 RSA2 signature>",
     "sign_type": "RSA2", "encrypt_type": "AES", "charset": "UTF-8"}

1. RSA2 (SHA256withRSA, PKCS#1 v1.5) with the Alipay public key over the ciphertext. Alipay's
   own server-side sample (Java, ``AlipaySignature.rsaCheck``) signs the ciphertext *wrapped in
   double quotes*, i.e. the JSON token as it appears in the envelope; we check that form first
   and also accept a signature over the bare ciphertext. Both are signatures by Alipay's key
   over the same ciphertext, so accepting either opens nothing to a forger.
2. AES-CBC with the app's AES key (base64, 128-bit as the console issues it; 192/256 also
   work), IV of 16 zero bytes, PKCS#7 padding.
3. The plaintext ``{"code": "10000", "msg": "Success", "mobile": "..."}``; any other code is a
   refusal (no authorisation, product not bound, ...).

The signature is required: an app that has not configured 接口加签方式 gets no ``sign`` and
is refused, because without it nothing proves the number came from Alipay.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from app.documents.validators import mask_mobile, normalize_mobile
from app.phone_match.base import (
    NON_MAINLAND_EN,
    NON_MAINLAND_ZH,
    AlipayConfig,
    PhoneProofInvalid,
)

logger = logging.getLogger(__name__)

SUCCESS_CODE = "10000"
ZERO_IV = bytes(16)
MAX_ENVELOPE_CHARS = 16_384  # a real envelope is well under 1 KB


def load_alipay_public_key(text: str) -> RSAPublicKey:
    """Accept a PEM public key or the bare base64 (X.509 SubjectPublicKeyInfo) that the
    Alipay console shows as "支付宝公钥"."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            der = base64.b64decode("".join(text.split()), validate=True)
            key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:  # binascii.Error is a ValueError
        raise ValueError("Alipay public key is neither a PEM nor a base64 RSA key") from exc
    if not isinstance(key, RSAPublicKey):
        raise ValueError("Alipay public key must be an RSA key")
    return key


def load_aes_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except binascii.Error as exc:
        raise ValueError("Alipay AES key must be base64") from exc
    if len(key) not in (16, 24, 32):
        raise ValueError("Alipay AES key must decode to 16, 24 or 32 bytes")
    return key


class AlipayResolver:
    platform = "alipay"

    def __init__(self, config: AlipayConfig) -> None:
        # Parsed once, so a broken key fails at start-up rather than on the first user.
        self._config = config
        self._public_key = load_alipay_public_key(config.alipay_public_key_pem)
        self._aes_key = load_aes_key(config.aes_key_b64)

    async def resolve(self, proof: dict[str, Any]) -> str:
        envelope = self._envelope(proof.get("response"))
        content = envelope.get("response")
        sign = envelope.get("sign")
        if not isinstance(content, str) or not content:
            raise PhoneProofInvalid(en="Alipay envelope has no response")
        if content.lstrip().startswith("{"):
            # Plain JSON: interface content encryption is not configured, and Alipay puts an
            # error here (e.g. 40001 isv.missing-encrypt-key), never a phone number.
            logger.warning("alipay response is not encrypted: %s", _describe_plain(content))
            raise PhoneProofInvalid(en="Alipay response is not encrypted")
        if not isinstance(sign, str) or not sign:
            logger.warning("alipay response is not signed; configure 接口加签方式 (RSA2)")
            raise PhoneProofInvalid(en="Alipay response is not signed")
        sign_type = envelope.get("sign_type") or envelope.get("signType") or "RSA2"
        encrypt_type = envelope.get("encrypt_type") or envelope.get("encryptType") or "AES"
        charset = envelope.get("charset") or "UTF-8"
        # Compared without case, as Alipay's own SDK does ("aes", "rsa2" are seen).
        if str(sign_type).upper() != "RSA2" or str(encrypt_type).upper() != "AES":
            raise PhoneProofInvalid(en="Alipay response must be RSA2-signed and AES-encrypted")

        self._verify(content, sign)
        plain = self._decrypt(content, charset if isinstance(charset, str) else "UTF-8")

        code = str(plain.get("code", ""))
        if code != SUCCESS_CODE:
            logger.info(
                "alipay refused the phone number: code=%s subCode=%s",
                code or "?",
                plain.get("subCode") or plain.get("sub_code") or "-",
            )
            raise PhoneProofInvalid(en=f"Alipay refused the phone number (code {code or '?'})")
        raw = plain.get("mobile")
        if not isinstance(raw, str) or not raw.strip():
            raise PhoneProofInvalid(en="Alipay answer has no mobile")
        mobile = normalize_mobile(raw)
        if mobile is None:
            logger.info("alipay phone number is not a mainland mobile")
            raise PhoneProofInvalid(zh=NON_MAINLAND_ZH, en=NON_MAINLAND_EN)
        logger.info("alipay phone resolved: %s", mask_mobile(mobile))
        return mobile

    @staticmethod
    def _envelope(raw: object) -> dict[str, Any]:
        # The front end should pass my.getPhoneNumber's res.response as is (a string); some
        # parse it first, which is harmless: the signature covers the ciphertext only.
        if isinstance(raw, dict):
            return raw
        if not isinstance(raw, str) or not raw or len(raw) > MAX_ENVELOPE_CHARS:
            raise PhoneProofInvalid(en="Alipay proof needs the response of my.getPhoneNumber")
        try:
            envelope = json.loads(raw)
        except ValueError:
            raise PhoneProofInvalid(en="Alipay response is not JSON") from None
        if not isinstance(envelope, dict):
            raise PhoneProofInvalid(en="Alipay response is not a JSON object")
        return envelope

    def _verify(self, content: str, sign: str) -> None:
        try:
            signature = base64.b64decode(sign, validate=True)
        except binascii.Error:
            raise PhoneProofInvalid(en="Alipay signature is not base64") from None
        for signed in (f'"{content}"', content):
            try:
                self._public_key.verify(
                    signature, signed.encode("utf-8"), asym_padding.PKCS1v15(), hashes.SHA256()
                )
            except InvalidSignature:
                continue
            return
        logger.warning("alipay signature check failed")
        raise PhoneProofInvalid(en="Alipay signature check failed")

    def _decrypt(self, content: str, charset: str) -> dict[str, Any]:
        try:
            ciphertext = base64.b64decode(content, validate=True)
        except binascii.Error:
            raise PhoneProofInvalid(en="Alipay ciphertext is not base64") from None
        if not ciphertext or len(ciphertext) % 16:
            raise PhoneProofInvalid(en="Alipay ciphertext has a wrong length")
        decryptor = Cipher(algorithms.AES(self._aes_key), modes.CBC(ZERO_IV)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            data = unpadder.update(padded) + unpadder.finalize()
            plain = json.loads(data.decode(charset))
        except (ValueError, LookupError):
            # Bad padding or undecodable text: almost always a wrong AES key on our side.
            logger.warning("alipay response could not be decrypted (check the AES key)")
            raise PhoneProofInvalid(en="Alipay response could not be decrypted") from None
        if not isinstance(plain, dict):
            raise PhoneProofInvalid(en="Alipay plaintext is not a JSON object")
        return plain


def _describe_plain(content: str) -> str:
    """code/subCode of an unencrypted Alipay answer, for the log; never its other fields."""
    try:
        data = json.loads(content)
    except ValueError:
        return "unparseable"
    if not isinstance(data, dict):
        return "unparseable"
    return f"code={data.get('code', '?')} subCode={data.get('subCode', data.get('sub_code', '-'))}"
