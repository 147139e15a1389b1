"""The encryption layer on both backends: both file formats, streaming, tampering, rotation."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import pytest

from app.security import crypto
from app.storage import CHUNK, EncryptedStorage, LocalStorage, Storage
from app.storage.encrypted import STREAM_MAGIC
from app.storage.s3 import S3Storage
from tests.storage.test_contract import MiB, digest, pattern

pytestmark = pytest.mark.usefixtures("test_keys")

DOC = "orders/o1/docs/m1.jpg"
FACE = "orders/o1/faces/m2.jpg"
SECRET = b"\xff\xd8\xff\xe0 JFIF ID 441201199003074015 " * 50


def record_size() -> int:
    return 12 + CHUNK + 16


def test_put_and_get_whole_file_format(backend: Storage) -> None:
    enc = EncryptedStorage(backend)
    enc.put(DOC, SECRET)
    raw = backend.get(DOC)
    assert raw.startswith(crypto.FILE_MAGIC)
    assert b"441201199003074015" not in raw and b"JFIF" not in raw
    assert enc.get(DOC) == SECRET
    # Old (whole-file) files read as streams too.
    assert b"".join(enc.open_stream(DOC)) == SECRET
    assert enc.raw_kid(DOC) == "t1"
    enc.put(FACE, SECRET)
    assert enc.raw_kid(FACE) == "f1"  # faces under their own keyring


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17, 200_000]
)
def test_stream_format_round_trip(backend: Storage, size: int) -> None:
    enc = EncryptedStorage(backend)
    data = (SECRET * (size // len(SECRET) + 1))[:size]
    # Odd piece sizes: records do not follow the writer's pieces.
    pieces = [data[i : i + 7777] for i in range(0, size, 7777)]
    assert enc.put_stream(DOC, iter(pieces)) == size
    raw = backend.get(DOC)
    assert raw.startswith(STREAM_MAGIC)
    assert b"441201199003074015" not in raw
    records = max(1, -(-size // CHUNK))
    assert len(raw) == 5 + 2 + 4 + size + records * 28
    assert b"".join(enc.open_stream(DOC)) == data
    assert enc.get(DOC) == data


def _tampered(enc: EncryptedStorage, backend: Storage, raw: bytes) -> None:
    backend.put(DOC, raw)
    with pytest.raises(crypto.KeyError_):
        b"".join(enc.open_stream(DOC))
    with pytest.raises(crypto.KeyError_):
        enc.get(DOC)


def test_stream_tampering_is_detected(tmp_path: Path) -> None:
    backend = LocalStorage(tmp_path / "root")
    enc = EncryptedStorage(backend)
    data = SECRET * 500  # several records
    enc.put_stream(DOC, [data])
    raw = backend.get(DOC)
    head, r = 11, record_size()
    body = raw[head:]
    records = [body[i : i + r] for i in range(0, len(body), r)]
    assert len(records) >= 3
    flipped = bytearray(raw)
    flipped[head + r + 40] ^= 1
    _tampered(enc, backend, bytes(flipped))  # a changed byte
    _tampered(enc, backend, raw[:-1])  # the last record cut short
    _tampered(enc, backend, raw[: head + r])  # whole trailing records dropped
    _tampered(enc, backend, raw[:head] + records[1] + records[0] + b"".join(records[2:]))
    _tampered(enc, backend, raw[:head])  # header only
    _tampered(enc, backend, raw[:7])  # cut inside the header
    bigger = raw[:7] + (2 * CHUNK).to_bytes(4, "big") + body  # the chunk size is bound too
    _tampered(enc, backend, bigger)
    # A file moved to another key does not open there (the key is associated data).
    backend.put("orders/o1/docs/other.jpg", raw)
    with pytest.raises(crypto.KeyError_):
        enc.get("orders/o1/docs/other.jpg")
    backend.put(DOC, raw)
    assert enc.get(DOC) == data


def test_open_stream_fails_before_the_first_byte(
    backend: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    enc = EncryptedStorage(backend)
    enc.put_stream(DOC, [SECRET * 100])
    enc.put(FACE, SECRET)
    # A keyring without the file's key: open_stream itself raises, not the first next().
    other = crypto.Keyring("documents", crypto.parse_keys(crypto.new_key_spec("t2")))
    monkeypatch.setitem(crypto._KEYRINGS, "documents", other)
    with pytest.raises(crypto.KeyError_):
        enc.open_stream(DOC)
    backend.put(FACE, b"plain bytes, never encrypted")
    with pytest.raises(crypto.KeyError_):
        enc.open_stream(FACE)


def test_reencrypt_both_formats(backend: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    enc = EncryptedStorage(backend)
    big = SECRET * 300
    enc.put_stream(DOC, [big])
    enc.put("orders/o1/docs/small.jpg", SECRET)
    assert not enc.reencrypt(DOC)
    ring = crypto.keyring("documents")
    rotated = crypto.Keyring("documents", ring.keys + crypto.parse_keys(crypto.new_key_spec("t3")))
    monkeypatch.setitem(crypto._KEYRINGS, "documents", rotated)
    assert enc.reencrypt(DOC) and enc.reencrypt("orders/o1/docs/small.jpg")
    assert enc.raw_kid(DOC) == enc.raw_kid("orders/o1/docs/small.jpg") == "t3"
    assert backend.get(DOC).startswith(STREAM_MAGIC)
    assert enc.get(DOC) == big and enc.get("orders/o1/docs/small.jpg") == SECRET
    assert not enc.reencrypt(DOC)


def test_encrypted_streams_stay_small_in_memory(backend: Storage) -> None:
    enc = EncryptedStorage(backend)
    total = 24 * MiB
    want, _, _ = digest(pattern(total))
    tracemalloc.start()
    try:
        assert enc.put_stream(DOC, pattern(total, piece=CHUNK)) == total
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        got, size, _ = digest(enc.open_stream(DOC))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (got, size) == (want, total)
    assert write_peak < 8 * MiB, write_peak
    assert read_peak < 2 * MiB, read_peak
    if isinstance(backend, S3Storage):
        head = backend.client.head_object(
            Bucket=backend.bucket, Key=backend.object_key(DOC), PartNumber=1
        )
        assert head["PartsCount"] == 5  # 24 MiB + records' overhead in 5 MiB parts
    raw = hashlib.sha256()
    for piece in backend.open_stream(DOC):
        raw.update(piece)
    assert raw.hexdigest() != want
