"""Size and time limits on every request body that is not a capture upload.

Capture uploads (multipart, megabytes) are read as a stream by app/capture/upload.py with
their own per-part limits and timeouts. Every other body (JSON: orders, sessions, webhooks,
consent) is small, and FastAPI would read it whole before validating it: without a limit, a
client could send a gigabyte of JSON, or trickle a few bytes a minute and hold a worker.

This ASGI middleware reads such a body itself, before the app sees it:

- a declared ``Content-Length`` over the limit is refused at once (413), unread;
- a body that grows past the limit while arriving (chunked, or lying) is refused (413);
- a body whose next chunk is later than the idle timeout, or that is not complete within
  the total timeout, is cut off (408).

Refusals close the connection (the rest of the body is not read). The body is then replayed
to the app from memory; after it, ``receive`` is the server's again (disconnect detection).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.core.errors import AppError

log = logging.getLogger("heyan.bodylimit")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROBLEM = "application/problem+json"


class BodyTooLarge(AppError):
    status = 413
    code = "REQUEST_TOO_LARGE"
    zh = "请求内容过大"
    en = "The request body is too large"


class BodyTimeout(AppError):
    status = 408
    code = "REQUEST_TIMEOUT"
    zh = "请求超时,请检查网络后重试"
    en = "The request body was too slow and has been cut off"


class _Disconnected(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        idle_timeout: float,
        total_timeout: float,
        exempt: Callable[[str, str], bool],
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.idle_timeout = idle_timeout
        self.total_timeout = total_timeout
        self.exempt = exempt  # (method, path) -> True for the streaming upload routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = None
        chunked = False
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if (declared is None or declared == b"0") and not chunked:
            # No body (HTTP/1.1 has one only with either header): a poll reads nothing.
            await self.app(scope, receive, send)
            return
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send, BodyTooLarge(extra=self._limit()))
            return
        try:
            body = await self._read(receive)
        except AppError as err:
            await self._refuse(scope, send, err)
            return
        except _Disconnected:
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _limit(self) -> dict[str, Any]:
        return {"max_bytes": self.max_bytes}

    async def _read(self, receive: Receive) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.total_timeout
        chunks: list[bytes] = []
        size = 0
        while True:
            wait = min(self.idle_timeout, max(deadline - loop.time(), 0.0))
            try:
                async with asyncio.timeout(wait):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(
                    extra={
                        "idle_timeout_seconds": self.idle_timeout,
                        "timeout_seconds": self.total_timeout,
                    }
                ) from None
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise BodyTooLarge(extra=self._limit())
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope: Scope, send: Send, err: AppError) -> None:
        log.warning("request body refused: %s on %s", err.code, scope["path"])
        payload = json.dumps(err.problem(instance=scope["path"]), ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": err.status,
                "headers": [
                    (b"content-type", PROBLEM.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def upload_route(method: str, path: str) -> bool:
    """The routes whose multipart bodies app/capture/upload.py streams with its own limits."""
    if method != "POST":
        return False
    return path.startswith("/m/v1/captures/") or path in ("/m/v1/precheck", "/v1/precheck")
