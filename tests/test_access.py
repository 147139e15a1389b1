"""API key revocation and rate limits."""

from __future__ import annotations

from app.access.providers import add_api_key, revoke_api_key
from app.access.ratelimit import RateLimiter
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
    from app.access.ratelimit import RateLimiter as RL

    # The address limiter installed by create_app, shrunk for this test.
    address = api.app.state.limits.address
    assert isinstance(address, RL)
    assert address.per_minute == api.app.state.ctx.settings.rate_limit_address_per_minute
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


async def test_request_id_on_every_answer(api: Api) -> None:
    """The client's X-Request-Id comes back (cut to 64 characters); else a new one each time,
    on errors the middleware itself answers too (429, 413)."""
    r = await api.client.get("/healthz", headers={"X-Request-Id": "abc-" + "x" * 100})
    assert r.headers["x-request-id"] == ("abc-" + "x" * 100)[:64]
    one, two = (await api.client.get("/healthz"), await api.client.get("/healthz"))
    assert len(one.headers["x-request-id"]) == 16
    assert one.headers["x-request-id"] != two.headers["x-request-id"]
    big = b"{" + b" " * (api.app.state.ctx.settings.max_json_body_bytes + 1) + b"}"
    r = await api.client.post(
        "/v1/orders", content=big, headers={**api.auth, "X-Request-Id": "too-big"}
    )
    assert (r.status_code, r.headers["x-request-id"]) == (413, "too-big")
    address = api.app.state.limits.address
    saved, address.per_minute = address.per_minute, 0
    try:
        r = await api.client.get("/m/v1/session", headers={"X-Request-Id": "limited"})
    finally:
        address.per_minute = saved
    assert (r.status_code, r.headers["x-request-id"]) == (429, "limited")
    text = (await api.client.get("/metrics")).text
    assert 'heyan_http_request_seconds_count{method="GET",route="unmatched",status="429"}' in text
    assert 'route="unmatched",status="413"' in text  # refused before routing


async def test_api_key_cache_honours_revocation_within_its_time(api: Api) -> None:
    """A valid key is read once per API_KEY_CACHE_SECONDS; a revocation by another process
    is honoured once that time is over, one in this process at once."""
    from sqlalchemy import update

    from app.models.orders import ApiKey, utcnow

    ctx = api.app.state.ctx
    cache = ctx.api_keys
    assert cache.seconds == ctx.settings.api_key_cache_seconds == 5
    now = [1000.0]
    saved = cache.clock
    cache.clock = lambda: now[0]
    try:
        provider_id, key = await api.new_provider()
        h = {"Authorization": f"Bearer {key}"}
        assert (await api.client.get("/v1/orders", headers=h)).status_code == 200
        # Revoked by another process (`provider revoke-key`): a plain UPDATE, not this one.
        async with ctx.engine.begin() as conn:
            await conn.execute(
                update(ApiKey).where(ApiKey.provider_id == provider_id).values(revoked_at=utcnow())
            )
        now[0] += cache.seconds - 0.5
        assert (await api.client.get("/v1/orders", headers=h)).status_code == 200  # cached
        now[0] += 0.5
        r = await api.client.get("/v1/orders", headers=h)
        assert (r.status_code, r.json()["code"]) == (401, "API_KEY_INVALID")
        # Revoked in this process: refused at once, however fresh the cached entry.
        async with ctx.sessionmaker() as db:
            second = await add_api_key(db, provider_id)
        h = {"Authorization": f"Bearer {second}"}
        assert (await api.client.get("/v1/orders", headers=h)).status_code == 200
        async with ctx.sessionmaker() as db:
            assert await revoke_api_key(db, second[:10]) == 1
        assert (await api.client.get("/v1/orders", headers=h)).status_code == 401
    finally:
        cache.clock = saved
