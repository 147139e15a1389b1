"""Providers (接入商) and their API keys. Only a SHA-256 of a key is stored."""

from __future__ import annotations

import hashlib
import secrets
import time
import weakref
from collections.abc import Callable

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.db import OneRow
from app.models.orders import ApiKey, Provider, new_id, utcnow


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


_ACTIVE_KEY = OneRow(
    select(ApiKey.provider_id).where(
        ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)
    )
)


async def provider_of_key(engine: AsyncEngine, key_hash: str) -> str | None:
    """The provider of an active (not revoked) key, by its hash: one indexed read."""
    row = await _ACTIVE_KEY.first(engine, {"key_hash": key_hash})
    return None if row is None else str(row["provider_id"])


class ApiKeyCache:
    """Valid API keys remembered in this process for ``seconds`` (API_KEY_CACHE_SECONDS).

    A provider polls many times a second with the same key: it is read from the database
    once per ``seconds``, not on every request. Only valid keys are kept (a wrong key is read
    every time, and rate limited like any request). A revocation is honoured at once in this
    process (:func:`revoke_api_key` empties every cache of the process) and at most
    ``seconds`` later in the others. Keyed by the key's SHA-256, never the key.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._entries: dict[str, tuple[str, float]] = {}
        _CACHES.add(self)

    def get(self, key_hash: str) -> str | None:
        hit = self._entries.get(key_hash)
        if hit is None:
            return None
        if self.clock() >= hit[1]:
            del self._entries[key_hash]
            return None
        return hit[0]

    def put(self, key_hash: str, provider_id: str) -> None:
        if self.seconds <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[key_hash] = (provider_id, self.clock() + self.seconds)

    def clear(self) -> None:
        self._entries.clear()


_CACHES: weakref.WeakSet[ApiKeyCache] = weakref.WeakSet()


async def create_provider(db: AsyncSession, name: str) -> tuple[str, str]:
    """Create a provider with one API key; return (provider_id, api_key). The key is shown once."""
    provider = Provider(id=new_id(), name=name)
    key = "hy_" + secrets.token_urlsafe(32)
    db.add(provider)
    await db.flush()
    db.add(ApiKey(provider_id=provider.id, prefix=key[:10], key_hash=hash_api_key(key)))
    await db.commit()
    return provider.id, key


async def add_api_key(db: AsyncSession, provider_id: str) -> str:
    """A second key for rotation: add the new one, move the client over, revoke the old."""
    if await db.get(Provider, provider_id) is None:
        raise ValueError("no such provider")
    key = "hy_" + secrets.token_urlsafe(32)
    db.add(ApiKey(provider_id=provider_id, prefix=key[:10], key_hash=hash_api_key(key)))
    await db.commit()
    return key


async def revoke_api_key(db: AsyncSession, prefix: str) -> int:
    """Revoke every active key with this prefix (as `provider list` shows it)."""
    if len(prefix) < 6:
        raise ValueError("give at least 6 characters of the key prefix")
    result = await db.execute(
        update(ApiKey)
        .where(ApiKey.prefix.startswith(prefix), ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await db.commit()
    for cache in list(_CACHES):  # this process stops accepting it now; the others within TTL
        cache.clear()
    return int(result.rowcount)  # type: ignore[attr-defined]
