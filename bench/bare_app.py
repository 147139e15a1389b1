"""A bare FastAPI app: the ceiling the benchmarks compare Heyan's polling reads with.

    .venv/bin/python -m bench.bare_app --port 8001 --workers 1

It answers ``GET /ping`` with a small JSON body, and is served by uvicorn with exactly the
options of ``python -m app serve`` (app/__main__.py ``uvicorn_options``), so the ratio
Heyan / bare measures what Heyan's own work costs (auth, database read, ETag), not uvicorn.

With ``BARE_DATABASE_URL`` (and optionally ``BARE_DATABASE_SCHEMA``, ``BARE_POOL_SIZE``) set
it also answers ``GET /v1/orders/{id}`` the way the design says a poll can be answered at
best (bench/poll.py): the API key's SHA-256 and the order row by primary key in one indexed
asyncpg read on a pooled connection (one round trip: the pool sends no reset statement when
it takes the connection back), the ETag computed from the row, 304 when If-None-Match
matches, else the row as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response

_POLL = (
    "SELECT o.id, o.version, o.last_event_id, o.updated_at FROM api_keys k "
    "JOIN orders o ON o.provider_id = k.provider_id "
    "WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND o.id = $2"
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    url = os.environ.get("BARE_DATABASE_URL", "")
    if not url:
        yield
        return
    import asyncpg

    class OneTrip(asyncpg.Connection):  # type: ignore[misc]
        """No reset statement when the pool takes a connection back: asyncpg's default
        sends one (``RESET ALL``, ``UNLISTEN *``, …), a second round trip per request,
        and the read leaves no session state to reset. One round trip per poll is the limit
        (Heyan's hot reads send no reset either)."""

        def get_reset_query(self) -> str:
            return ""

    size = int(os.environ.get("BARE_POOL_SIZE", "20"))
    schema = os.environ.get("BARE_DATABASE_SCHEMA", "")
    app.state.pool = await asyncpg.create_pool(
        url.replace("postgresql+asyncpg", "postgresql"),
        min_size=size,
        max_size=size,
        server_settings={"search_path": schema} if schema else None,
        connection_class=OneTrip,
    )
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/ping")
async def ping() -> dict[str, str]:
    """Answer at once."""
    return {"status": "ok"}


@app.get("/v1/orders/{order_id}")
async def poll(order_id: str, request: Request) -> Any:
    """One indexed read (key hash + order by id), the ETag compared: 304 or the row."""
    auth = request.headers.get("authorization", "")
    key_hash = hashlib.sha256(auth.removeprefix("Bearer ").encode()).hexdigest()
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(_POLL, key_hash, order_id)
    if row is None:
        return Response(status_code=404)
    raw = f"1:{row['id']}:{row['version']}:{row['last_event_id']}:{row['updated_at']}"
    etag = '"' + hashlib.sha256(raw.encode()).hexdigest()[:40] + '"'
    if request.headers.get("if-none-match", "") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(
        content=f'{{"id":"{row["id"]}","version":{row["version"]}}}',
        media_type="application/json",
        headers={"ETag": etag},
    )


def main() -> None:
    import uvicorn

    from app.__main__ import uvicorn_options

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bare_app:app",
        app_dir=str(Path(__file__).parent),
        **uvicorn_options(args.host, args.port, args.workers),
    )


if __name__ == "__main__":
    main()
