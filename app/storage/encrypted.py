"""Encryption of material files on top of any backend (AES-256-GCM, app.security.crypto keyrings).

Two formats, both readable for ever:

- ``HYE1`` (``put``, small files): ``HYE1 | len(kid) | kid | nonce | ciphertext | tag``, one
  GCM message with the storage key as associated data (app.security.crypto.Keyring.seal_file).
- ``HYE2`` (``put_stream``, big files): a header ``HYE2 | len(kid) | kid | chunk size (u32)``,
  then records ``nonce | ciphertext | tag`` of ``chunk size`` plaintext bytes each (the last
  one may be shorter, even empty). Record *i* is authenticated with ``header | key | 0x00 |
  i (u64) | final (u8)``: a record cannot move to another file or position, and cutting the
  file after any record fails, because only the last record was sealed with final = 1.
  The reader holds one record at a time, so streams are never buffered whole.

Faces use their own keyring (``purpose_of``); the kid in the header picks the key to read.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterable, Iterator

from app.security import crypto
from app.storage.base import CHUNK, Source, Storage, iter_source

STREAM_MAGIC = b"HYE2"
_NONCE, _TAG = 12, 16
_MIN_CHUNK, _MAX_CHUNK = 1024, 16 * 1024 * 1024


def purpose_of(key: str) -> str:
    """Biometric files live under a `faces/` folder and use the face keyring."""
    return "faces" if "/faces/" in key else "documents"


def _header(kid: str, chunk: int) -> bytes:
    k = kid.encode()
    return STREAM_MAGIC + bytes([len(k)]) + k + chunk.to_bytes(4, "big")


def _aad(header: bytes, key: str, index: int, final: bool) -> bytes:
    return header + key.encode() + b"\0" + index.to_bytes(8, "big") + (b"\1" if final else b"\0")


def seal_stream(
    ring: crypto.Keyring, key: str, pieces: Iterable[bytes], chunk: int = CHUNK
) -> Iterator[bytes]:
    """Encrypt a stream of plaintext pieces into the HYE2 format, one record at a time."""
    kid = ring.current_kid
    header = _header(kid, chunk)
    yield header
    buf = bytearray()
    index = 0

    def record(final: bool) -> bytes:
        n = min(len(buf), chunk)
        with memoryview(buf) as view:
            plain = bytes(view[:n])
        del buf[:n]
        used, blob = ring.encrypt(plain, _aad(header, key, index, final))
        if used != kid:  # the keyring was swapped mid-stream: never mix keys in one file
            raise crypto.KeyError_("data key changed while writing a stream")
        return blob

    for piece in pieces:
        buf += piece
        # Strictly more than one chunk: only then is it sure this record is not the last.
        while len(buf) > chunk:
            yield record(final=False)
            index += 1
    yield record(final=True)


def _need(buf: bytearray, it: Iterator[bytes], n: int) -> bool:
    """Read from ``it`` until ``buf`` holds more than ``n`` bytes; False at the end."""
    while len(buf) <= n:
        piece = next(it, None)
        if piece is None:
            return False
        buf += piece
    return True


def open_stream_records(key: str, pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Decrypt an HYE2 stream; raises crypto.KeyError_ on any tampering or truncation."""
    it = iter(pieces)
    buf = bytearray()
    _need(buf, it, 4)
    if not buf.startswith(STREAM_MAGIC) or len(buf) < 5:
        raise crypto.KeyError_("not an encrypted Heyan stream")
    head_len = 5 + buf[4] + 4
    if not _need(buf, it, head_len - 1):
        raise crypto.KeyError_("truncated encrypted stream")
    header = bytes(buf[:head_len])
    del buf[:head_len]
    kid = header[5:-4].decode()
    chunk = int.from_bytes(header[-4:], "big")
    if not _MIN_CHUNK <= chunk <= _MAX_CHUNK:
        raise crypto.KeyError_("encrypted stream has an invalid chunk size")
    ring = crypto.keyring(purpose_of(key))
    size = _NONCE + chunk + _TAG
    index = 0
    while _need(buf, it, size):  # more than one record left: this one is not the last
        with memoryview(buf) as view:
            blob = bytes(view[:size])
        del buf[:size]
        yield ring.decrypt(kid, blob, _aad(header, key, index, False))
        index += 1
    if len(buf) < _NONCE + _TAG:
        raise crypto.KeyError_("truncated encrypted stream")
    yield ring.decrypt(kid, bytes(buf), _aad(header, key, index, True))


