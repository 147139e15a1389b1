"""Typed FastAPI dependencies: the DB session, the authenticated provider, the capture session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.providers import hash_api_key, provider_of_key
from app.context import AppContext
from app.core.errors import AppError, Unauthorized
from app.models.orders import CaptureSession, utcnow
from app.security.tokens import SessionInvalid

bearer = HTTPBearer(auto_error=False)


async def get_ctx(request: Request) -> AppContext:
    # async, though it awaits nothing: FastAPI runs a plain `def` dependency in its thread
    # pool, a thread hand-off on every request for one attribute read.
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


async def get_db(ctx: CtxDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: one session, committed once when the endpoint returns and
    rolled back when it raises, so services never commit. An :class:`AppError` with
    ``keeps_writes`` (a refusal that is itself the record) is committed, then rendered.

    Scoped to the endpoint function (``scope="function"``): the commit happens before the
    response is sent, so a 2xx is never answered for a write that then failed to commit.
    The capture path is the one deliberate exception (app.capture.service): it commits its
    decision itself, because the blobs it stored are deleted when that commit fails, and it
    burns a challenge at once; the final commit here then finds nothing to do. Background
    jobs and CLI commands open sessions of their own.
    """
    async with ctx.sessionmaker() as session:
        try:
            yield session
        except AppError as e:
            if e.keeps_writes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


DbDep = Annotated[AsyncSession, Depends(get_db, scope="function")]


class ProviderKey(HTTPBearer):
    """The provider of the request's API key (401 without a valid one), as one dependency.

    It is the Bearer scheme itself (an ``HTTPBearer`` named ``HTTPBearer``, so the OpenAPI
    document is the one a plain ``Depends(bearer)`` gives) that also looks the key up: FastAPI
    solves every dependency node on every request, and this one runs on every provider call
    (a poll's whole work is about as long as two nodes). The context comes from the request
    for the same reason, not from ``CtxDep``.

    A valid key is remembered in this process for API_KEY_CACHE_SECONDS
    (app.access.providers.ApiKeyCache): a poll reads no key from the database.
    """

    async def __call__(self, request: Request) -> str:  # type: ignore[override]
        scheme, key = get_authorization_scheme_param(request.headers.get("authorization"))
        if not key or scheme.lower() != "bearer":
            raise Unauthorized(
                code="API_KEY_MISSING", zh="缺少 API 密钥", en="Missing Bearer API key",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        ctx: AppContext = request.app.state.ctx
        key_hash = hash_api_key(key)
        provider_id = ctx.api_keys.get(key_hash)
        if provider_id is None:
            # On a connection of its own, back in the pool before the endpoint runs; a cached
            # key (nearly every poll) costs no database round trip at all.
            provider_id = await provider_of_key(ctx.reader, key_hash)
            if provider_id is None:
                raise Unauthorized(
                    code="API_KEY_INVALID", zh="API 密钥无效", en="Invalid or revoked API key",
                    headers={"WWW-Authenticate": "Bearer"},
                )  # fmt: skip
            ctx.api_keys.put(key_hash, provider_id)
        return provider_id


get_provider_id = ProviderKey(auto_error=False, scheme_name="HTTPBearer")

ProviderDep = Annotated[str, Depends(get_provider_id)]


async def get_capture_session(
    ctx: CtxDep,
    db: DbDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> CaptureSession:
    if creds is None:
        raise SessionInvalid(headers={"WWW-Authenticate": "Bearer"})
    now = utcnow()
    session_id = ctx.codec.read_session(creds.credentials, now)
    row = await db.get(CaptureSession, session_id)
    if row is None or row.expires_at <= now:
        raise SessionInvalid()
    return row


CaptureSessionDep = Annotated[CaptureSession, Depends(get_capture_session)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
