"""The storage contract, run against both backends: a folder and S3 (SeaweedFS)."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from app.storage import CHUNK, LocalStorage, Storage
from app.storage.s3 import MIN_PART, S3Storage

MiB = 1024 * 1024


def pattern(total: int, piece: int = MiB) -> Iterator[bytes]:
    """The same ``total`` bytes whatever the piece size (1 MiB blocks, each its own hash)."""

    def block(j: int) -> bytes:
        return hashlib.sha256(j.to_bytes(8, "big")).digest() * (MiB // 32)

    for start in range(0, total, piece):
        end = min(start + piece, total)
        out = bytearray()
        pos = start
        while pos < end:
            j, off = divmod(pos, MiB)
            take = min(MiB - off, end - pos)
            out += block(j)[off : off + take]
            pos += take
        yield bytes(out)


def digest(pieces: Iterator[bytes]) -> tuple[str, int, int]:
    """(sha256, size, largest piece) of a stream, consumed piece by piece."""
    h = hashlib.sha256()
    size = largest = 0
    for p in pieces:
        h.update(p)
        size += len(p)
        largest = max(largest, len(p))
    return h.hexdigest(), size, largest


def raw_objects(storage: Storage) -> list[str]:
    """Every object or file the backend holds under its root / prefix (temp files too)."""
    if isinstance(storage, LocalStorage):
        return sorted(
            str(p.relative_to(storage.root)) for p in storage.root.rglob("*") if p.is_file()
        )
    assert isinstance(storage, S3Storage)
    pages = storage.client.get_paginator("list_objects_v2").paginate(
        Bucket=storage.bucket, Prefix=storage.prefix
    )
    return sorted(
        o["Key"][len(storage.prefix) :] for page in pages for o in page.get("Contents", [])
    )


def test_put_get_exists_delete(backend: Storage) -> None:
    key = "orders/o1/docs/m1.jpg"
    assert not backend.exists(key)
    backend.put(key, b"first")
    assert backend.exists(key)
    assert backend.get(key) == b"first"
    backend.put(key, b"second, longer")
    assert backend.get(key) == b"second, longer"
    backend.put("orders/o1/faces/m2.jpg", b"")
    assert backend.get("orders/o1/faces/m2.jpg") == b""
    assert raw_objects(backend) == ["orders/o1/docs/m1.jpg", "orders/o1/faces/m2.jpg"]
    backend.delete(key)
    assert not backend.exists(key)
    backend.delete(key)  # deleting what is gone is not an error
    assert raw_objects(backend) == ["orders/o1/faces/m2.jpg"]
    backend.ping()


def test_missing_key_is_file_not_found(backend: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        backend.get("orders/none/docs/x.jpg")
    # At once, not at the first chunk: an endpoint can still answer 404.
    with pytest.raises(FileNotFoundError):
        backend.open_stream("orders/none/docs/x.jpg")
    assert not backend.exists("orders/none/docs/x.jpg")


BAD_KEYS = ["../escape", "orders/../../escape", "/etc/passwd", "", "a//b", "a/./b", "a/b/..",
            "a\\..\\b", "a\x00b", "a\nb", "x" * 1000]  # fmt: skip


@pytest.mark.parametrize("key", BAD_KEYS)
def test_key_escape_rejected(backend: Storage, key: str) -> None:
    calls: list[Any] = [
        lambda: backend.put(key, b"x"),
        lambda: backend.put_stream(key, [b"x"]),
        lambda: backend.get(key),
        lambda: backend.open_stream(key),
        lambda: backend.exists(key),
        lambda: backend.delete(key),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="storage key"):
            call()
    assert raw_objects(backend) == []


def test_local_refuses_a_symlink_out_of_the_root(tmp_path: Any) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    storage = LocalStorage(tmp_path / "root")
    (storage.root / "orders").symlink_to(outside)
    with pytest.raises(ValueError, match="storage key"):
        storage.put("orders/x.jpg", b"x")
    assert not list(outside.iterdir())


def test_streams_round_trip(backend: Storage) -> None:
    pieces = [b"a", b"bc" * 1000, bytes(range(256)) * 300, b"", b"z" * (CHUNK + 5)]
    want = b"".join(pieces)
    assert backend.put_stream("s/iterable.bin", iter(pieces)) == len(want)
    assert backend.get("s/iterable.bin") == want
    chunks = list(backend.open_stream("s/iterable.bin"))
    assert b"".join(chunks) == want
    assert max(len(c) for c in chunks) <= CHUNK
    # A binary file object is read in pieces too.
    assert backend.put_stream("s/file.bin", io.BytesIO(want)) == len(want)
    assert b"".join(backend.open_stream("s/file.bin")) == want
    # The empty stream is an empty object.
    assert backend.put_stream("s/empty.bin", iter([])) == 0
    assert backend.exists("s/empty.bin")
    assert backend.get("s/empty.bin") == b""
    assert list(backend.open_stream("s/empty.bin")) == []


def test_large_object_goes_up_in_parts(backend: Storage) -> None:
    total = 2 * MIN_PART + MiB + 12345  # three parts on S3 (5 MiB parts in these tests)
    want, _, _ = digest(pattern(total))
    assert backend.put_stream("big/object.bin", pattern(total, piece=300_000)) == total
    got, size, largest = digest(backend.open_stream("big/object.bin"))
    assert (got, size) == (want, total)
    assert largest <= CHUNK
    if isinstance(backend, S3Storage):
        head = backend.client.head_object(
            Bucket=backend.bucket, Key=backend.object_key("big/object.bin"), PartNumber=1
        )
        assert head["PartsCount"] == 3
        assert head["ContentLength"] == MIN_PART  # part 1 alone
    # Small objects stay single requests.
    backend.put_stream("big/small.bin", pattern(MiB))
    if isinstance(backend, S3Storage):
        head = backend.client.head_object(
            Bucket=backend.bucket, Key=backend.object_key("big/small.bin"), PartNumber=1
        )
        assert head.get("PartsCount", 1) == 1


def test_failed_stream_leaves_the_old_object(backend: Storage) -> None:
    backend.put("f/object.bin", b"version 1")

    def broken() -> Iterator[bytes]:
        yield from pattern(MIN_PART + MiB)  # far enough for S3 to have sent a part
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError, match="client went away"):
        backend.put_stream("f/object.bin", broken())
    with pytest.raises(RuntimeError, match="client went away"):
        backend.put_stream("f/new.bin", broken())
    assert backend.get("f/object.bin") == b"version 1"
    assert not backend.exists("f/new.bin")
    assert raw_objects(backend) == ["f/object.bin"]  # no temp file left behind
    if isinstance(backend, S3Storage):
        # The multipart uploads were aborted, not left to be billed.
        uploads = backend.client.list_multipart_uploads(
            Bucket=backend.bucket, Prefix=backend.prefix
        )
        assert not uploads.get("Uploads")


def test_streams_do_not_buffer_whole_objects(backend: Storage) -> None:
    total = 24 * MiB
    tracemalloc.start()
    try:
        backend.put_stream("mem/object.bin", pattern(total, piece=CHUNK))
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        _, size, _ = digest(backend.open_stream("mem/object.bin"))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == total
    # S3 holds one part (5 MiB here) and a piece; the folder a piece.
    assert write_peak < 8 * MiB, write_peak
    assert read_peak < 2 * MiB, read_peak


def test_list_names_every_file_under_a_prefix(backend: Storage) -> None:
    import time

    before = time.time() - 120  # S3 servers' clocks round to the second
    keys = {"orders/a/docs/1.jpg", "orders/a/docs/2.jpg", "orders/b/faces/3.jpg", "other/x"}
    for k in keys:
        backend.put(k, b"x")
    listed = dict(backend.list("orders/"))
    assert set(listed) == keys - {"other/x"}
    assert all(t > before for t in listed.values())
    assert set(dict(backend.list("orders/a/"))) == {"orders/a/docs/1.jpg", "orders/a/docs/2.jpg"}
    assert list(backend.list("nothing/")) == []