def _kid_of(head: bytes) -> str | None:
    if len(head) < 5 or not head.startswith((crypto.FILE_MAGIC, STREAM_MAGIC)):
        return None
    return head[5 : 5 + head[4]].decode(errors="replace")


def _close(it: Iterator[bytes]) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()


class EncryptedStorage:
    """Encrypts every file with AES-256-GCM; the storage key is bound in as associated data."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    def __repr__(self) -> str:
        return f"EncryptedStorage({self.inner!r})"

    def put(self, key: str, data: bytes) -> None:
        self.inner.put(key, crypto.keyring(purpose_of(key)).seal_file(data, key))

    def put_stream(self, key: str, source: Source) -> int:
        """Encrypt and upload a stream (HYE2) without holding it whole; return its size."""
        size = 0

        def counted() -> Iterator[bytes]:
            nonlocal size
            for piece in iter_source(source):
                size += len(piece)
                yield piece

        ring = crypto.keyring(purpose_of(key))
        self.inner.put_stream(key, seal_stream(ring, key, counted()))
        return size

    def get(self, key: str) -> bytes:
        raw = self.inner.get(key)
        if raw.startswith(STREAM_MAGIC):
            return b"".join(open_stream_records(key, [raw]))
        return crypto.keyring(purpose_of(key)).open_file(raw, key)

    def open_stream(self, key: str) -> Iterator[bytes]:
        """Decrypted chunks. The first one is decrypted before returning, so a missing file,
        an unknown key id or a wrong format fails here rather than halfway through a response.
        """
        raw = self.inner.open_stream(key)
        try:
            buf = bytearray()
            _need(buf, raw, 3)
            rest = itertools.chain([bytes(buf)], raw)
            if buf.startswith(STREAM_MAGIC):
                plain = open_stream_records(key, rest)
            else:
                # HYE1 is one GCM message: it can only be checked whole (small files only).
                data = crypto.keyring(purpose_of(key)).open_file(b"".join(rest), key)
                plain = (data[i : i + CHUNK] for i in range(0, len(data), CHUNK))
            first = next(plain, None)
        except BaseException:
            _close(raw)
            raise
        return iter(()) if first is None else itertools.chain([first], plain)

    def get_raw(self, key: str) -> bytes:
        return self.inner.get(key)

    def put_raw(self, key: str, data: bytes) -> None:
        self.inner.put(key, data)

    def _raw_head(self, key: str) -> bytes:
        """The first bytes of a stored file (enough for any header), read without the rest."""
        raw = self.inner.open_stream(key)
        head = bytearray()
        try:
            _need(head, raw, 5 + 255 + 4)
        finally:
            _close(raw)
        return bytes(head)

    def raw_kid(self, key: str) -> str | None:
        """The key id a stored file is encrypted under (None if it is not encrypted)."""
        return _kid_of(self._raw_head(key))

    def reencrypt(self, key: str) -> bool:
        """Rewrite a file under the newest key of its keyring; False if it already is."""
        ring = crypto.keyring(purpose_of(key))
        head = self._raw_head(key)
        if _kid_of(head) == ring.current_kid:
            return False
        if head.startswith(STREAM_MAGIC):
            # Decrypt to a spooled temp file first: never read and overwrite one object at once.
            with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as tmp:
                for piece in self.open_stream(key):
                    tmp.write(piece)
                tmp.seek(0)
                self.put_stream(key, tmp)
        else:
            self.put(key, self.get(key))
        return True

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def list(self, prefix: str) -> Iterator[tuple[str, float]]:
        return self.inner.list(prefix)

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()
