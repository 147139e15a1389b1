"""Material storage behind one interface; ``STORAGE_URL`` picks the backend.

- a folder (``/abs/path``, ``relative/path`` or ``file:///abs/path``; the embedded default is
  ``DATA_DIR/materials``): :class:`LocalStorage`;
- ``s3://bucket/prefix`` on any S3-compatible store: :class:`app.storage.s3.S3Storage`
  (imported only when used, so the embedded default never loads boto3).

The app always wraps the backend in :class:`EncryptedStorage`: files are AES-256-GCM
ciphertext whatever the store does (S3 server-side encryption comes on top, not instead).
Pure module: no settings import; app.lifespan.build_storage builds one from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from app.storage.base import CHUNK, Source, Storage, StorageUnavailable, check_key, iter_source
from app.storage.encrypted import EncryptedStorage, purpose_of
from app.storage.local import LocalStorage

__all__ = [
    "CHUNK",
    "EncryptedStorage",
    "LocalStorage",
    "Source",
    "Storage",
    "StorageLocation",
    "StorageUnavailable",
    "check_key",
    "iter_source",
    "parse_storage_url",
    "purpose_of",
]


@dataclass(frozen=True)
class StorageLocation:
    scheme: str  # "file" or "s3"
    path: Path | None = None
    bucket: str = ""
    prefix: str = ""


def parse_storage_url(url: str, default_root: Path) -> StorageLocation:
    """Read STORAGE_URL; empty means ``default_root``. Raises ValueError when it is unusable."""
    url = url.strip()
    if not url:
        return StorageLocation("file", path=default_root)
    parts = urlsplit(url)
    if parts.scheme == "s3":
        bucket = parts.netloc
        # S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens.
        if not (3 <= len(bucket) <= 63) or not all(c.isalnum() or c in ".-" for c in bucket):
            raise ValueError("STORAGE_URL must be s3://bucket/prefix with a valid bucket name")
        if bucket != bucket.lower() or parts.query or parts.fragment:
            raise ValueError("STORAGE_URL must be s3://bucket/prefix with a valid bucket name")
        prefix = parts.path.strip("/")
        if prefix:
            check_key(prefix)
        return StorageLocation("s3", bucket=bucket, prefix=prefix)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError("STORAGE_URL file:// URLs name a local absolute path")
        return StorageLocation("file", path=Path(unquote(parts.path)))
    if parts.scheme:
        raise ValueError(f"STORAGE_URL scheme {parts.scheme!r} is not supported (file, s3)")
    return StorageLocation("file", path=Path(url))
