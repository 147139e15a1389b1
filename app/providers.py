"""Providers (接入商) and their API keys. Only a SHA-256 of a key is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiKey, Provider, new_id, utcnow


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


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
    return int(result.rowcount)  # type: ignore[attr-defined]
