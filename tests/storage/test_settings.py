"""STORAGE_URL and the S3 settings: parsing, building, SSE, and failures as 503-able errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings
from app.lifespan import build_storage
from app.storage import (
    EncryptedStorage,
    LocalStorage,
    StorageLocation,
    StorageUnavailable,
    parse_storage_url,
)
from app.storage.s3 import S3Storage
from tests.storage.conftest import s3_storage
from tests.storage.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS

DEFAULT = Path("/srv/heyan/data/materials")


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("", StorageLocation("file", path=DEFAULT)),
        ("/var/lib/heyan", StorageLocation("file", path=Path("/var/lib/heyan"))),
        ("relative/dir", StorageLocation("file", path=Path("relative/dir"))),
        ("file:///var/lib/heyan", StorageLocation("file", path=Path("/var/lib/heyan"))),
        ("file:///var/lib/with%20space", StorageLocation("file", path=Path("/var/lib/with space"))),
        ("s3://heyan-materials", StorageLocation("s3", bucket="heyan-materials", prefix="")),
        (
            "s3://heyan-materials/prod/cn",
            StorageLocation("s3", bucket="heyan-materials", prefix="prod/cn"),
        ),
        (
            "s3://heyan.materials/prod/",
            StorageLocation("s3", bucket="heyan.materials", prefix="prod"),
        ),
    ],
)
def test_storage_url_forms(url: str, want: StorageLocation) -> None:
    assert parse_storage_url(url, DEFAULT) == want


@pytest.mark.parametrize(
    "url",
    ["ftp://host/x", "s3://", "s3://ab", "s3://Upper/x", "s3://bucket/../x", "s3://b_u/x",
     "s3://bucket/x?versionId=1", "file://otherhost/x", "gs://bucket/x"],
)  # fmt: skip
def test_bad_storage_urls_are_refused_at_start(url: str) -> None:
    with pytest.raises(ValueError, match=r"STORAGE_URL|storage key"):
        parse_storage_url(url, DEFAULT)
    with pytest.raises(ValidationError):
        Settings(storage_url=url, app_env="test")


def test_build_storage_picks_the_backend(tmp_path: Path) -> None:
    local = build_storage(Settings(app_env="test", data_dir=tmp_path))
    assert isinstance(local, EncryptedStorage) and isinstance(local.inner, LocalStorage)
    assert local.inner.root == (tmp_path / "materials").resolve()
    other = build_storage(Settings(app_env="test", storage_url=f"file://{tmp_path}/elsewhere"))
    assert isinstance(other.inner, LocalStorage)
    assert other.inner.root == (tmp_path / "elsewhere").resolve()
    s3 = build_storage(
        Settings(
            app_env="test", storage_url="s3://heyan-materials/prod",
            s3_endpoint_url="http://127.0.0.1:9", s3_region="cn-north-1", s3_sse="AES256",
        )
    )  # fmt: skip
    assert isinstance(s3.inner, S3Storage)
    assert (s3.inner.bucket, s3.inner.prefix) == ("heyan-materials", "prod/")
    assert s3.inner.object_key("orders/o/docs/m.jpg") == "prod/orders/o/docs/m.jpg"
    assert s3.inner.client.meta.region_name == "cn-north-1"
    # A self-hosted endpoint gets path-style addressing (no wildcard DNS for buckets).
    assert s3.inner.client.meta.config.s3["addressing_style"] == "path"
    s3.close()


def test_env_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STORAGE_URL", "s3://heyan-env/p")
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("S3_SSE", "aws:kms")
    monkeypatch.setenv("S3_SSE_KMS_KEY_ID", "alias/heyan")
    s = Settings(app_env="test", data_dir=tmp_path)
    assert (s.storage_url, s.s3_endpoint_url, s.s3_sse, s.s3_sse_kms_key_id) == (
        "s3://heyan-env/p", "http://127.0.0.1:9", "aws:kms", "alias/heyan",
    )  # fmt: skip
    monkeypatch.setenv("S3_SSE", "rot13")
    with pytest.raises(ValidationError):
        Settings(app_env="test", data_dir=tmp_path)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_unreachable_store_raises_storage_unavailable() -> None:
    store = S3Storage(
        "heyan-down", endpoint_url=f"http://127.0.0.1:{_closed_port()}", region="us-east-1",
        access_key_id="x", secret_access_key="y", max_attempts=1, timeout_seconds=1,
    )  # fmt: skip
    for call in (
        store.ping,
        lambda: store.put("a/b", b"x"),
        lambda: store.get("a/b"),
        lambda: store.open_stream("a/b"),
        lambda: store.exists("a/b"),
        lambda: store.delete("a/b"),
    ):
        with pytest.raises(StorageUnavailable, match="unreachable"):
            call()
    store.close()


def test_wrong_credentials_or_bucket_are_unavailable(seaweedfs: SeaweedFS) -> None:
    bad = s3_storage(seaweedfs, "creds", secret_access_key="not-the-secret")
    with pytest.raises(StorageUnavailable, match=r"SignatureDoesNotMatch|AccessDenied"):
        bad.put("a/b", b"x")
    with pytest.raises(StorageUnavailable):
        bad.ping()
    no_bucket = S3Storage(
        "heyan-no-such-bucket", endpoint_url=seaweedfs.endpoint, region="us-east-1",
        access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY, max_attempts=1,
    )  # fmt: skip
    with pytest.raises(StorageUnavailable):
        no_bucket.ping()
    bad.close()
    no_bucket.close()


def test_server_side_encryption_is_requested(seaweedfs: SeaweedFS) -> None:
    from tests.storage.test_contract import pattern

    store = s3_storage(seaweedfs, "sse", sse="AES256")
    assert isinstance(store, S3Storage)
    store.put("a/small", b"x" * 100)
    store.put_stream("a/big", pattern(6 * 1024 * 1024))  # multipart
    for key in ("a/small", "a/big"):
        head = store.client.head_object(Bucket=store.bucket, Key=store.object_key(key))
        assert head["ServerSideEncryption"] == "AES256"
    assert store.get("a/small") == b"x" * 100
    plain = s3_storage(seaweedfs, "sse")
    assert isinstance(plain, S3Storage)
    plain.put("a/none", b"x")
    head = plain.client.head_object(Bucket=plain.bucket, Key=plain.object_key("a/none"))
    assert "ServerSideEncryption" not in head
    store.close()
    plain.close()
