"""S3-compatible object storage (AWS S3, SeaweedFS, MinIO, Ceph RGW, OSS/COS in S3 mode).

boto3 clients are thread-safe, and every method here blocks: async code calls them through
``asyncio.to_thread`` (or from a worker thread, as the zip and sheet builders do). Network
faults and server errors come out as :class:`StorageUnavailable` after botocore's own
retries, so an endpoint can answer 503 instead of 500; a missing object is FileNotFoundError,
as on the folder backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.storage.base import CHUNK, Source, StorageUnavailable, check_key, iter_source

MiB = 1024 * 1024
# S3 refuses parts under 5 MiB (except the last); 8 MiB is the AWS CLI's default part size.
MIN_PART = 5 * MiB
DEFAULT_PART = 8 * MiB
_MISSING = {"NoSuchKey", "404", "NotFound"}


@cache
def _session() -> Any:
    """One boto3 session per process: it caches the parsed service models (~0.5 s each)."""
    return boto3.session.Session()


@contextmanager
def _errors(op: str, *, on_object: bool = True) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if on_object and code in _MISSING:
            raise FileNotFoundError(f"no such object ({op})") from None
        # Only the operation and S3's code: keys name orders, never people, but stay terse.
        raise StorageUnavailable(f"object store refused {op}: {code or 'error'}") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"object store unreachable ({op}): {type(exc).__name__}") from exc


class S3Storage:
    """Objects under ``s3://bucket/prefix``; big writes go up as multipart uploads."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        sse: str | None = None,
        sse_kms_key_id: str | None = None,
        addressing_style: str = "auto",
        timeout_seconds: float = 10.0,
        max_attempts: int = 4,
        part_size: int = DEFAULT_PART,
        max_pool_connections: int = 32,
    ) -> None:
        if part_size < MIN_PART:
            raise ValueError("S3 multipart parts must be at least 5 MiB")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.part_size = part_size
        self.endpoint_url = endpoint_url or None
        if addressing_style == "auto" and self.endpoint_url:
            # Self-hosted stores (SeaweedFS, MinIO) rarely have wildcard DNS for buckets.
            addressing_style = "path"
        config = Config(
            connect_timeout=min(timeout_seconds, 5.0),
            read_timeout=timeout_seconds,
            # "standard" retries throttling and 5xx with back-off; attempts include the first.
            retries={"mode": "standard", "max_attempts": max_attempts},
            max_pool_connections=max_pool_connections,
            signature_version="s3v4",
            s3={"addressing_style": addressing_style},
            # botocore >= 1.36 adds CRC trailers by default, which several S3-compatible
            # stores reject; send checksums only where the operation requires them.
            request_checksum_calculation="when_required" if self.endpoint_url else "when_supported",
            response_checksum_validation="when_required" if self.endpoint_url else "when_supported",
        )
        # Empty credentials fall through to boto3's chain (AWS_* env, ~/.aws, instance role).
        self.client: Any = _session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=config,
        )
        self._sse: dict[str, str] = {}
        if sse:
            self._sse["ServerSideEncryption"] = sse
            if sse_kms_key_id:
                self._sse["SSEKMSKeyId"] = sse_kms_key_id

    def __repr__(self) -> str:
        return f"S3Storage('s3://{self.bucket}/{self.prefix}', endpoint={self.endpoint_url!r})"

    def object_key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, key: str, data: bytes) -> None:
        k = self.object_key(key)
        with _errors("put"):
            self.client.put_object(Bucket=self.bucket, Key=k, Body=data, **self._sse)

    def put_stream(self, key: str, source: Source) -> int:
        """Upload without holding the whole object: one part (``part_size``) at a time."""
        k = self.object_key(key)
        buf = bytearray()
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []

        def send_part(n: int) -> None:
            nonlocal upload_id, buf
            if upload_id is None:
                with _errors("put"):
                    upload_id = self.client.create_multipart_upload(
                        Bucket=self.bucket, Key=k, **self._sse
                    )["UploadId"]
            # Hand the buffer itself to botocore and start a new one: no copy of the part.
            body, buf = buf, buf[n:]
            del body[n:]
            with _errors("put"):
                r = self.client.upload_part(
                    Bucket=self.bucket, Key=k, UploadId=upload_id,
                    PartNumber=len(parts) + 1, Body=body,
                )  # fmt: skip
            parts.append({"PartNumber": len(parts) + 1, "ETag": r["ETag"]})

        try:
            for piece in iter_source(source, CHUNK * 16):
                buf += piece
                size += len(piece)
                while len(buf) >= self.part_size:
                    send_part(self.part_size)
            if upload_id is None:
                self.put(key, bytes(buf))
                return size
            if buf:
                send_part(len(buf))
            with _errors("put"):
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=k, UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )  # fmt: skip
        except BaseException:
            if upload_id is not None:
                # Abandoned parts are billed and invisible: abort, best effort.
                with suppress(Exception):  # the original error is the one to raise
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=k, UploadId=upload_id
                    )
            raise
        return size

    def get(self, key: str) -> bytes:
        k = self.object_key(key)
        with _errors("get"):
            body = self.client.get_object(Bucket=self.bucket, Key=k)["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
        return data

    def open_stream(self, key: str) -> Iterator[bytes]:
        k = self.object_key(key)
        with _errors("get"):  # FileNotFoundError now, before the first chunk
            body = self.client.get_object(Bucket=self.bucket, Key=k)["Body"]
        return _body_chunks(body)

    def delete(self, key: str) -> None:
        k = self.object_key(key)
        with _errors("delete"):
            self.client.delete_object(Bucket=self.bucket, Key=k)

    def exists(self, key: str) -> bool:
        k = self.object_key(key)
        try:
            with _errors("head"):
                self.client.head_object(Bucket=self.bucket, Key=k)
        except FileNotFoundError:
            return False
        return True

    def list(self, prefix: str) -> Iterator[tuple[str, float]]:
        with _errors("list", on_object=False):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            )
            for page in pages:
                for o in page.get("Contents", []):
                    yield o["Key"][len(self.prefix) :], o["LastModified"].timestamp()

    def ping(self) -> None:
        with _errors("head bucket", on_object=False):  # a missing bucket is not "no file"
            self.client.head_bucket(Bucket=self.bucket)

    def close(self) -> None:
        self.client.close()


def _body_chunks(body: Any) -> Iterator[bytes]:
    try:
        with _errors("get"):
            yield from body.iter_chunks(CHUNK)
    finally:
        body.close()
