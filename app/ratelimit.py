"""Per-address and per-API-key rate limits (fixed one-minute windows, per process).

A process-local limiter is enough to stop a runaway client at each API process; with N
processes behind a load balancer the effective limit is at most N times the setting.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.errors import AppError


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._windows: dict[str, tuple[int, int]] = {}

    def hit(self, key: str) -> int | None:
        """Count a request; return seconds to wait when over the limit, else None."""
        now = self.clock()
        window = int(now // 60)
        start, count = self._windows.get(key, (window, 0))
        if start != window:
            start, count = window, 0
        count += 1
        self._windows[key] = (start, count)
        if len(self._windows) > 100_000:  # bounded memory under an address sweep
            self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        if count > self.per_minute:
            return int(60 - now % 60) + 1
        return None


def limiter_middleware(
    provider_limit: RateLimiter, address_limit: RateLimiter
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        wait = None
        if path.startswith("/v1/"):
            auth = request.headers.get("authorization", "")
            key = hashlib.sha256(auth.encode()).hexdigest()[:32]
            wait = provider_limit.hit("p:" + key)
        elif path.startswith("/m/"):
            host = request.client.host if request.client else "-"
            wait = address_limit.hit("a:" + host)
        if wait is not None:
            err = AppError(
                code="RATE_LIMITED",
                status=429,
                zh="请求过于频繁,请稍后再试",
                en="Too many requests",
                headers={"Retry-After": str(wait)},
            )
            return JSONResponse(
                err.problem(path), status_code=429, media_type="application/problem+json",
                headers=err.headers,
            )  # fmt: skip
        return await call_next(request)

    return middleware
