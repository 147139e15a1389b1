"""Streaming multipart reader with per-part size limits enforced while the bytes arrive.

Starlette's form parser spools a whole file before the endpoint sees it; a capture
endpoint must refuse a 500 MB upload after 4 MB, not after reading it all, refuse a
declared 5 GB body before reading any of it, and cut off a client that trickles its body
(slowloris) instead of letting it hold a worker and its buffers for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.analysis.pipeline import FileTooLarge
from app.core.errors import AppError


class BadUpload(AppError):
    status = 400
    code = "UPLOAD_MALFORMED"
    zh = "上传内容格式有误,请重新上传"
    en = "The upload is not a valid multipart/form-data body"


class UploadTimeout(AppError):
    status = 408
    code = "UPLOAD_TIMEOUT"
    zh = "上传超时,请检查网络后重新上传"
    en = "The upload was too slow and has been cut off"


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytearray = field(default_factory=bytearray)


@dataclass
class Form:
    files: dict[str, list[Part]] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)

    def file(self, name: str) -> Part | None:
        parts = self.files.get(name)
        return parts[0] if parts else None


MAX_FIELD_BYTES = 64 * 1024
# Refusals sent before the body is read to its end close the connection: otherwise the
# server goes on reading (and discarding) what the client still sends, for as long as it
# likes to send it.
CLOSE = {"Connection": "close"}
# A face capture sent as frames has one part per frame (a mini-program frame listener at
# 15-30 fps for a few seconds); bytes stay bounded by the total limit.
MAX_PARTS = 256


async def read_form(
    content_type: str,
    stream: AsyncIterator[bytes],
    *,
    limits: dict[str, int],
    default_limit: int,
    total_limit: int,
    content_length: str | None = None,
    idle_timeout: float | None = None,
    total_timeout: float | None = None,
) -> Form:
    """Parse multipart/form-data; ``limits`` maps a file field name to its byte limit.

    ``content_length`` (the request header) over ``total_limit`` is refused before a byte
    of the body is read. ``idle_timeout`` bounds the wait for each chunk, ``total_timeout``
    the whole body: either raises :class:`UploadTimeout`.
    """
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise BadUpload(zh="请求长度有误", en="Invalid Content-Length") from None
        if declared > total_limit:
            raise FileTooLarge(
                zh=f"文件过大(上限 {total_limit // (1024 * 1024)} MB),请压缩后重新上传",
                en=f"The declared body ({declared} bytes) exceeds {total_limit} bytes",
                extra={"limit_bytes": total_limit},
                headers=CLOSE,
            )
    ctype, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise BadUpload(
            zh="请以 multipart/form-data 格式上传文件", en="Expected multipart/form-data"
        )

    form = Form()
    state: dict[str, Any] = {"headers": {}, "field": b"", "value": b""}
    current: list[Part] = []
    total = 0

    def on_part_begin() -> None:
        state["headers"] = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] = bytes(state["field"]) + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] = bytes(state["value"]) + data[start:end]

    def on_header_end() -> None:
        headers = state["headers"]
        assert isinstance(headers, dict)
        headers[bytes(state["field"]).lower()] = bytes(state["value"])
        state["field"] = b""
        state["value"] = b""

    def on_headers_finished() -> None:
        headers = state["headers"]
        assert isinstance(headers, dict)
        _, opts = parse_options_header(headers.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts.get(b"filename")
        ctype_raw = headers.get(b"content-type")
        part = Part(
            name=name,
            filename=filename.decode("utf-8", "replace") if filename is not None else None,
            content_type=ctype_raw.decode("latin-1") if ctype_raw else None,
        )
        current.append(part)
        if len(current) > MAX_PARTS:
            raise BadUpload(zh="上传的文件数量过多", en="Too many parts")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = current[-1]
        part.data += data[start:end]
        if part.filename is None:
            if len(part.data) > MAX_FIELD_BYTES:
                raise BadUpload(zh="表单字段过长", en=f"Field {part.name} is too long")
            return
        limit = limits.get(part.name, default_limit)
        if len(part.data) > limit:
            raise FileTooLarge(
                zh=f"文件过大(上限 {limit // (1024 * 1024)} MB),请压缩后重新上传",
                en=f"{part.name} exceeds {limit} bytes",
                extra={"limit_bytes": limit, "field": part.name},
                headers=CLOSE,
            )

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
        },
    )
    try:
        async for chunk in _timed(stream, idle_timeout, total_timeout):
            total += len(chunk)
            if total > total_limit:
                raise FileTooLarge(extra={"limit_bytes": total_limit}, headers=CLOSE)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise BadUpload() from exc

    for part in current:
        if part.filename is None:
            form.fields[part.name] = part.data.decode("utf-8", "replace")
        else:
            form.files.setdefault(part.name, []).append(part)
    return form


async def _timed(
    stream: AsyncIterator[bytes], idle: float | None, total: float | None
) -> AsyncIterator[bytes]:
    """Yield the stream's chunks; raise UploadTimeout when one is late or the body is."""
    loop = asyncio.get_running_loop()
    deadline = None if total is None else loop.time() + total
    it = aiter(stream)
    while True:
        wait = idle
        if deadline is not None:
            left = max(deadline - loop.time(), 0.0)
            wait = left if wait is None else min(wait, left)
        try:
            async with asyncio.timeout(wait):
                chunk = await anext(it)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise UploadTimeout(
                extra={"idle_timeout_seconds": idle, "timeout_seconds": total}, headers=CLOSE
            ) from None
        yield chunk
