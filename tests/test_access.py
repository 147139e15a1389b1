"""API key revocation and rate limits."""

from __future__ import annotations

from app.providers import add_api_key, revoke_api_key
from app.ratelimit import RateLimiter
from tests.conftest import Api


async def test_revoked_key_is_refused(api: Api) -> None:
    async with api.app.state.ctx.sessionmaker() as db:
        provider_id, key = await api.new_provider()
        second = await add_api_key(db, provider_id)
        assert await revoke_api_key(db, key[:10]) == 1
    r = await api.client.get("/v1/orders", headers={"Authorization": f"Bearer {key}"})
    assert (r.status_code, r.json()["code"]) == (401, "API_KEY_INVALID")
    r = await api.client.get("/v1/orders", headers={"Authorization": f"Bearer {second}"})
    assert r.status_code == 200


def test_rate_limiter_windows() -> None:
    now = [120.0]
    rl = RateLimiter(3, clock=lambda: now[0])
    assert [rl.hit("a") for _ in range(3)] == [None, None, None]
    assert rl.hit("a") == 61
    assert rl.hit("b") is None
    now[0] = 150.0
    assert rl.hit("a") == 31
    now[0] = 181.0
    assert rl.hit("a") is None


async def test_rate_limit_answers_429_problem(api: Api) -> None:
    from app.ratelimit import RateLimiter as RL

    # Find the address limiter installed by create_app and shrink it for this test.
    mw = [
        m
        for m in api.app.user_middleware
        if "limiter" in getattr(m.kwargs.get("dispatch"), "__qualname__", "")
    ]
    assert mw
    closure = mw[0].kwargs["dispatch"].__closure__
    limiters = [c.cell_contents for c in closure if isinstance(c.cell_contents, RL)]
    address = next(
        lim
        for lim in limiters
        if lim.per_minute == api.app.state.ctx.settings.rate_limit_address_per_minute
    )
    saved = address.per_minute
    address.per_minute = 0
    try:
        r = await api.client.get("/m/v1/session")
        assert r.status_code == 429
        assert r.json()["code"] == "RATE_LIMITED"
        assert int(r.headers["retry-after"]) >= 1
    finally:
        address.per_minute = saved


async def test_metrics_exposition(api: Api) -> None:
    await api.client.get("/v1/orders", headers=api.auth)
    r = await api.client.get("/metrics")
    assert r.status_code == 200
    text = r.text
    assert 'heyan_http_request_seconds_count{method="GET",route="/v1/orders",status="200"}' in text
    assert "heyan_inference_queue_depth" in text
    assert "heyan_webhook_backlog" in text
