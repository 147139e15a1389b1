"""Files under a root folder: the embedded default."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from app.storage.base import CHUNK, Source, StorageUnavailable, check_key, iter_source


class LocalStorage:
    """Files under a root folder; writes are atomic (temp file + fsync + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        # check_key already refuses `..`; this also refuses a symlink pointing outside.
        if not path.is_relative_to(self.root):
            raise ValueError("storage key escapes the root or is malformed")
        return path

    def _write(self, key: str, pieces: Iterable[bytes]) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                for piece in pieces:
                    fh.write(piece)
                    size += len(piece)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size

    def put(self, key: str, data: bytes) -> None:
        self._write(key, [data])

    def put_stream(self, key: str, source: Source) -> int:
        return self._write(key, iter_source(source))

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def open_stream(self, key: str) -> Iterator[bytes]:
        fh = self._path(key).open("rb")  # FileNotFoundError now, not at the first chunk
        return _read_chunks(fh)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[tuple[str, float]]:
        top = self.root / prefix.strip("/") if prefix.strip("/") else self.root
        for folder, _dirs, names in os.walk(top):
            for name in names:
                path = Path(folder) / name
                with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                    yield path.relative_to(self.root).as_posix(), path.stat().st_mtime

    def ping(self) -> None:
        if not (self.root.is_dir() and os.access(self.root, os.W_OK | os.X_OK)):
            raise StorageUnavailable(f"{self.root} is not a writable folder")

    def close(self) -> None:
        return None


def _read_chunks(fh: BinaryIO) -> Iterator[bytes]:
    with fh:
        while piece := fh.read(CHUNK):
            yield piece
