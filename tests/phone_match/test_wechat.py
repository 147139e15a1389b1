"""WeChat adapter against a real HTTP server on 127.0.0.1 that answers like WeChat."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

import httpx
import pytest

from app.core.errors import AppError
from app.phone_match import (
    PhoneProofInvalid,
    PhoneProofUnavailable,
    WeChatConfig,
    WeChatResolver,
)

if TYPE_CHECKING:  # fixtures come from conftest.py; only the type is imported
    from tests.phone_match.conftest import FakeWeChat

PHONE = "13800138000"  # what the fake server answers unless scripted otherwise
BUSY = (200, {"errcode": -1, "errmsg": "system error"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_resolver(
    server: FakeWeChat,
    http: httpx.AsyncClient,
    *,
    secret: str | None = None,
    timeout: float = 1.0,
    clock: Clock | None = None,
) -> WeChatResolver:
    config = WeChatConfig(
        appid=server.appid,
        secret=server.secret if secret is None else secret,
        base_url=server.base_url + "/",
        timeout_seconds=timeout,
    )
    if clock is None:
        return WeChatResolver(config, http)
    return WeChatResolver(config, http, clock=clock)


async def test_resolves_the_phone_number(
    wechat_server: FakeWeChat, http: httpx.AsyncClient
) -> None:
    resolver = make_resolver(wechat_server, http)

    assert resolver.platform == "wechat"
    assert await resolver.resolve({"code": "a-real-looking-code"}) == PHONE

    state = wechat_server.state
    assert state.token_requests == [
        {
            "grant_type": "client_credential",
            "appid": wechat_server.appid,
            "secret": wechat_server.secret,
            "force_refresh": False,
        }
    ]
    assert state.phone_requests == [(state.issued[0], {"code": "a-real-looking-code"})]


async def test_token_is_cached_between_requests(
    wechat_server: FakeWeChat, http: httpx.AsyncClient
) -> None:
    resolver = make_resolver(wechat_server, http)

    for i in range(5):
        assert await resolver.resolve({"code": f"code-{i}"}) == PHONE

    assert wechat_server.state.token_calls == 1
    assert wechat_server.state.phone_calls == 5


async def test_concurrent_requests_fetch_the_token_once(
    wechat_server: FakeWeChat, http: httpx.AsyncClient
) -> None:
    wechat_server.state.token_delay = 0.2  # all requests arrive while the fetch is in flight
    resolver = make_resolver(wechat_server, http)

    results = await asyncio.gather(*(resolver.resolve({"code": f"c{i}"}) for i in range(25)))

    assert results == [PHONE] * 25
    assert wechat_server.state.token_calls == 1
    assert wechat_server.state.phone_calls == 25
    assert {token for token, _ in wechat_server.state.phone_requests} == {
        wechat_server.state.issued[0]
    }


async def test_concurrent_requests_share_a_failed_token_fetch(
    wechat_server: FakeWeChat, http: httpx.AsyncClient
) -> None:
    wechat_server.state.token_delay = 0.2
    wechat_server.state.token_answer = {"errcode": -1, "errmsg": "system error"}
    resolver = make_resolver(wechat_server, http)

    results = await asyncio.gather(
        *(resolver.resolve({"code": f"c{i}"}) for i in range(10)), return_exceptions=True
    )

    assert all(isinstance(r, PhoneProofUnavailable) for r in results)
    assert wechat_server.state.token_calls == 1  # waiters fail with the fetch, not after it

    # The next request tries again, and succeeds once WeChat is back.
    wechat_server.state.token_delay = 0
    wechat_server.state.token_answer = None
    assert await resolver.resolve({"code": "later"}) == PHONE
    assert wechat_server.state.token_calls == 2


async def test_token_is_refreshed_five_minutes_before_it_expires(
    wechat_server: FakeWeChat, http: httpx.AsyncClient
) -> None:
    clock = Clock()
    resolver = make_resolver(wechat_server, http, clock=clock)

    await resolver.resolve({"code": "c1"})
    clock.now += 7200 - 300 - 1
    await resolver.resolve({"code": "c2"})
    assert wechat_server.state.token_calls == 1

    clock.now += 2
    await resolver.resolve({"code": "c3"})
    assert wechat_server.state.token_calls == 2
    assert wechat_server.state.phone_requests[-1][0] == wechat_server.state.issued[1]


async def test_short_lived_token_is_kept_for_half_its_life(
    wechat_server: FakeWeChat, http: httpx.AsyncClient
) -> None:
    # stable_token reports the remaining life; near the end it can be under five minutes.
    wechat_server.state.expires_in = 200
    clock = Clock()
    resolver = make_resolver(wechat_server, http, clock=clock)

    await resolver.resolve({"code": "c1"})
    clock.now += 99
    await resolver.resolve({"code": "c2"})
    assert wechat_server.state.token_calls == 1
    clock.now += 2
    await resolver.resolve({"code": "c3"})
    assert wechat_server.state.token_calls == 2


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
async def test_rejected_token_is_dropped_refetched_and_retried_once(
    wechat_server: FakeWeChat, http: httpx.AsyncClient, errcode: int
) -> None:
    resolver = make_resolver(wechat_server, http)
    assert await resolver.resolve({"code": "first"}) == PHONE

    wechat_server.state.reject_current_token(errcode)  # e.g. 42001: expired early
    assert await resolver.resolve({"code": "second"}) == PHONE

    state = wechat_server.state
    assert state.token_calls == 2
    assert [token for token, _ in state.phone_requests] == [
        state.issued[0],
        state.issued[0],
        state.issued[1],
    ]
    # The refreshed token is cached in turn.
    assert await resolver.resolve({"code": "third"}) == PHONE
    assert state.token_calls == 2


async def test_concurrent_requests_refresh_a_rejected_token_once(
    wechat_server: FakeWeChat, http: httpx.AsyncClient
) -> None:
    resolver = make_resolver(wechat_server, http)
    await resolver.resolve({"code": "warm-up"})
    wechat_server.state.reject_current_token(42001)

    results = await asyncio.gather(*(resolver.resolve({"code": f"c{i}"}) for i in range(10)))

    assert results == [PHONE] * 10
    assert wechat_server.state.token_calls == 2


async def test_token_rejected_again_after_refresh_is_unavailable(
    wechat_server: FakeWeChat, http: httpx.AsyncClient
) -> None:
    wechat_server.state.reject_every_token_with = 40001
    resolver = make_resolver(wechat_server, http)

    with pytest.raises(PhoneProofUnavailable):
        await resolver.resolve({"code": "c"})

    assert wechat_server.state.token_calls == 2  # one fetch, one retry, no loop
    assert wechat_server.state.phone_calls == 2


@pytest.mark.parametrize(
    "answer",
    [
        {"errcode": 40029, "errmsg": "invalid code, rid: 6555d1a6-1f2e"},
        {"errcode": 40163, "errmsg": "code been used, rid: 6555d1a6-1f2f"},
    ],
)
async def test_invalid_or_used_code_is_invalid_proof(
    wechat_server: FakeWeChat, http: httpx.AsyncClient, answer: dict[str, object]
) -> None:
    wechat_server.script("the-code", 200, answer)
    resolver = make_resolver(wechat_server, http)

    with pytest.raises(PhoneProofInvalid) as info:
        await resolver.resolve({"code": "the-code"})

    assert info.value.status == 401
    assert info.value.code == "PHONE_PROOF_INVALID"
    assert info.value.zh == "手机号验证失败,请重新授权手机号"
    assert wechat_server.state.token_calls == 1  # a bad code does not cost the token


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(*BUSY, id="system-busy"),
        pytest.param(200, {"errcode": 45011, "errmsg": "api minute-quota reach limit"}, id="45011"),
        pytest.param(200, {"errcode": 99999, "errmsg": "something new"}, id="unknown-errcode"),
        pytest.param(500, "<html><body>500 Internal Server Error</body></html>", id="http-500"),
        pytest.param(502, "", id="http-502-empty"),
        pytest.param(200, "<html><body>gateway says hi</body></html>", id="garbage"),
        pytest.param(200, "", id="empty-body"),
        pytest.param(200, [0, "ok"], id="json-not-object"),
        pytest.param(200, {"errcode": 0, "errmsg": "ok"}, id="no-phone-info"),
        pytest.param(
            200,
            {"errcode": 0, "errmsg": "ok", "phone_info": {"purePhoneNumber": PHONE}},
            id="no-country-code",
        ),
    ],
)
async def test_platform_trouble_is_unavailable(
    wechat_server: FakeWeChat, http: httpx.AsyncClient, status: int, body: object
) -> None:
    wechat_server.script("the-code", status, body)
    resolver = make_resolver(wechat_server, http)

    with pytest.raises(PhoneProofUnavailable) as info:
        await resolver.resolve({"code": "the-code"})

    assert info.value.status == 502
    assert info.value.code == "PHONE_PROOF_UNAVAILABLE"
    assert info.value.zh == "暂时无法验证手机号,请稍后重试"
    assert wechat_server.state.token_calls == 1


async def test_slow_answer_times_out_and_keeps_the_token(
    wechat_server: FakeWeChat, http: httpx.AsyncClient
) -> None:
    wechat_server.script("slow", 200, wechat_server.phone_answer(PHONE), delay=2.0)
    resolver = make_resolver(wechat_server, http, timeout=0.3)
    loop = asyncio.get_running_loop()

    started = loop.time()
    with pytest.raises(PhoneProofUnavailable):
        await resolver.resolve({"code": "slow"})
    assert loop.time() - started < 1.5

    assert await resolver.resolve({"code": "fine"}) == PHONE
    assert wechat_server.state.token_calls == 1


async def test_non_mainland_number_is_refused_with_a_clear_message(
    wechat_server: FakeWeChat, http: httpx.AsyncClient
) -> None:
    wechat_server.script("hk", 200, wechat_server.phone_answer("91234567", country="852"))
    resolver = make_resolver(wechat_server, http)

    with pytest.raises(PhoneProofInvalid) as info:
        await resolver.resolve({"code": "hk"})

    assert "中国大陆" in info.value.zh
    assert "mainland" in info.value.en


@pytest.mark.parametrize(
    "proof", [{}, {"code": ""}, {"code": "   "}, {"code": 12345}, {"code": "x" * 300}]
)
async def test_malformed_proof_is_refused_without_calling_wechat(
    wechat_server: FakeWeChat, http: httpx.AsyncClient, proof: dict[str, object]
) -> None:
    resolver = make_resolver(wechat_server, http)

    with pytest.raises(PhoneProofInvalid):
        await resolver.resolve(proof)

    assert wechat_server.state.token_calls == 0
    assert wechat_server.state.phone_calls == 0


async def test_wrong_secret_is_unavailable_and_not_cached(
    wechat_server: FakeWeChat, http: httpx.AsyncClient
) -> None:
    resolver = make_resolver(wechat_server, http, secret="wrong-secret-value-123")

    for _ in range(2):
        with pytest.raises(PhoneProofUnavailable) as info:
            await resolver.resolve({"code": "c"})
        assert "wrong-secret-value-123" not in str(info.value)

    assert wechat_server.state.token_calls == 2
    assert wechat_server.state.phone_calls == 0


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, "<html>not json</html>"),
        (200, {"errcode": -1, "errmsg": "system error"}),
        (200, {"expires_in": 7200}),
        (500, "<html>oops</html>"),
    ],
)
async def test_token_endpoint_trouble_is_unavailable(
    wechat_server: FakeWeChat, http: httpx.AsyncClient, status: int, answer: object
) -> None:
    wechat_server.state.token_status = status
    wechat_server.state.token_answer = answer
    resolver = make_resolver(wechat_server, http)

    with pytest.raises(PhoneProofUnavailable):
        await resolver.resolve({"code": "c"})
    assert wechat_server.state.phone_calls == 0


async def test_server_down_is_unavailable(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = WeChatConfig(appid="wx1", secret="s", base_url=f"http://127.0.0.1:{port}")
    resolver = WeChatResolver(config, http)

    with pytest.raises(PhoneProofUnavailable):
        await resolver.resolve({"code": "c"})


async def test_secrets_tokens_and_numbers_stay_out_of_errors_and_logs(
    wechat_server: FakeWeChat, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="app.phone_match")
    wechat_server.script("invalid", 200, {"errcode": 40029, "errmsg": "invalid code"})
    wechat_server.script("busy", *BUSY)
    wechat_server.script("500", 500, "oops")
    wechat_server.script("garbage", 200, "<html>")
    wechat_server.script("slow", 200, wechat_server.phone_answer(PHONE), delay=2.0)
    resolver = make_resolver(wechat_server, http, timeout=0.3)
    assert await resolver.resolve({"code": "ok"}) == PHONE
    token = wechat_server.state.issued[0]

    errors: list[AppError] = []
    for code in ("invalid", "busy", "500", "garbage", "slow"):
        with pytest.raises((PhoneProofInvalid, PhoneProofUnavailable)) as info:
            await resolver.resolve({"code": code})
        errors.append(info.value)
    wechat_server.state.reject_every_token_with = 42001
    with pytest.raises(PhoneProofUnavailable) as info:
        await resolver.resolve({"code": "c"})
    errors.append(info.value)

    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("app."))
    assert "138****8000" in ours
    for text in [ours, *(f"{e} {e.zh} {e.en} {e.args}" for e in errors)]:
        assert wechat_server.secret not in text
        assert token not in text
        assert "ACCESS-TOKEN" not in text
        assert PHONE not in text
    for error in errors:
        # httpx exceptions carry the request URL (with the token): never chained.
        assert error.__cause__ is None
        assert error.__context__ is None or error.__suppress_context__
