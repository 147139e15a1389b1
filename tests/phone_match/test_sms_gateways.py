"""The SMS gateways against local servers that answer as Aliyun and Tencent Cloud do and
check each request's signature by the vendor's documented algorithm; that checker is held to
the documentation's own worked examples and to the vendors' official Python SDKs (PyPI
aliyun-python-sdk-core, tencentcloud-sdk-python-common) sending to the same servers."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from importlib.util import find_spec

import httpx
import pytest

from app.phone_match import DevProofForbidden, PlatformNotConfigured
from app.phone_match.sms import (
    AliyunSmsConfig,
    AliyunSmsGateway,
    DevSmsGateway,
    SmsConfig,
    SmsGatewayUnavailable,
    SmsThrottled,
    TencentSmsConfig,
    TencentSmsGateway,
    build_gateway,
)
from app.phone_match.sms.aliyun import rpc_signature
from app.phone_match.sms.tencent import tc3_signature
from tests.conftest import require
from tests.phone_match.sms_vendors import (
    ALIYUN_ID,
    ALIYUN_SECRET,
    TENCENT_APP,
    TENCENT_ID,
    TENCENT_KEY,
    _VendorServer,
    aliyun_expected_signature,
    tencent_expected_authorization,
    vendor_server,
)

MOBILE = "13800138000"


@pytest.fixture
def aliyun_server() -> Iterator[_VendorServer]:
    with vendor_server("aliyun") as s:
        yield s


@pytest.fixture
def tencent_server() -> Iterator[_VendorServer]:
    with vendor_server("tencent") as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def aliyun(
    server: _VendorServer, http: httpx.AsyncClient, secret: str = ALIYUN_SECRET
) -> AliyunSmsGateway:
    return AliyunSmsGateway(
        AliyunSmsConfig(ALIYUN_ID, secret, "阿里云短信测试", "SMS_154950909", endpoint=server.url),
        http,
    )


def tencent(
    server: _VendorServer, http: httpx.AsyncClient, key: str = TENCENT_KEY
) -> TencentSmsGateway:
    return TencentSmsGateway(
        TencentSmsConfig(
            TENCENT_ID, key, TENCENT_APP, "腾讯云", "1110", with_minutes=True, endpoint=server.url
        ),
        http,
    )


# -- the checkers against the documentation's worked examples -----------------------------


def test_aliyun_checker_reproduces_the_documented_examples() -> None:
    # 短信服务 "HTTP 协议及签名" worked example (GET, Format=XML, AccessKeySecret testSecret).
    sms = {"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
           "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
           "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
           "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007",
           "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
           "Version": "2017-05-25"}  # fmt: skip
    assert aliyun_expected_signature("GET", sms, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert rpc_signature("GET", sms, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    # The RPC signature page's ECS DescribeRegions example (AccessKeySecret testsecret).
    ecs = {"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
           "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
           "SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z",
           "Version": "2014-05-26"}  # fmt: skip
    assert aliyun_expected_signature("GET", ecs, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert rpc_signature("GET", ecs, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_tencent_checker_reproduces_the_documented_example() -> None:
    # "签名方法 v3" worked example: CVM DescribeInstances, timestamp 1551113065 (2019-02-25).
    body = (
        b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    )
    assert hashlib.sha256(body).hexdigest() == (
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    sig = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    headers = {"x-tc-timestamp": "1551113065", "host": "cvm.tencentcloudapi.com",
               "content-type": "application/json; charset=utf-8"}  # fmt: skip
    checker = tencent_expected_authorization(
        headers,
        body,
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        service="cvm",
    )
    assert checker.endswith("Signature=" + sig)
    assert tc3_signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", host="cvm.tencentcloudapi.com",
                         body=body, timestamp=1551113065, service="cvm") == sig  # fmt: skip


# -- the checkers against the vendors' official SDKs ---------------------------------------


def test_aliyun_sdk_requests_pass_the_checker(aliyun_server: _VendorServer) -> None:
    require(find_spec("aliyunsdkcore") is not None, "aliyun-python-sdk-core (the test extra)")
    from aliyunsdkcore import client as acs
    from aliyunsdkcore.request import CommonRequest

    client = acs.AcsClient(ALIYUN_ID, ALIYUN_SECRET, "cn-hangzhou", auto_retry=False)
    req = CommonRequest(domain=aliyun_server.url.removeprefix("http://"), version="2017-05-25",
                        action_name="SendSms")  # fmt: skip
    req.set_protocol_type("http")
    req.set_method("POST")
    for k, v in {"PhoneNumbers": MOBILE, "SignName": "阿里云短信测试", "TemplateCode": "SMS_1",
                 "TemplateParam": '{"code":"123456"}', "RegionId": "cn-hangzhou"}.items():  # fmt: skip
        req.add_query_param(k, v)
    answer = client.do_action_with_exception(req)
    assert b'"Code": "OK"' in answer or b'"Code":"OK"' in answer
    (seen,) = aliyun_server.state.seen
    assert seen.signature_ok and seen.params["SignatureMethod"] == "HMAC-SHA1"
    assert aliyun_server.state.codes == ["123456"]


def test_tencent_sdk_requests_pass_the_checker(tencent_server: _VendorServer) -> None:
    require(find_spec("tencentcloud") is not None, "tencentcloud-sdk-python-common (test extra)")
    from tencentcloud.common import credential
    from tencentcloud.common.common_client import CommonClient
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    profile = ClientProfile(httpProfile=HttpProfile(
        endpoint=tencent_server.url.removeprefix("http://"), protocol="http", reqMethod="POST"))  # fmt: skip
    client = CommonClient("sms", "2021-01-11", credential.Credential(TENCENT_ID, TENCENT_KEY),
                          "ap-guangzhou", profile=profile)  # fmt: skip
    answer = client.call_json("SendSms", {
        "PhoneNumberSet": ["+86" + MOBILE], "SmsSdkAppId": TENCENT_APP, "SignName": "腾讯云",
        "TemplateId": "1110", "TemplateParamSet": ["654321", "5"]})  # fmt: skip
    assert answer["Response"]["SendStatusSet"][0]["Code"] == "Ok"
    (seen,) = tencent_server.state.seen
    assert seen.signature_ok
    assert tencent_server.state.codes == ["654321"]


# -- the adapters ---------------------------------------------------------------------------


async def test_aliyun_sends_a_signed_request(
    aliyun_server: _VendorServer, http: httpx.AsyncClient
) -> None:
    receipt = await aliyun(aliyun_server, http).send_code(MOBILE, "042917", 5)

    assert receipt.gateway == "aliyun" and receipt.message_id == "900619746936498440^0"
    (seen,) = aliyun_server.state.seen
    assert seen.signature_ok
    p = seen.params
    assert (p["Action"], p["Version"], p["PhoneNumbers"], p["SignName"], p["TemplateCode"]) == (
        "SendSms", "2017-05-25", MOBILE, "阿里云短信测试", "SMS_154950909")  # fmt: skip
    assert p["TemplateParam"] == '{"code":"042917"}'
    assert aliyun_server.state.codes == ["042917"]


async def test_aliyun_wrong_secret_is_refused_by_the_vendor(
    aliyun_server: _VendorServer, http: httpx.AsyncClient
) -> None:
    with pytest.raises(SmsGatewayUnavailable) as info:
        await aliyun(aliyun_server, http, secret="not-the-secret").send_code(MOBILE, "111111", 5)
    assert "SignatureDoesNotMatch" in info.value.en
    assert not aliyun_server.state.seen[0].signature_ok


@pytest.mark.parametrize(("kind", "expected"), [("throttle", SmsThrottled),
                                                 ("template", SmsGatewayUnavailable),
                                                 ("5xx", SmsGatewayUnavailable)])  # fmt: skip
async def test_aliyun_refusals(aliyun_server: _VendorServer, http: httpx.AsyncClient, kind: str,
                               expected: type[Exception], caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    aliyun_server.state.script = [kind]
    with caplog.at_level(logging.INFO), pytest.raises(expected) as info:
        await aliyun(aliyun_server, http).send_code(MOBILE, "222222", 5)
    if kind == "throttle":
        assert isinstance(info.value, SmsThrottled)
        assert info.value.vendor_code == "isv.BUSINESS_LIMIT_CONTROL"
    if kind == "template":
        assert "isv.SMS_TEMPLATE_ILLEGAL" in caplog.text
    assert MOBILE not in caplog.text and "222222" not in caplog.text
    assert aliyun_server.state.seen[0].signature_ok


async def test_tencent_sends_a_signed_request(
    tencent_server: _VendorServer, http: httpx.AsyncClient
) -> None:
    receipt = await tencent(tencent_server, http).send_code(MOBILE, "730015", 5)

    assert receipt.gateway == "tencent" and receipt.message_id.startswith("2019:")
    (seen,) = tencent_server.state.seen
    assert seen.signature_ok
    assert seen.headers["x-tc-action"] == "SendSms" and seen.headers["x-tc-version"] == "2021-01-11"
    assert seen.params == {"PhoneNumberSet": ["+86" + MOBILE], "SmsSdkAppId": TENCENT_APP,
                           "SignName": "腾讯云", "TemplateId": "1110",
                           "TemplateParamSet": ["730015", "5"]}  # fmt: skip


async def test_tencent_wrong_key_is_refused_by_the_vendor(
    tencent_server: _VendorServer, http: httpx.AsyncClient
) -> None:
    with pytest.raises(SmsGatewayUnavailable) as info:
        await tencent(tencent_server, http, key="nope").send_code(MOBILE, "111111", 5)
    assert "AuthFailure.SignatureFailure" in info.value.en


@pytest.mark.parametrize(("kind", "expected"), [("throttle", SmsThrottled),
                                                 ("template", SmsGatewayUnavailable),
                                                 ("5xx", SmsGatewayUnavailable)])  # fmt: skip
async def test_tencent_refusals(tencent_server: _VendorServer, http: httpx.AsyncClient, kind: str,
                                expected: type[Exception], caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    tencent_server.state.script = [kind]
    with caplog.at_level(logging.INFO), pytest.raises(expected) as info:
        await tencent(tencent_server, http).send_code(MOBILE, "333333", 5)
    if kind == "throttle":
        assert isinstance(info.value, SmsThrottled) and info.value.retry_after == 30
    if kind == "template":
        assert "FailedOperation.TemplateIncorrectOrUnapproved" in caplog.text
    assert MOBILE not in caplog.text and "333333" not in caplog.text


async def test_unreachable_vendor_is_unavailable(http: httpx.AsyncClient) -> None:
    with vendor_server("aliyun") as s:
        url = s.url
    gw = AliyunSmsGateway(AliyunSmsConfig(ALIYUN_ID, ALIYUN_SECRET, "s", "t", endpoint=url), http)
    with pytest.raises(SmsGatewayUnavailable):
        await gw.send_code(MOBILE, "444444", 5)


async def test_dev_gateway_logs_the_code_and_is_refused_outside_dev(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gw = DevSmsGateway(dev_mode=True)
    with caplog.at_level(logging.WARNING):
        await gw.send_code(MOBILE, "555555", 5)
    assert "555555" in caplog.text and "138****8000" in caplog.text and MOBILE not in caplog.text
    assert list(gw.outbox) == [("138****8000", "555555")]
    with pytest.raises(DevProofForbidden):
        DevSmsGateway(dev_mode=False)


async def test_build_gateway_follows_the_setting(http: httpx.AsyncClient) -> None:
    assert build_gateway(SmsConfig("", dev_mode=True), http).name == "dev"
    with pytest.raises(PlatformNotConfigured):
        build_gateway(SmsConfig("", dev_mode=False), http)
    with pytest.raises(DevProofForbidden):
        build_gateway(SmsConfig("dev", dev_mode=False), http)
    cfg = TencentSmsConfig(TENCENT_ID, TENCENT_KEY, TENCENT_APP, "s", "t")
    assert build_gateway(SmsConfig("tencent", False, tencent=cfg), http).name == "tencent"
    assert "secret_key='***'" in repr(cfg) and TENCENT_KEY not in repr(cfg)


def test_settings_refuse_the_dev_gateway_in_prod_and_incomplete_vendors() -> None:
    from pydantic import ValidationError

    from app.config import Settings, config_problems

    prod = {"app_env": "prod", "secret_key": "x" * 40, "data_keys": "", "face_data_keys": ""}
    with pytest.raises(ValidationError) as info:
        Settings(**prod, sms_gateway="dev")
    lines = config_problems(info.value)
    assert any(line.startswith("SMS_GATEWAY: dev writes the codes to the log") for line in lines)
    with pytest.raises(ValidationError) as info:
        Settings(app_env="dev", sms_gateway="tencent", tencent_sms_secret_id="id")
    lines = config_problems(info.value)
    for var in ("TENCENT_SMS_SECRET_KEY", "TENCENT_SMS_APP_ID", "SMS_SIGN_NAME", "SMS_TEMPLATE_ID"):
        assert any(line.startswith(f"{var}: required when SMS_GATEWAY=tencent") for line in lines)
    assert not any(line.startswith("TENCENT_SMS_SECRET_ID") for line in lines)
