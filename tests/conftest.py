"""Shared fixtures: the app on SQLite and on real PostgreSQL, an async client, a provider.

PostgreSQL tests use a fresh schema per run in database `test` on 127.0.0.1:5432. With
CI=true they must run: an unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.providers import create_provider
from app.analysis.pipeline import CapturePipeline
from app.config import DEFAULT_ABUSE_CAPS, Settings
from app.core.db import make_engine
from app.core.migrate import upgrade
from app.lifespan import limits_of
from app.main import create_app

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


def require(ok: bool, why: str) -> None:
    """Skip a test whose prerequisite (``why`` names it) is missing; with CI=true, fail."""
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (required when CI=true)")
    pytest.skip(why)


def require_postgres() -> None:
    """Skip a PostgreSQL test where the server is unreachable; with CI=true, fail instead."""
    require(_pg_reachable(), "PostgreSQL is not reachable on 127.0.0.1:5432")


def _in_thread(fn: Any, *args: Any) -> Any:
    """Run blocking set-up (Alembic runs its own event loop) outside the test loop."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


async def _pg_exec(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    data_dir = tmp_path_factory.mktemp(f"data-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{data_dir / 'test.db'}"
        _in_thread(upgrade, url)
        yield {"database_url": url, "database_schema": "", "data_dir": str(data_dir)}
        return
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _in_thread(asyncio.run, _pg_exec(f'CREATE SCHEMA "{schema}"'))
    _in_thread(upgrade, PG_URL, "head", schema)
    try:
        yield {"database_url": PG_URL, "database_schema": schema, "data_dir": str(data_dir)}
    finally:
        _in_thread(asyncio.run, _pg_exec(f'DROP SCHEMA "{schema}" CASCADE'))


def make_settings(db: dict[str, str], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "test",
        "secret_key": "test-secret-key-that-is-long-enough-0123456789",
        "capture_checks": "intake",
        "public_base_url": "https://heyan.example",
        "min_image_side": 200,
        # The ASGI test client is one address: the suite is not a runaway client.
        "rate_limit_address_per_minute": 1_000_000,
        "rate_limit_provider_per_minute": 1_000_000,
        # The suite's made-up people, phones and devices verify far more than anyone may:
        # the caps per identity have their own tests (tests/test_abuse.py).
        "abuse_caps": {cap: [] for cap in DEFAULT_ABUSE_CAPS},
        **db,
        **overrides,
    }
    return Settings(**values)


def intake_pipeline(settings: Settings) -> CapturePipeline:
    """Intake checks only: the flow tests exercise the state machine, not the models."""
    return CapturePipeline(limits_of(settings))


class Api:
    """A client bound to the app, with a provider's key at hand."""

    def __init__(self, client: httpx.AsyncClient, app: Any, api_key: str, provider_id: str) -> None:
        self.client = client
        self.app = app
        self.api_key = api_key
        self.provider_id = provider_id

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    async def new_provider(self) -> tuple[str, str]:
        async with self.app.state.ctx.sessionmaker() as db:
            return await create_provider(db, "other")


@pytest.fixture(scope="session")
async def api(db_settings: dict[str, str]) -> AsyncIterator[Api]:
    settings = make_settings(db_settings)
    app = create_app(settings, pipeline=intake_pipeline(settings))
    async with app.router.lifespan_context(app):
        async with app.state.ctx.sessionmaker() as db:
            provider_id, key = await create_provider(db, "test-provider")
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, app, key, provider_id)


# ----------------------------------------------------------------------------------------
# Test data (labelled synthetic: drawn by these helpers, not photos of real people)

# Valid GB 11643 numbers for made-up people (check digits computed by app.documents.validators).
from app.documents.validators import id_check_char, uscc_check_char  # noqa: E402


def make_id(prefix17: str) -> str:
    return prefix17 + id_check_char(prefix17)


def make_uscc(prefix17: str) -> str:
    return prefix17 + uscc_check_char(prefix17)


ID_A = make_id("44120119900307401")  # 张三
ID_B = make_id("11010519851224002")  # 李四
USCC_A = make_uscc("91440300MA5F00000")


def person(name: str = "张三", number: str = ID_A, mobile: str = "13800138000") -> dict[str, Any]:
    return {"name": name, "document": {"type": "resident_id", "number": number}, "mobile": mobile}


def order_body(external_id: str | None = None, *, websites: list[dict[str, Any]] | None = None,
               principal: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    principal = principal or person()
    return {
        "external_id": external_id or uuid.uuid4().hex,
        "business_type": "new_filing",
        "subject": {
            "nature": "enterprise",
            "name": "深圳市示例科技有限公司",
            "document": {"type": "business_licence", "number": USCC_A},
            "province": "广东省",
            "principal": principal,
        },
        "websites": websites
        or [{"name": "示例官网", "domains": ["example.cn"], "principal": principal}],
    }


def synthetic_jpeg(w: int = 640, h: int = 400, seed: int = 0) -> bytes:
    """A labelled-synthetic photo: random colour blocks, valid JPEG."""
    rng = np.random.default_rng(seed)
    arr = (rng.random((h // 20, w // 20, 3)) * 255).astype(np.uint8)
    img = Image.fromarray(arr).resize((w, h), Image.NEAREST)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def synthetic_mp4(frames: int = 12, size: tuple[int, int] = (160, 120)) -> bytes:
    """A labelled-synthetic short H.264 video (moving gradient), encoded with PyAV."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=10)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            arr = np.full((size[1], size[0], 3), (i * 20) % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


DATA = Path(__file__).parent / "data"


# ----------------------------------------------------------------------------------------
# Real models, loaded once per test run and shared by every test that needs them.


@pytest.fixture(scope="session")
def document_analyzer() -> Any:
    from app.documents.analyzer import DocumentAnalyzer

    analyzer = DocumentAnalyzer()
    analyzer.load()
    return analyzer


@pytest.fixture(scope="session")
def digit_reader() -> Any:
    """Whisper base constrained to digits, loaded once per test run (language zh)."""
    from app.liveness import list_speech_models
    from app.liveness.speech import DigitReader
    from tests.liveness.conftest import speech_model_dir

    d = speech_model_dir()
    if not list_speech_models(d):
        from app.liveness.prepare.build import prepare_speech_models

        prepare_speech_models(d)
    reader = DigitReader.from_dir(d)
    reader.load()
    return reader


@pytest.fixture(scope="session")
def face_analyzer() -> Any:
    from app.liveness import FaceAnalyzer, list_models, prepare_models
    from tests.liveness.conftest import face_model_dir

    d = face_model_dir()
    if len(list_models(d)) < 5:  # every role, the passive model included
        prepare_models(d)
    analyzer = FaceAnalyzer(d)
    analyzer.load()
    return analyzer


@contextlib.asynccontextmanager
async def rolled_back_session(db: dict[str, str]) -> AsyncIterator[AsyncSession]:
    """A session on one connection whose outer transaction is rolled back at the end: the
    code under test may commit (each commit releases a SAVEPOINT), and nothing it wrote
    outlives the test. For service-level tests that need no second connection (an API call
    in the middle would not see these rows). On SQLite the driver's own transaction handling
    is turned off so that SAVEPOINT works (SQLAlchemy's recipe for pysqlite/aiosqlite)."""
    url = db["database_url"]
    engine = make_engine(url, schema=db["database_schema"] or None)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _no_driver_transactions(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

    try:
        async with engine.connect() as conn:
            outer = await conn.begin()
            session = AsyncSession(
                bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
            try:
                yield session
            finally:
                await session.close()
                await outer.rollback()
    finally:
        await engine.dispose()


@pytest.fixture
async def rolled_back_db(db_settings: dict[str, str]) -> AsyncIterator[AsyncSession]:
    async with rolled_back_session(db_settings) as session:
        yield session
