"""The request path's middleware: request id, metrics and rate limits as one ASGI layer.

Three ``BaseHTTPMiddleware`` layers used to wrap every request, each with its own task
group and a streamed copy of the response (about a fifth of a poll's time). This is one
plain ASGI callable instead, in the order they had (outermost first):

- the request id: ``X-Request-Id`` from the client (up to 64 characters) or a new one, in
  the logging context (app.core.logs) for everything the request logs, and on the response;
- the latency histogram per method, route template and status (app.core.metrics); a request
  that raises counts as 500;
- the rate limits (app.access.ratelimit): 429 ``RATE_LIMITED`` problem+json with Retry-After.

The body limits (app/core/bodylimit.py) are a plain ASGI layer inside this one, so its 413s and
408s carry a request id, are counted and are rate limited like any other answer.
"""

from __future__ import annotations

import itertools
import os
import time

from app.access.ratelimit import RateLimits
from app.core.bodylimit import ASGIApp, Message, Receive, Scope, Send
from app.core.logs import request_id
from app.core.metrics import observe_request, route_template


class _RequestIds:
    """New request ids: 8 random hex digits drawn once per process, then a counter (16 hex
    digits in all, as before). Unique across processes (the random part) and within one (the
    counter), without a UUID and an ``os.urandom`` system call per request; a request id
    correlates log lines, it is no secret."""

    def __init__(self) -> None:
        self._pid = -1
        self._prefix = ""
        self._count = itertools.count()

    def __call__(self) -> str:
        if self._pid != os.getpid():  # a forked worker draws its own
            self._pid, self._prefix = os.getpid(), os.urandom(4).hex()
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFF:08x}"


new_request_id = _RequestIds()


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        auth = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:64]
            elif name == b"authorization":
                auth = value
        rid = rid or new_request_id()
        rid_header = (b"x-request-id", rid.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        token = request_id.set(rid)
        start = time.perf_counter()
        try:
            client = scope.get("client")
            wait = await self.limits.check(scope["path"], auth, client[0] if client else "-")
            if wait is not None:
                await RateLimits.refusal(scope["path"], wait)(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            observe_request(
                scope["method"], route_template(scope), status, time.perf_counter() - start
            )
            request_id.reset(token)
