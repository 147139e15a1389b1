"""Fixtures for the document-analysis tests: one OCR engine per session, cached cases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from app.access.providers import create_provider
from app.analysis.pipeline import CapturePipeline
from app.core.migrate import upgrade
from app.documents.analyzer import DocumentAnalyzer, DocumentVerdict
from app.main import create_app
from testkit.documents.cases import Case, make_case
from tests.conftest import Api, _in_thread, intake_pipeline, make_settings


@pytest.fixture(scope="session")
def analyzer(document_analyzer: DocumentAnalyzer) -> DocumentAnalyzer:
    """The session's one OCR engine (tests/conftest.py), shared with the API tests."""
    return document_analyzer


@pytest.fixture(scope="session")
def case_verdict(
    analyzer: DocumentAnalyzer,
) -> Callable[[str, str, int], tuple[Case, DocumentVerdict]]:
    """Generate (deterministically) and analyse one labelled-synthetic case, once per session."""
    cache: dict[tuple[str, str, int], tuple[Case, DocumentVerdict]] = {}

    def get(family: str, variant: str, seed: int = 0) -> tuple[Case, DocumentVerdict]:
        key = (family, variant, seed)
        if key not in cache:
            case = make_case(family, variant, seed)
            cache[key] = (case, analyzer.analyze(case.image, case.kind, case.expect))
        return cache[key]

    return get


@pytest.fixture(scope="module")
async def doc_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, document_analyzer: Any
) -> AsyncIterator[Api]:
    """The app with the real document analyser (no face models) on its own SQLite, per module."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    data_dir = tmp_path_factory.mktemp(name)
    url = f"sqlite+aiosqlite:///{data_dir / 'docs.db'}"
    _in_thread(upgrade, url)
    settings = make_settings(
        {"database_url": url, "database_schema": "", "data_dir": str(data_dir)},
        min_image_side=480,
        webhook_dispatcher=False,
    )
    base = intake_pipeline(settings)
    app = create_app(settings, pipeline=CapturePipeline(base.limits, document=document_analyzer))
    async with app.router.lifespan_context(app):
        async with app.state.ctx.sessionmaker() as db:
            provider_id, key = await create_provider(db, name)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.11", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, app, key, provider_id)
