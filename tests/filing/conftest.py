"""Fixtures of the filing tests: an app with the real document checks (OCR, seal,
signature), no face models, on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.access.providers import create_provider
from app.analysis.pipeline import CapturePipeline
from app.main import create_app
from tests.conftest import Api, intake_pipeline, make_settings


@pytest.fixture(scope="module")
async def doc_api(db_settings: dict[str, str], document_analyzer: Any) -> AsyncIterator[Api]:
    settings = make_settings(db_settings, webhook_dispatcher=False)
    pipeline = CapturePipeline(intake_pipeline(settings).limits, document=document_analyzer)
    app = create_app(settings, pipeline=pipeline)
    async with app.router.lifespan_context(app):
        async with app.state.ctx.sessionmaker() as db:
            provider_id, key = await create_provider(db, "filing-real")
        transport = httpx.ASGITransport(app=app, client=("203.0.113.11", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, app, key, provider_id)
