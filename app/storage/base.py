"""The storage interface every backend implements, and the rules for keys."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO, Protocol

# Streams move in pieces of this size: small enough to keep memory flat, large enough that
# the per-piece overhead (a syscall, an AEAD record) does not matter.
CHUNK = 64 * 1024

Source = Iterable[bytes] | BinaryIO

_BAD_KEY = re.compile(r"[\x00-\x1f\x7f\\]")


class StorageUnavailable(Exception):
    """The object store cannot be reached or answers with a server error (retry later)."""


def check_key(key: str) -> str:
    """Refuse keys that could leave the storage root or mean different things per backend.

    A key is a relative, slash-separated path of plain segments: no leading slash, no empty,
    ``.`` or ``..`` segment, no backslash or control character. The same rule for the folder
    and S3, so a key that works on one backend works on the other.
    """
    if not key or len(key.encode()) > 900 or key.startswith("/") or _BAD_KEY.search(key):
        raise ValueError("storage key escapes the root or is malformed")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError("storage key escapes the root or is malformed")
    return key


def iter_source(source: Source, chunk: int = CHUNK) -> Iterator[bytes]:
    """Pieces of a byte source: a binary file object (read in ``chunk`` pieces) or an iterable."""
    read = getattr(source, "read", None)
    if read is not None:
        while piece := read(chunk):
            yield bytes(piece)
        return
    for piece in source:
        if piece:
            yield bytes(piece)


class Storage(Protocol):
    """Material files by key. Small files as bytes; big ones as streams of chunks.

    ``get`` and ``open_stream`` raise FileNotFoundError for a missing key (``open_stream``
    at once, before the first chunk, so an endpoint can still answer 404); ``delete`` of a
    missing key is not an error; every method raises ValueError for a malformed key.
    """

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def put_stream(self, key: str, source: Source) -> int: ...
    def open_stream(self, key: str) -> Iterator[bytes]: ...
    def list(self, prefix: str) -> Iterator[tuple[str, float]]:
        """(key, last-modified POSIX time) of every file under ``prefix``, in no set order;
        on a folder also the temp files of writes that never finished (``.tmp-*``)."""
        ...

    def ping(self) -> None: ...
    def close(self) -> None: ...
