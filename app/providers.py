"""Providers (接入商) and their API keys. Only a SHA-256 of a key is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiKey, Provider, new_id


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
