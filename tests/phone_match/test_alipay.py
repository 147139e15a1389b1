"""Alipay adapter on real RSA2-signed, AES-encrypted responses built with keys made in the test."""

from __future__ import annotations

import base64
import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from app.phone_match import AlipayConfig, AlipayResolver, PhoneProofInvalid

if TYPE_CHECKING:  # fixtures come from conftest.py; only the type is imported
    from tests.phone_match.conftest import FakeAlipay

PHONE = "13800138000"


def make_resolver(alipay: FakeAlipay, *, aes_key_b64: str | None = None) -> AlipayResolver:
    return AlipayResolver(
        AlipayConfig(
            app_id="2021000000000000",
            alipay_public_key_pem=alipay.public_key_pem,
            aes_key_b64=aes_key_b64 or alipay.aes_key_b64,
        )
    )


async def assert_invalid(resolver: AlipayResolver, proof: dict[str, object]) -> PhoneProofInvalid:
    with pytest.raises(PhoneProofInvalid) as info:
        await resolver.resolve(proof)
    assert info.value.status == 401
    assert info.value.code == "PHONE_PROOF_INVALID"
    return info.value


async def test_resolves_a_signed_encrypted_response(alipay: FakeAlipay) -> None:
    resolver = make_resolver(alipay)

    assert resolver.platform == "alipay"
    assert await resolver.resolve({"response": alipay.response()}) == PHONE


async def test_accepts_a_signature_over_the_bare_ciphertext(alipay: FakeAlipay) -> None:
    # Alipay's sample signs the quoted ciphertext; a signature over the bare one is still
    # Alipay's signature over the same bytes.
    resolver = make_resolver(alipay)

    assert await resolver.resolve({"response": alipay.response(quoted=False)}) == PHONE


async def test_accepts_the_envelope_already_parsed(alipay: FakeAlipay) -> None:
    resolver = make_resolver(alipay)

    envelope = json.loads(alipay.response())
    assert await resolver.resolve({"response": envelope}) == PHONE


async def test_accepts_bare_base64_public_key_and_aes_256(alipay: FakeAlipay) -> None:
    alipay.aes_key = bytes(range(100, 132))
    resolver = AlipayResolver(
        AlipayConfig(
            app_id="2021000000000000",
            alipay_public_key_pem=alipay.public_key_bare_b64,
            aes_key_b64=alipay.aes_key_b64,
        )
    )

    assert await resolver.resolve({"response": alipay.response()}) == PHONE


async def test_normalises_the_mobile(alipay: FakeAlipay) -> None:
    resolver = make_resolver(alipay)
    plain = {"code": "10000", "msg": "Success", "mobile": "+86 138-0013-8000"}

    assert await resolver.resolve({"response": alipay.response(plain)}) == PHONE


async def test_tampered_ciphertext_is_invalid(alipay: FakeAlipay) -> None:
    resolver = make_resolver(alipay)
    envelope = json.loads(alipay.response())
    # Swap in the ciphertext of another number, keeping the original signature.
    other = alipay.encrypt(b'{"code":"10000","msg":"Success","mobile":"13900139000"}')
    envelope["response"] = other

    await assert_invalid(resolver, {"response": json.dumps(envelope)})


async def test_flipped_ciphertext_byte_is_invalid(alipay: FakeAlipay) -> None:
    resolver = make_resolver(alipay)
    envelope = json.loads(alipay.response())
    raw = bytearray(base64.b64decode(envelope["response"]))
    raw[0] ^= 0x01
    envelope["response"] = base64.b64encode(bytes(raw)).decode()

    await assert_invalid(resolver, {"response": json.dumps(envelope)})


async def test_signature_by_another_key_is_invalid(
    alipay: FakeAlipay, impostor: FakeAlipay
) -> None:
    resolver = make_resolver(alipay)

    await assert_invalid(resolver, {"response": alipay.response(signer=impostor)})


