"""The registry, the dev resolver, the error contract and the import boundary."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

import app.phone_match
from app.core.errors import AppError
from app.phone_match import (
    AlipayConfig,
    DevProofForbidden,
    DevResolver,
    PhoneMatchConfig,
    PhoneProofInvalid,
    PhoneProofUnavailable,
    PhoneResolver,
    PhoneResolvers,
    WeChatConfig,
)

if TYPE_CHECKING:  # fixtures come from conftest.py; only the types are imported
    from tests.phone_match.conftest import FakeAlipay, FakeWeChat


def test_error_contract() -> None:
    cases = [
        (PhoneProofInvalid(), 401, "PHONE_PROOF_INVALID", "手机号验证失败,请重新授权手机号"),
        (PhoneProofUnavailable(), 502, "PHONE_PROOF_UNAVAILABLE", "暂时无法验证手机号,请稍后重试"),
        (DevProofForbidden(), 403, "DEV_PROOF_FORBIDDEN", "当前环境不支持该验证方式"),
    ]
    for error, status, code, zh in cases:
        assert isinstance(error, AppError)
        assert (error.status, error.code, error.zh) == (status, code, zh)
        assert error.en
        problem = error.problem()
        assert (problem["status"], problem["code"], problem["detail"]) == (status, code, zh)


async def test_dev_resolver_in_dev_mode(http: httpx.AsyncClient) -> None:
    resolvers = PhoneResolvers(PhoneMatchConfig(dev_mode=True, wechat=None, alipay=None), http)
    resolver = resolvers.get("dev")

    assert resolver.platform == "dev"
    assert await resolver.resolve({"mobile": "13800138000"}) == "13800138000"
    assert await resolver.resolve({"mobile": "+86 138 0013 8000"}) == "13800138000"
    assert await resolvers.resolve("dev", {"mobile": "008613800138000"}) == "13800138000"


@pytest.mark.parametrize(
    "proof", [{}, {"mobile": ""}, {"mobile": "12345"}, {"mobile": "12800138000"}, {"mobile": 1}]
)
async def test_dev_resolver_refuses_invalid_numbers(
    http: httpx.AsyncClient, proof: dict[str, object]
) -> None:
    resolvers = PhoneResolvers(PhoneMatchConfig(dev_mode=True, wechat=None, alipay=None), http)

    with pytest.raises(PhoneProofInvalid):
        await resolvers.get("dev").resolve(proof)


async def test_dev_proof_is_forbidden_outside_dev_mode(http: httpx.AsyncClient) -> None:
    resolvers = PhoneResolvers(PhoneMatchConfig(dev_mode=False, wechat=None, alipay=None), http)

    with pytest.raises(DevProofForbidden) as info:
        resolvers.get("dev")
    assert info.value.status == 403
    assert "dev" not in resolvers.available

    # Built by hand outside dev mode, it still refuses.
    with pytest.raises(DevProofForbidden):
        await DevResolver(dev_mode=False).resolve({"mobile": "13800138000"})


@pytest.mark.parametrize("platform", ["qq", "", "WECHAT", "douyin"])
def test_unknown_platform_is_unsupported(http: httpx.AsyncClient, platform: str) -> None:
    resolvers = PhoneResolvers(PhoneMatchConfig(dev_mode=True, wechat=None, alipay=None), http)

    with pytest.raises(AppError) as info:
        resolvers.get(platform)
    assert (info.value.status, info.value.code) == (422, "PLATFORM_UNSUPPORTED")


@pytest.mark.parametrize("platform", ["wechat", "alipay"])
def test_unconfigured_platform_is_not_configured(http: httpx.AsyncClient, platform: str) -> None:
    resolvers = PhoneResolvers(PhoneMatchConfig(dev_mode=False, wechat=None, alipay=None), http)

    with pytest.raises(AppError) as info:
        resolvers.get(platform)
    assert (info.value.status, info.value.code) == (503, "PLATFORM_NOT_CONFIGURED")


async def test_configured_platforms_resolve_through_the_registry(
    http: httpx.AsyncClient, wechat_server: FakeWeChat, alipay: FakeAlipay
) -> None:
    config = PhoneMatchConfig(
        dev_mode=False,
        wechat=WeChatConfig(
            appid=wechat_server.appid, secret=wechat_server.secret, base_url=wechat_server.base_url
        ),
        alipay=AlipayConfig(
            app_id="2021000000000000",
            alipay_public_key_pem=alipay.public_key_pem,
            aes_key_b64=alipay.aes_key_b64,
        ),
    )
    resolvers = PhoneResolvers(config, http)

    assert resolvers.available == ["alipay", "wechat"]
    for platform in ("wechat", "alipay"):
        resolver = resolvers.get(platform)
        assert isinstance(resolver, PhoneResolver)
        assert resolver.platform == platform
        assert resolvers.get(platform) is resolver  # built once, token cache shared
    assert await resolvers.resolve("wechat", {"code": "c"}) == "13800138000"
    assert await resolvers.resolve("alipay", {"response": alipay.response()}) == "13800138000"


def test_config_reprs_hide_secrets() -> None:
    wechat = WeChatConfig(appid="wx1", secret="very-secret-value")
    alipay = AlipayConfig(app_id="2021", alipay_public_key_pem="PEM", aes_key_b64="QUVTS0VZ")

    assert "very-secret-value" not in repr(wechat)
    assert "QUVTS0VZ" not in repr(alipay)
    assert "very-secret-value" not in repr(PhoneMatchConfig(True, wechat, alipay))


def test_no_web_framework_or_settings_imports() -> None:
    forbidden = (
        "fastapi",
        "starlette",
        "sqlalchemy",
        "pydantic_settings",
        "app.config",
        "app.core.db",
    )
    package = Path(app.phone_match.__file__).parent
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert not name.startswith(forbidden), f"{source.name} imports {name}"
