"""Process-wide objects built once in the lifespan and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.access.providers import ApiKeyCache
from app.analysis.pipeline import CapturePipeline
from app.config import Settings
from app.core.cache import ByVersion
from app.security.tokens import TokenCodec
from app.storage import Storage


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    # The same pool in autocommit mode, for single-statement reads (the API key, a poll's
    # row): one round trip, without the BEGIN before and the ROLLBACK after.
    reader: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: Storage
    codec: TokenCodec
    pipeline: CapturePipeline
    http: httpx.AsyncClient
    phones: Any  # app.phone_match.PhoneResolvers
    api_keys: ApiKeyCache
    # Each order's rendered provider view (JSON), by version (ORDER_VIEW_CACHE_SECONDS).
    views: ByVersion[bytes]
    # Each order's status (app.orders.state.Status, a str) by version, for the changed-since
    # pages: nothing personal in it.
    statuses: ByVersion[str] = field(default_factory=lambda: ByVersion(100_000))
