"""Declarative base with a naming convention, engine factory, session dependency."""

from __future__ import annotations

import errno
import socket
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(
    url: str, *, schema: str | None = None, connect_timeout: float = 5.0, **kwargs: Any
) -> AsyncEngine:
    """An async engine; ``schema`` sets PostgreSQL's search_path (tests use a fresh one).

    PostgreSQL: connections are pinged before use (``pool_pre_ping``), so after a server
    restart the stale pool is replaced on the next checkout and the process recovers by
    itself; a new connection gives up after ``connect_timeout`` seconds instead of hanging.
    """
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    connect_args: dict[str, Any] = {"timeout": connect_timeout}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    if url.startswith("postgresql+asyncpg"):
        connect_args["async_creator_fn"] = _asyncpg_connect
    kwargs["connect_args"] = {**connect_args, **kwargs.get("connect_args", {})}
    return create_async_engine(url, **kwargs)


async def _asyncpg_connect(*args: Any, **kwargs: Any) -> Any:
    """asyncpg.connect, with socket errors turned into a driver error SQLAlchemy wraps.

    A refused, reset or timed-out connect is a plain OSError from asyncpg, which SQLAlchemy
    lets through unwrapped; as a PostgreSQL connection_failure (08006) it becomes a
    ``DBAPIError`` like every other database error, and so a 503 ``DB_UNAVAILABLE``.
    """
    import asyncpg

    try:
        return await asyncpg.connect(*args, **kwargs)
    except OSError as exc:  # TimeoutError is an OSError too
        raise asyncpg.exceptions.ConnectionFailureError(
            f"cannot connect to PostgreSQL: {type(exc).__name__}"
        ) from exc


# Socket errors that mean "the server is not there right now", not a bug.
_UNREACHABLE = (ConnectionError, TimeoutError, socket.gaierror)
_DRIVERS = ("/sqlalchemy/", "/asyncpg/", "/aiosqlite/")


def _raised_in_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if any(d in tb.tb_frame.f_code.co_filename for d in _DRIVERS):
            return True
        tb = tb.tb_next
    return False


def is_db_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached now (retry later), not a bug.

    Covers a server that is down or restarting (connection refused, ``CannotConnectNow``,
    ``AdminShutdown``), a connection dropped under a query (``ConnectionDoesNotExist``,
    SQLAlchemy's invalidated connection), a connect timeout, an exhausted pool, and SQLite's
    "database is locked". Integrity, programming and data errors are bugs: False.
    """
    import asyncpg

    if isinstance(exc, sa_exc.TimeoutError):  # waiting for a pooled connection
        return True
    if isinstance(exc, sa_exc.DBAPIError) and (
        exc.connection_invalidated
        or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
    ):
        return True
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(
            cur,
            asyncpg.exceptions.PostgresConnectionError
            | asyncpg.exceptions.OperatorInterventionError
            | asyncpg.exceptions.ConnectionDoesNotExistError,
        ):
            return True
        if isinstance(cur, _UNREACHABLE) and _raised_in_driver(cur):
            return True
        if isinstance(cur, sa_exc.DBAPIError) and cur.orig is not None:
            cur = cur.orig
            continue
        cur = cur.__cause__ or cur.__context__
    return False


def is_storage_full(exc: BaseException) -> bool:
    """True for "no space left on device" and "disk quota exceeded"."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def session_scope(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with maker() as session:
        yield session
