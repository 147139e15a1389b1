"""Declarative base with a naming convention, engine factory, session dependency."""

from __future__ import annotations

import errno
import select
import socket
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(
    url: str,
    *,
    schema: str | None = None,
    connect_timeout: float = 5.0,
    pool_size: int = 20,
    max_overflow: int = 0,
    pool_timeout: float = 10.0,
    **kwargs: Any,
) -> AsyncEngine:
    """An async engine; ``schema`` sets PostgreSQL's search_path (tests use a fresh one).

    PostgreSQL: ``pool_size`` connections are kept open (and ``max_overflow`` more for a
    burst), so a busy process reuses them instead of connecting per request; a request
    beyond them waits up to ``pool_timeout`` seconds for one. There is no ping per checkout
    (a round trip on every request): a pooled connection the server has closed (a restart,
    a terminated backend) is recognised without one, by its socket (see
    :func:`_closed_by_server`), and replaced; a connection that dies under a query makes
    SQLAlchemy invalidate the whole pool, so the next requests connect afresh. A new
    connection gives up after ``connect_timeout`` seconds instead of hanging.
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
    kwargs.setdefault("pool_size", pool_size)
    kwargs.setdefault("max_overflow", max_overflow)
    kwargs.setdefault("pool_timeout", pool_timeout)
    connect_args: dict[str, Any] = {"timeout": connect_timeout}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    if url.startswith("postgresql+asyncpg"):
        connect_args["async_creator_fn"] = _asyncpg_connect
    kwargs["connect_args"] = {**connect_args, **kwargs.get("connect_args", {})}
    engine = create_async_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):

        @event.listens_for(engine.sync_engine, "checkout")
        def _replace_closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
            if _closed_by_server(dbapi_conn):
                # The pool discards this one and checks out a fresh connection instead.
                raise sa_exc.DisconnectionError("the server closed this pooled connection")

    return engine


_POLL_FLAGS = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR
_POLL_FLAGS |= getattr(select, "POLLRDHUP", 0)


def _closed_by_server(dbapi_conn: Any) -> bool:
    """True when an idle pooled asyncpg connection was closed by the server: no round trip.

    An idle connection has nothing to read: every reply was consumed before it went back to
    the pool. When the server goes away (restart, crash, ``pg_terminate_backend``) it sends
    a FATAL message and closes the socket, so the socket turns readable (or hung up) and
    stays so until closed; asyncpg marks the connection closed once its loop has seen it.
    Either is checked here with one non-blocking ``poll`` (microseconds), instead of the
    ``SELECT`` round trip of ``pool_pre_ping``. A server that vanished without closing (a
    network partition) is found by the next query instead: 503, and the pool invalidated.
    """
    conn = getattr(dbapi_conn, "driver_connection", None)
    if conn is None or not hasattr(conn, "is_closed"):
        return False
    if conn.is_closed():
        return True
    transport = getattr(conn, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return False
    try:
        poller = select.poll()
        poller.register(sock.fileno(), _POLL_FLAGS)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


async def _asyncpg_connect(*args: Any, **kwargs: Any) -> Any:
    """asyncpg.connect, with socket errors turned into a driver error SQLAlchemy wraps.

    A refused, reset or timed-out connect is a plain OSError from asyncpg, which SQLAlchemy
    lets through unwrapped; as a PostgreSQL connection_failure (08006) it becomes a
    ``DBAPIError`` like every other database error, and so a 503 ``DB_UNAVAILABLE``.
    """
    import asyncpg  # lazy: an SQLite deployment never loads the PostgreSQL driver

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
    import asyncpg  # lazy: an SQLite deployment never loads the PostgreSQL driver

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


class OneRow:
    """A Core read of one row, run as asyncpg's own prepared statement where the engine is
    asyncpg: the hot reads of polling (the API key, an order's version fields, a page).

    SQLAlchemy's execution path (an ``AsyncConnection`` on the greenlet bridge, cursor
    adaptation, result metadata, row processing) costs about as much CPU as the statement
    itself for one small row. Here the statement is compiled once for the engine's dialect;
    a read checks a raw connection out of the engine's pool (one greenlet hop: the pool's
    size, wait, timeout and checkout check are SQLAlchemy's as for every other query) and
    sends it with that connection's asyncpg ``fetchrow``/``fetch`` (asyncpg keeps it
    prepared), outside any transaction: one round trip. Errors keep their meaning: an
    unreachable or lost server is an ``OperationalError`` (503 DB_UNAVAILABLE) and the
    connection is invalidated (closed, not returned to the pool); so is a connection whose
    query was cancelled midway; any other error is raised as it is and the connection goes
    back. Other drivers (SQLite) run the Core statement. Columns must not need result
    processing beyond asyncpg's own (plain strings, numbers, aware timestamps).
    """

    def __init__(self, stmt: Any) -> None:
        self.stmt = stmt
        self._compiled: tuple[Any, str, tuple[str, ...]] | None = None

    def _for(self, dialect: Any) -> tuple[str, tuple[str, ...]]:
        if self._compiled is None or self._compiled[0] is not dialect:
            compiled = self.stmt.compile(dialect=dialect)
            self._compiled = (dialect, str(compiled), tuple(compiled.positiontup or ()))
        return self._compiled[1], self._compiled[2]

    async def first(self, engine: AsyncEngine, params: dict[str, Any]) -> Any:
        """The first row as a mapping (``row["id"]``), or None."""
        if engine.dialect.driver != "asyncpg":
            async with engine.connect() as conn:
                row = (await conn.execute(self.stmt, params)).first()
                return None if row is None else row._mapping
        return await self._raw(engine, params, many=False)

    async def _raw(self, engine: AsyncEngine, params: dict[str, Any], *, many: bool) -> Any:
        sql, names = self._for(engine.dialect)
        args = [params[n] for n in names]
        try:
            fairy = await engine.raw_connection()
        except Exception as exc:
            # A raw checkout's connect errors come unwrapped by SQLAlchemy: wrap them here.
            if isinstance(exc, sa_exc.SQLAlchemyError) or not is_db_unavailable(exc):
                raise
            raise sa_exc.OperationalError(sql, params, exc) from exc
        try:
            conn: Any = fairy.driver_connection
            if many:
                return await conn.fetch(sql, *args, record_class=_record_class())
            return await conn.fetchrow(sql, *args)
        except Exception as exc:
            if not is_db_unavailable(exc):
                raise
            fairy.invalidate(exc)
            raise sa_exc.OperationalError(sql, params, exc) from exc
        except BaseException:
            # Cancelled with the query in flight: the connection is in an unknown state.
            fairy.invalidate()
            raise
        finally:
            fairy.close()  # back to the pool (an invalidated one reconnects when next used)


class Rows(OneRow):
    """:class:`OneRow` for a read of several rows (a page): ``all()`` returns them all."""

    async def all(self, engine: AsyncEngine, params: dict[str, Any]) -> list[Any]:
        """Every row, its columns as attributes (``row.id``) like a SQLAlchemy ``Row``."""
        if engine.dialect.driver != "asyncpg":
            async with engine.connect() as conn:
                return list(await conn.execute(self.stmt, params))
        return list(await self._raw(engine, params, many=True))


_RECORD: type | None = None


def _record_class() -> type:
    """An asyncpg record whose columns are attributes too (``row.id``), made once."""
    global _RECORD
    if _RECORD is None:
        import asyncpg  # lazy: an SQLite deployment never loads the PostgreSQL driver

        class AttrRecord(asyncpg.Record):  # type: ignore[misc]
            __slots__ = ()

            def __getattr__(self, name: str) -> Any:
                try:
                    return self[name]
                except KeyError:
                    raise AttributeError(name) from None

        _RECORD = AttrRecord
    return _RECORD
