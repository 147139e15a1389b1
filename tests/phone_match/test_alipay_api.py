"""Alipay through the public API: the envelope as a string or already parsed, and the
encrypt/sign types without regard to case (as Alipay's SDK compares them)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from app.access.providers import create_provider
from app.core.migrate import upgrade
from app.main import create_app
from tests.conftest import Api, _in_thread, intake_pipeline, make_settings
from tests.flows import new_order, qr

if TYPE_CHECKING:
    from tests.phone_match.conftest import FakeAlipay


@pytest.fixture
async def alipay_api(tmp_path: Path, alipay: FakeAlipay) -> AsyncIterator[Api]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    _in_thread(upgrade, url)
    settings = make_settings(
        {"database_url": url, "database_schema": "", "data_dir": str(tmp_path)},
        webhook_dispatcher=False,
        alipay_app_id="2021000000000000",
        alipay_public_key=alipay.public_key_pem,
        alipay_aes_key=alipay.aes_key_b64,
    )
    app = create_app(settings, pipeline=intake_pipeline(settings))
    async with app.router.lifespan_context(app):
        async with app.state.ctx.sessionmaker() as db:
            provider_id, key = await create_provider(db, "alipay")
        transport = httpx.ASGITransport(app=app, client=("203.0.113.12", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, app, key, provider_id)


async def _scan(api: Api, response: object) -> httpx.Response:
    order = await new_order(api)
    token = await qr(api, order["id"])
    return await api.client.post(
        "/m/v1/sessions", json={"qr_token": token, "platform": "alipay", "response": response}
    )


async def test_response_as_a_string_or_a_parsed_object(alipay_api: Api, alipay: FakeAlipay) -> None:
    r = await _scan(alipay_api, alipay.response())
    assert r.status_code == 201, r.text
    r = await _scan(alipay_api, json.loads(alipay.response()))
    assert r.status_code == 201, r.text
    r = await _scan(alipay_api, 12345)
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_encrypt_and_sign_types_ignore_case(alipay_api: Api, alipay: FakeAlipay) -> None:
    r = await _scan(alipay_api, alipay.response(encrypt_type="aes", sign_type="rsa2"))
    assert r.status_code == 201, r.text
    r = await _scan(alipay_api, alipay.response(encrypt_type="RSA"))
    assert (r.status_code, r.json()["code"]) == (401, "PHONE_PROOF_INVALID")