@pytest.mark.parametrize(
    "plain",
    [
        pytest.param(
            {
                "code": "40004",
                "msg": "Business Failed",
                "subCode": "isv.x",
                "subMsg": "业务处理失败",
            },
            id="40004",
        ),
        pytest.param(
            {
                "code": "40003",
                "msg": "Insufficient Conditions",
                "subCode": "isv.invalid-auth-relations",
                "subMsg": "无效的授权关系",
            },
            id="40003-not-authorised",
        ),
        pytest.param({"code": "20000", "msg": "Service Currently Unavailable"}, id="20000"),
        pytest.param({"code": "10000", "msg": "Success"}, id="no-mobile"),
        pytest.param({"code": "10000", "msg": "Success", "mobile": ""}, id="empty-mobile"),
        pytest.param({"msg": "Success", "mobile": PHONE}, id="no-code"),
    ],
)
async def test_refusals_are_invalid(alipay: FakeAlipay, plain: dict[str, object]) -> None:
    resolver = make_resolver(alipay)

    await assert_invalid(resolver, {"response": alipay.response(plain)})


async def test_wrong_aes_key_is_invalid(alipay: FakeAlipay) -> None:
    other_key = base64.b64encode(bytes(range(50, 66))).decode()
    resolver = make_resolver(alipay, aes_key_b64=other_key)

    await assert_invalid(resolver, {"response": alipay.response()})


async def test_non_mainland_mobile_is_refused_with_a_clear_message(alipay: FakeAlipay) -> None:
    resolver = make_resolver(alipay)
    plain = {"code": "10000", "msg": "Success", "mobile": "85291234567"}

    error = await assert_invalid(resolver, {"response": alipay.response(plain)})
    assert "中国大陆" in error.zh


async def test_unsigned_response_is_invalid(alipay: FakeAlipay) -> None:
    resolver = make_resolver(alipay)

    await assert_invalid(resolver, {"response": alipay.response(sign=None)})


async def test_unencrypted_error_response_is_invalid(alipay: FakeAlipay) -> None:
    # What Alipay answers when the app has no AES key configured.
    resolver = make_resolver(alipay)
    content = json.dumps(
        {"code": "40001", "msg": "Missing Required Arguments", "subCode": "isv.missing-encrypt-key"}
    )
    envelope = {"response": content, "sign": alipay.sign(content, quoted=False)}

    await assert_invalid(resolver, {"response": json.dumps(envelope)})


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"sign_type": "RSA"}, id="rsa1"),
        pytest.param({"encrypt_type": "SM4"}, id="sm4"),
        pytest.param({"sign": "not base64!!"}, id="sign-not-base64"),
        pytest.param({"response": "bm90IGEgYmxvY2s="}, id="ciphertext-wrong-length"),
        pytest.param({"response": "%%%"}, id="ciphertext-not-base64"),
        pytest.param({"response": ""}, id="empty-ciphertext"),
    ],
)
async def test_malformed_envelopes_are_invalid(
    alipay: FakeAlipay, overrides: dict[str, Any]
) -> None:
    resolver = make_resolver(alipay)

    await assert_invalid(resolver, {"response": alipay.response(**overrides)})


@pytest.mark.parametrize(
    "proof",
    [
        {},
        {"response": ""},
        {"response": 42},
        {"response": "not json"},
        {"response": "[1, 2]"},
        {"response": "x" * 20_000},
    ],
)
async def test_malformed_proofs_are_invalid(alipay: FakeAlipay, proof: dict[str, object]) -> None:
    await assert_invalid(make_resolver(alipay), proof)


def test_broken_keys_fail_at_start_up(alipay: FakeAlipay) -> None:
    for bad_key in ("not a key at all", "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"):
        with pytest.raises(ValueError, match="public key"):
            AlipayResolver(AlipayConfig("app", bad_key, alipay.aes_key_b64))
    with pytest.raises(ValueError, match="AES key"):
        AlipayResolver(
            AlipayConfig("app", alipay.public_key_pem, base64.b64encode(b"short").decode())
        )


async def test_logs_carry_only_the_masked_mobile(
    alipay: FakeAlipay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="app.phone_match")
    resolver = make_resolver(alipay)

    await resolver.resolve({"response": alipay.response()})

    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "138****8000" in text
    assert PHONE not in text
    assert alipay.aes_key_b64 not in repr(resolver._config)
